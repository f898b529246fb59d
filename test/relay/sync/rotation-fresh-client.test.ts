/**
 * A rotation while a fresh client waits for its sync step 2 (issue 16, 100,000 lifecycles: a
 * stock y-websocket client opened `owp/board` just after a large archive sweep and never
 * synced). The step-1 answer waits for the document's write chain, where the rotation sits;
 * the client was sent nothing of the old generation, so it is closed with CLOSE.docRenewed
 * (y-websocket reconnects on it), never CLOSE.docReset (on which y-websocket stops for good),
 * and syncs the new generation. A client that had synced the old one still gets docReset.
 * Real LevelDB, real sync server, stock y-websocket clients; the write chain is held by
 * holding one LevelDB read of the compaction, nothing waits on time.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { retiredOf } from '../../../shared/doc-rotation.js';
import { BOARD_DOC, CLOSE, LEDGER_DOC } from '../../../shared/protocol.js';
import { staleClients, type RotationPolicy } from '../../../server/sync/rotation.js';
import { type Harness, removeDir, startHarness, tempDir, waitFor } from '../../helpers/sync-harness.js';

const ALWAYS: RotationPolicy = { docs: [BOARD_DOC, LEDGER_DOC], minGarbageBytes: 0, garbageFactor: 0 };

let dir: string;
let h: Harness;

beforeEach(async () => {
  dir = await tempDir();
  h = await startHarness(dir, { compactEvery: 1e9 });
  h.docs.enableRotation(ALWAYS);
});

afterEach(async () => {
  await h.stop();
  await removeDir(dir);
});

/** The next listing of the board's logged updates waits until `release()` (the compaction waits, and the write chain behind it). */
function holdNextListing(): { held: Promise<void>; release: () => void } {
  const store = h.store;
  const keys = store.keys.bind(store);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let markHeld!: () => void;
  const held = new Promise<void>((r) => (markHeld = r));
  store.keys = (async (prefix: string) => {
    if (!prefix.startsWith('doc/')) return keys(prefix);
    store.keys = keys;
    markHeld();
    await gate;
    return keys(prefix);
  }) as typeof store.keys;
  return { held, release };
}

describe('a rotation while a fresh client waits for its sync step 2', () => {
  it('closes it with doc-renewed (not doc-reset); it reconnects and syncs the new generation', async () => {
    const viewer = (await h.tokens.create({ role: 'viewer' })).token;
    const relayDoc = await h.docs.get(BOARD_DOC);
    const tasks = relayDoc.getMap<unknown>('tasks');
    for (let i = 0; i < 50; i++) relayDoc.transact(() => tasks.set(`t${i}`, { title: `task ${i}` }), 'relay');
    await h.docs.whenPersisted(BOARD_DOC);

    // A client that synced the old generation: its copy goes stale at the rotation.
    const old = h.connect(BOARD_DOC, viewer);
    await old.synced();

    // Archive-like deletions (sent to the old client), then a compaction that rotates, held.
    relayDoc.transact(() => {
      for (let i = 0; i < 40; i++) tasks.delete(`t${i}`);
    }, 'relay');
    await h.docs.whenPersisted(BOARD_DOC);
    await waitFor(() => Object.keys(old.doc.getMap('tasks').toJSON()).length === 10, 10_000, 'the old client saw the deletions');
    const hold = holdNextListing();
    const rotated = h.docs.compact(BOARD_DOC);
    await hold.held;

    // A fresh stock client: its step 1 is read (its awareness, sent after it on the same socket,
    // arrived) while the chain is held, so its step 2 waits behind the rotation.
    const fresh = h.connect(BOARD_DOC, viewer, { awareness: { name: 'fresh' } });
    await waitFor(() => h.awarenessSeen.some((a) => a.state.name === 'fresh'), 10_000, 'the fresh client read');
    expect(fresh.provider.synced).toBe(false);

    hold.release();
    await rotated;
    expect(h.docs.generation(BOARD_DOC)).toBe(1);

    await waitFor(() => fresh.closes.length > 0, 10_000, 'the fresh client closed at the rotation');
    expect(fresh.closes[0]).toMatchObject({ code: CLOSE.docRenewed, reason: expect.stringMatching(/^doc-renewed: owp\/board was re-created/) });
    await fresh.synced();
    const now = await h.docs.get(BOARD_DOC);
    expect(fresh.doc.getMap('tasks').toJSON()).toEqual(now.getMap('tasks').toJSON());
    expect(Object.keys(fresh.doc.getMap('tasks').toJSON())).toHaveLength(10);
    expect(staleClients(Y.encodeStateVector(fresh.doc), retiredOf(now))).toEqual([]);
    expect(fresh.closes.map((c) => c.code)).not.toContain(CLOSE.docReset);

    await waitFor(() => old.closes.length > 0, 10_000, 'the old client closed');
    expect(old.closes[0]!.code).toBe(CLOSE.docReset);
  });
});
