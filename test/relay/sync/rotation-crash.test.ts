/**
 * Rotation is atomic on disk, proven with real crashes: a child process (rotate-child.ts)
 * writes and rotates `owp/ledger` on a real LevelDB and gets `kill -9` at arbitrary points,
 * several times. After each restart the document is exactly one generation: every write the
 * child reported is there, the sliding window has exactly its ten keys (an old log replayed
 * over a new snapshot would add keys back), and no client id of a retired generation is in it.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { LEDGER_DOC } from '../../../shared/protocol.js';
import { openStore } from '../../../server/store/index.js';
import { DocStore } from '../../../server/sync/docstore.js';
import { removeDir, tempDir, waitFor } from '../../helpers/sync-harness.js';

const CHILD = fileURLToPath(new URL('./rotate-child.ts', import.meta.url));
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await removeDir(d);
});

/** Run the child until it reported `more` further writes past `from`, then kill -9 it. */
async function runAndKill(dir: string, from: number, more: number): Promise<number> {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += String(d)));
  proc.stderr.on('data', (d) => (out += String(d)));
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  const last = () => Number(/n (\d+) gen \d+\n$/.exec(out)?.[1] ?? 0);
  try {
    await waitFor(() => last() >= from + more || proc.exitCode !== null, 30_000, 'the child to write');
    expect(proc.exitCode, out.slice(-2000)).toBeNull();
  } finally {
    proc.kill('SIGKILL');
    await exited;
  }
  return Math.max(last(), Number(/n (\d+) gen \d+\n$/.exec(out)?.[1] ?? 0));
}

describe('rotation crash safety', () => {
  it('kill -9 at arbitrary points leaves exactly one generation, with every reported write', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    let reported = 0;
    let generation = 0;
    // Each round writes a different number of updates (rotations every 20): kills land
    // before, in and after rotations.
    for (const more of [37, 53, 71, 29, 61]) {
      reported = await runAndKill(dir, reported, more);
      const store = await openStore(join(dir, 'db'));
      const docs = new DocStore(store);
      try {
        const doc = await docs.get(LEDGER_DOC);
        const n = Number(doc.getMap('meta').get('n'));
        expect(n).toBeGreaterThanOrEqual(reported);
        const keys = [...doc.getMap('tasks').keys()].sort();
        const window = Array.from({ length: Math.min(10, n) }, (_, i) => `k${n - i}`).sort();
        expect(keys).toEqual(window);
        expect(docs.generation(LEDGER_DOC)).toBeGreaterThan(generation);
        generation = docs.generation(LEDGER_DOC);
        expect(docs.staleClients(LEDGER_DOC, Y.encodeStateVector(doc))).toEqual([]);
        reported = n;
      } finally {
        await docs.close();
        await store.close();
      }
    }
  });
});
