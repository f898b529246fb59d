/**
 * Child process of rotation-crash.test.ts: a DocStore on a real LevelDB (fsync) that rotates
 * `owp/ledger` at every compaction (every 20 updates) while it writes a sliding window of
 * keys: update n sets `k<n>`, deletes `k<n-10>` and sets `meta.n`. Prints `n <n>` once n is
 * on disk, forever, until killed.
 */
import { join } from 'node:path';
import { LEDGER_DOC } from '../../../shared/protocol.js';
import { openStore } from '../../../server/store/index.js';
import { DocStore } from '../../../server/sync/docstore.js';

const store = await openStore(join(process.argv[2]!, 'db'));
const docs = new DocStore(store, { compactEvery: 20, compactSizeFactor: 0 });
await docs.get(LEDGER_DOC);
docs.enableRotation({ docs: [LEDGER_DOC], minGarbageBytes: 0, garbageFactor: 0 });
let n = Number(docs.peek(LEDGER_DOC)!.getMap('meta').get('n') ?? 0);
for (;;) {
  n++;
  // The current generation, taken synchronously: a rotation swaps it between awaits.
  const doc = docs.peek(LEDGER_DOC)!;
  const tasks = doc.getMap<number>('tasks');
  doc.transact(() => {
    tasks.set(`k${n}`, n);
    tasks.delete(`k${n - 10}`);
    doc.getMap('meta').set('n', n);
  }, 'relay');
  await docs.whenPersisted(LEDGER_DOC);
  process.stdout.write(`n ${n} gen ${docs.generation(LEDGER_DOC)}\n`);
}
