/**
 * Document rotation over the real sync layer (docs/ROTATION.md): a real LevelDB, the real
 * sync server and stock y-websocket clients. A copy of an older generation is closed with
 * CLOSE.docReset before any byte of the new one reaches it (never a merged mix); a fresh
 * client gets exactly the relay's state; the rotation is on disk after a restart.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { reapplyEdits, retiredOf, ROTATION_ROOT, unsyncedEdits } from '../../../shared/doc-rotation.js';
import { BOARD_DOC, CLOSE, LEDGER_DOC } from '../../../shared/protocol.js';
import { staleClients, type RotationPolicy } from '../../../server/sync/rotation.js';
import { type Harness, removeDir, startHarness, tempDir, waitFor } from '../../helpers/sync-harness.js';

/** Rotate at every compaction that finds any garbage at all. */
const ALWAYS: RotationPolicy = { docs: [BOARD_DOC, LEDGER_DOC], minGarbageBytes: 0, garbageFactor: 0 };

let dir: string;
let h: Harness;

beforeEach(async () => {
  dir = await tempDir();
  h = await startHarness(dir, { compactEvery: 1e9 }); // rotations only where the test compacts
  h.docs.enableRotation(ALWAYS);
});

afterEach(async () => {
  await h.stop();
  await removeDir(dir);
});

/** The relay writes history into the ledger (entries set, replaced, deleted) as its engine does. */
async function churn(from: number, to: number): Promise<void> {
  const doc = await h.docs.get(LEDGER_DOC);
  const tasks = doc.getMap<unknown>('tasks');
  for (let i = from; i < to; i++) {
    doc.transact(() => tasks.set(`t${i}`, { state: 'queued', n: i }), 'relay');
    doc.transact(() => tasks.set(`t${i}`, { state: 'done', n: i }), 'relay');
    if (i % 4 !== 0) doc.transact(() => tasks.delete(`t${i}`), 'relay');
  }
  await h.docs.whenPersisted(LEDGER_DOC);
}

const content = (doc: Y.Doc) => {
  const out: Record<string, unknown> = {};
  for (const name of ['tasks', 'meta']) out[name] = doc.getMap(name).toJSON();
  return out;
};

describe('document rotation', () => {
  it('closes connected clients with doc-reset, and a fresh client gets exactly the relay state', async () => {
    const viewer = (await h.tokens.create({ role: 'viewer' })).token;
    await churn(0, 200);
    const a = h.connect(LEDGER_DOC, viewer);
    await a.synced();
    const before = content(a.doc);
    const oldIds = [...Y.decodeStateVector(Y.encodeStateVector(a.doc)).keys()];

    await h.docs.compact(LEDGER_DOC);
    expect(h.docs.generation(LEDGER_DOC)).toBe(1);
    const relay = await h.docs.get(LEDGER_DOC);
    await churn(1000, 1010); // new-generation writes after the rotation

    // The stock client is closed with the reset code and a reason a person can read (y-websocket
    // then stops), and is closed again whenever it comes back with the old copy: never a mix.
    await waitFor(() => a.closes.some((c) => c.code === CLOSE.docReset), 10_000, 'doc-reset');
    a.provider.connect();
    await waitFor(() => a.closes.filter((c) => c.code === CLOSE.docReset).length >= 2, 10_000, 'a second doc-reset');
    expect(a.closes[0].reason).toMatch(/^doc-reset: owp\/ledger was re-created/);
    expect(content(a.doc)).toEqual(before);
    expect([...Y.decodeStateVector(Y.encodeStateVector(a.doc)).keys()].sort()).toEqual(oldIds.sort());

    const b = h.connect(LEDGER_DOC, viewer);
    await b.synced();
    await waitFor(() => b.doc.getMap('tasks').has('t1008'), 10_000, 'the new-generation write');
    expect(content(b.doc)).toEqual(content(relay));
    expect(staleClients(Y.encodeStateVector(b.doc), retiredOf(relay))).toEqual([]);
    expect(Y.encodeStateAsUpdate(relay).byteLength).toBeLessThan(Y.encodeStateAsUpdate(a.doc).byteLength);
  });

  it('a client offline across a rotation is refused, and comes back fresh after dropping its copy', async () => {
    const viewer = (await h.tokens.create({ role: 'viewer' })).token;
    await churn(0, 100);
    const a = h.connect(LEDGER_DOC, viewer);
    await a.synced();
    a.provider.disconnect();
    await h.docs.compact(LEDGER_DOC);
    await churn(500, 505);
    const before = content(a.doc);
    a.provider.connect();
    await waitFor(() => a.closes.some((c) => c.code === CLOSE.docReset), 10_000, 'doc-reset');
    expect(content(a.doc)).toEqual(before);
    a.destroy();
    const fresh = h.connect(LEDGER_DOC, viewer);
    await fresh.synced();
    expect(content(fresh.doc)).toEqual(content(await h.docs.get(LEDGER_DOC)));
  });

  it('a board edit made offline on an old copy is carried into the new generation, not lost', async () => {
    const maint = (await h.tokens.create({ role: 'maintainer' })).token;
    const board = await h.docs.get(BOARD_DOC);
    const tasks = board.getMap<unknown>('tasks');
    board.transact(() => {
      for (let i = 0; i < 50; i++) {
        const m = new Y.Map<unknown>();
        m.set('title', `T${i}`);
        m.set('priority', 1);
        tasks.set(`o/r#${i}`, m);
      }
    }, 'relay');
    board.transact(() => {
      for (let i = 10; i < 50; i++) tasks.delete(`o/r#${i}`);
    }, 'relay');
    await h.docs.whenPersisted(BOARD_DOC);
    const a = h.connect(BOARD_DOC, maint);
    await a.synced();
    a.provider.disconnect();
    // Offline: one field of an existing task, and a new task.
    (a.doc.getMap('tasks').get('o/r#3') as Y.Map<unknown>).set('priority', 9);
    const added = new Y.Map<unknown>();
    added.set('title', 'made offline');
    a.doc.getMap('tasks').set('o/r#100', added);

    await h.docs.compact(BOARD_DOC);
    expect(h.docs.generation(BOARD_DOC)).toBe(1);
    a.provider.connect();
    await waitFor(() => a.closes.some((c) => c.code === CLOSE.docReset), 10_000, 'doc-reset');
    expect((await h.docs.get(BOARD_DOC)).getMap('tasks').has('o/r#100')).toBe(false);

    // What the plugin does: a fresh copy, then the edits the relay never had, written again.
    const stale = a.doc;
    a.provider.destroy();
    const b = h.connect(BOARD_DOC, maint);
    await b.synced();
    expect(b.doc.getMap(ROTATION_ROOT).get('generation')).toBe(1);
    const carried = unsyncedEdits(stale, retiredOf(b.doc));
    expect(carried.map((e) => e.path.join('/')).sort()).toEqual(['tasks/o/r#100', 'tasks/o/r#3/priority']);
    reapplyEdits(b.doc, carried, 'test', (root) => root === 'tasks');
    const relayTasks = (await h.docs.get(BOARD_DOC)).getMap<Y.Map<unknown>>('tasks');
    await waitFor(() => relayTasks.get('o/r#100')?.get('title') === 'made offline', 10_000, 'the carried task');
    expect(relayTasks.get('o/r#3')?.get('priority')).toBe(9);
    expect(relayTasks.get('o/r#4')?.get('priority')).toBe(1);
    expect(relayTasks.size).toBe(11);
  });

  it('the new generation is what a restart loads (no old log replayed over it)', async () => {
    await churn(0, 300);
    await h.docs.compact(LEDGER_DOC);
    await churn(2000, 2004);
    const expected = content(await h.docs.get(LEDGER_DOC));
    await h.stop();
    h = await startHarness(dir, { compactEvery: 1e9 }); // rotations only where the test compacts
    const doc = await h.docs.get(LEDGER_DOC);
    expect(content(doc)).toEqual(expected);
    expect(h.docs.generation(LEDGER_DOC)).toBe(1);
    expect(staleClients(Y.encodeStateVector(doc), retiredOf(doc))).toEqual([]);
  });
});
