/**
 * Compaction off the event loop (server/sync/snapshot-encoder.ts, doc-compaction.ts): a large
 * doc's snapshot is the stored snapshot with the log applied, encoded by a worker thread. It
 * reads back as the same doc (content and state vector), it covers only the updates logged
 * before the compaction was queued (later ones stay in the log), and without a worker the
 * encoder gives the same result in process.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { openStore, type Store } from '../../../server/store/index.js';
import { DocStore, docKeyPrefix, docSnapKey } from '../../../server/sync/docstore.js';
import { GENESIS, rebuildDoc, rotationDue } from '../../../server/sync/rotation.js';
import { SnapshotEncoder } from '../../../server/sync/snapshot-encoder.js';
import { freshSize, nextGeneration, SnapshotWork } from '../../../server/sync/snapshot-work.js';
import { REPO_ROOT } from '../../helpers/child.js';
import { fcOptions } from '../../helpers/fc.js';
import { closeTempStore, openTempStore } from '../../helpers/sync-harness.js';

let dir: string;
let store: Store;

beforeEach(async () => {
  ({ dir, store } = await openTempStore());
});
afterEach(() => closeTempStore(dir, store));

const logKeys = (name: string) => store.keys(docKeyPrefix(name) + 'u/');

/** Sets, replacements (nested maps too), deletions and an array, like the ledger's. */
function churn(doc: Y.Doc, from: number, to: number, deletes = true): void {
  const tasks = doc.getMap<unknown>('tasks');
  const recent = doc.getArray<unknown>('recent');
  for (let i = from; i < to; i++) {
    doc.transact(() => {
      const m = new Y.Map<unknown>();
      m.set('state', i % 3 === 0 ? 'done' : 'queued');
      m.set('n', i);
      tasks.set(`t${i % 40}`, m);
      if (deletes && i % 7 === 0) tasks.delete(`t${(i * 3) % 40}`);
      recent.push([{ event: i }]);
      if (recent.length > 20) recent.delete(0, recent.length - 20);
    });
  }
}

/** The doc's content (root types declared: a doc read from bytes has untyped roots). */
const content = (doc: Y.Doc) => ({ tasks: doc.getMap('tasks').toJSON(), recent: doc.getArray('recent').toJSON() });

async function reopened(name: string): Promise<Y.Doc> {
  await store.close();
  store = await openStore(join(dir, 'db'));
  return new DocStore(store).get(name);
}

describe('compaction off the event loop', () => {
  it('the snapshot a worker encodes reads back as the same doc, and the log it covers is gone', async () => {
    const docs = new DocStore(store, { compactEvery: 1_000_000, offThreadBytes: 0 });
    const doc = await docs.get('owp/ledger');
    churn(doc, 0, 300);
    await docs.compact('owp/ledger'); // the first: the doc has no snapshot yet
    churn(doc, 300, 600);
    await docs.compact('owp/ledger'); // stored snapshot + 300 logged updates, in the worker
    expect(await logKeys('owp/ledger')).toEqual([]);
    const want = { json: content(doc), sv: Y.encodeStateVector(doc) };
    await docs.close();
    const back = await reopened('owp/ledger');
    expect(content(back)).toEqual(want.json);
    expect(Y.encodeStateVector(back)).toEqual(want.sv);
  });

  it('updates emitted while the worker encodes stay in the log and survive a crash', async () => {
    const docs = new DocStore(store, { compactEvery: 1_000_000, offThreadBytes: 0 });
    const doc = await docs.get('owp/ledger');
    churn(doc, 0, 200);
    await docs.compact('owp/ledger');
    churn(doc, 200, 400);
    const compacted = docs.compact('owp/ledger');
    churn(doc, 400, 450); // queued behind the compaction in the doc's chain
    await compacted;
    await docs.flush();
    expect((await logKeys('owp/ledger')).length).toBe(50);
    expect(await store.getBinary(docSnapKey('owp/ledger'))).toBeDefined();
    const want = content(doc);
    // A crash: no close(), no compaction at shutdown; the store is reopened as it is.
    const back = await reopened('owp/ledger');
    expect(content(back)).toEqual(want);
  });

  it('gives what encoding in process gives, and encodes in process once closed', async () => {
    const doc = new Y.Doc();
    const parts: Uint8Array[] = [];
    doc.on('update', (u: Uint8Array) => parts.push(u));
    churn(doc, 0, 120);
    const req = { doc: 'd', base: undefined, updates: parts };
    const encoder = new SnapshotEncoder();
    try {
      const fromWorker = new Y.Doc();
      Y.applyUpdate(fromWorker, (await encoder.encode(req)).snap);
      expect(encoder.offThread).toBe(true);
      const inProcess = new Y.Doc();
      Y.applyUpdate(inProcess, new SnapshotWork(false).run(req).snap);
      expect(content(fromWorker)).toEqual(content(doc));
      expect(content(inProcess)).toEqual(content(doc));
      expect(Y.encodeStateVector(fromWorker)).toEqual(Y.encodeStateVector(doc));
    } finally {
      await encoder.close();
    }
    expect(encoder.offThread).toBe(false);
    const afterClose = new Y.Doc();
    Y.applyUpdate(afterClose, (await encoder.encode(req)).snap);
    expect(content(afterClose)).toEqual(content(doc));
  });

  it('measures, in the worker, the size rebuildDoc makes in process, and the same rotation verdict', async () => {
    const encoder = new SnapshotEncoder();
    const policy = { docs: ['d'], minGarbageBytes: 200, garbageFactor: 0.25 };
    try {
      // Histories of sets, replacements, deletions and array edits; the rebuilds share a client id (its varint length is in the size).
      const history = fc.array(fc.tuple(fc.nat(60), fc.nat(30), fc.boolean()), { minLength: 1, maxLength: 120 });
      await fc.assert(
        fc.asyncProperty(history, fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (steps, clientID) => {
          const doc = new Y.Doc();
          const parts: Uint8Array[] = [];
          doc.on('update', (u: Uint8Array) => parts.push(u));
          for (const [i, j, del] of steps) churn(doc, i, i + j, del);
          const gen = { generation: 3, retired: new Map([[7, 11]]) };
          const got = await encoder.encode({ doc: 'd', base: undefined, updates: parts, rebuild: { gen, clientID } });
          const fresh = Y.encodeStateAsUpdate(rebuildDoc(doc, nextGeneration(gen, doc), clientID)).byteLength;
          expect(got.freshBytes).toBe(fresh);
          expect(got.freshBytes).toBe(freshSize(doc, gen, clientID));
          const encoded = Y.encodeStateAsUpdate(doc).byteLength;
          expect(rotationDue(got.snap.byteLength, got.freshBytes!, policy)).toBe(rotationDue(encoded, fresh, policy));
        }),
        fcOptions(40),
      );
      expect(encoder.offThread).toBe(true);
    } finally {
      await encoder.close();
    }
  });

  it('keeps a replica only while the stored snapshot is the one it made', async () => {
    const doc = new Y.Doc();
    let parts: Uint8Array[] = [];
    doc.on('update', (u: Uint8Array) => parts.push(u));
    const take = () => [parts, (parts = [])][0]!;
    const encoder = new SnapshotEncoder();
    try {
      churn(doc, 0, 100);
      const first = await encoder.encode({ doc: 'd', base: undefined, updates: take() });
      churn(doc, 100, 200);
      const second = await encoder.encode({ doc: 'd', base: first.snap, updates: take() }); // the replica, plus 100 updates
      const back = new Y.Doc();
      Y.applyUpdate(back, second.snap);
      expect(content(back)).toEqual(content(doc));
      // Someone else wrote the snapshot (another relay, a rotation): the replica is made again from it.
      const other = new Y.Doc();
      churn(other, 0, 50);
      const theirs = Y.encodeStateAsUpdate(other);
      const third = await encoder.encode({ doc: 'd', base: theirs, updates: [] });
      const again = new Y.Doc();
      Y.applyUpdate(again, third.snap);
      expect(content(again)).toEqual(content(other));
    } finally {
      await encoder.close();
    }
  });

  it('the compiled worker (dist/snapshot-worker.js) runs without tsx', async () => {
    const doc = new Y.Doc();
    churn(doc, 0, 50);
    const url = pathToFileURL(join(REPO_ROOT, 'dist', 'snapshot-worker.js'));
    const w = new Worker(url, { execArgv: [] });
    try {
      const reply = await new Promise<{ snap: Uint8Array; freshBytes: number }>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
        w.postMessage({ id: 1, req: { doc: 'd', base: Y.encodeStateAsUpdate(doc), updates: [], rebuild: { gen: GENESIS } } });
      });
      const back = new Y.Doc();
      Y.applyUpdate(back, reply.snap);
      expect(content(back)).toEqual(content(doc));
      expect(reply.freshBytes).toBeGreaterThan(0);
    } finally {
      await w.terminate();
    }
  });

  it('a rotation check measured in the worker rotates a doc whose garbage is due, and only that', async () => {
    const docs = new DocStore(store, { compactEvery: 1_000_000, offThreadBytes: 0 });
    docs.enableRotation({ docs: ['owp/ledger', 'owp/board'], minGarbageBytes: 1000, garbageFactor: 0.25 });
    const board = await docs.get('owp/board');
    for (let i = 0; i < 300; i++) board.getMap('tasks').set(`t${i}`, { title: `task ${i}` }); // live content only
    await docs.compact('owp/board');
    await docs.compact('owp/board'); // the second one off the event loop: nothing due
    expect(docs.generation('owp/board')).toBe(0);
    const ledger = await docs.get('owp/ledger');
    churn(ledger, 0, 50);
    await docs.compact('owp/ledger');
    churn(ledger, 50, 2000); // 40 keys replaced ~50 times each: garbage
    await docs.compact('owp/ledger');
    expect(docs.generation('owp/ledger')).toBe(1);
    const want = content(docs.peek('owp/ledger')!);
    await docs.close();
    expect(content(await reopened('owp/ledger'))).toEqual(want);
  });
});
