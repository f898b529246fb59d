/**
 * Rotation inside the real relay (real LevelDB, engine, HTTP, stock y-websocket clients):
 * with a policy that rotates at every compaction, claims and completions keep flowing into
 * the new generations (the engine, the public profiles and the board view follow the swap),
 * and a fresh client's ledger is exactly the projection of the engine's ledger.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROTATION_ROOT } from '../../../shared/doc-rotation.js';
import { BOARD_DOC, LEDGER_DOC } from '../../../shared/protocol.js';
import { startTestRelay, waitFor, type TestRelay } from '../../helpers/relay.js';
import { connectDoc } from '../../helpers/yclient.js';

const enc = encodeURIComponent;
let r: TestRelay;

beforeAll(async () => {
  r = await startTestRelay({ rotation: { docs: [BOARD_DOC, LEDGER_DOC], minGarbageBytes: 0, garbageFactor: 0 } });
});
afterAll(async () => {
  await r.close();
});

describe('rotation in the relay', () => {
  it('keeps the ledger and the board exact across rotations while workers claim and complete', async () => {
    const maint = await r.token('maintainer');
    const viewer = await r.token('viewer');
    const w = await r.token('worker', 'rw');
    expect((await r.api(w, 'POST', '/api/workers/register', { skills: [], capacity: 1000, maxConcurrent: 100, maxOpenPrs: 100 })).status).toBe(200);
    const N = 150;
    const tasks = Array.from({ length: N }, (_, i) => ({ id: `o/r#${i + 1}`, repo: 'o/r', title: `T${i + 1}` }));
    expect((await r.api(maint, 'PUT', '/api/repos/o/r', { reviewBudget: 1000, dailyQuota: 10000 })).status).toBe(200);
    expect((await r.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks })).status).toBe(200);
    for (let i = 1; i <= N; i++) {
      const c = await r.api(w, 'POST', '/api/claim', { taskId: `o/r#${i}` });
      expect(c.status).toBe(200);
      const done = await r.api(w, 'POST', `/api/tasks/${enc(`o/r#${i}`)}/complete`, { fencingToken: c.body.lease.fencingToken });
      expect(done.status).toBe(200);
    }
    const ledger = await connectDoc(r.wsUrl, LEDGER_DOC, viewer);
    const board = await connectDoc(r.wsUrl, BOARD_DOC, viewer);
    try {
      expect(ledger.doc.getMap(ROTATION_ROOT).get('generation')).toBeGreaterThanOrEqual(1);
      // The fresh copy is the projection of the engine's ledger, entry for entry.
      const projection = r.relay.engine.visibleLedger();
      await waitFor(() => ledger.doc.getMap('meta').get('batch') === r.relay.engine.visibleLedger().batch, 10_000, 'the last batch');
      expect(ledger.doc.getMap('tasks').toJSON()).toEqual(r.relay.engine.visibleLedger().tasks);
      expect(ledger.doc.getMap('workers').toJSON()).toEqual(projection.workers);
      expect(Object.keys(ledger.doc.getMap('outcomes').toJSON()).sort()).toEqual(Object.keys(r.relay.engine.visibleLedger().outcomes).sort());
      expect(ledger.doc.getMap('profiles').get('rw')).toMatchObject({ id: 'rw' });
      expect(Object.keys(board.doc.getMap('tasks').toJSON()).length).toBe(N);
      // Writes after the rotations reach connected clients: the engine writes the new doc.
      expect((await r.api(maint, 'POST', '/api/tasks', { tasks: [{ id: 'o/r#999', repo: 'o/r', title: 'late' }] })).status).toBe(200);
      const c = await r.api(w, 'POST', '/api/claim', { taskId: 'o/r#999' });
      expect(c.status).toBe(200);
      await waitFor(() => (ledger.doc.getMap('tasks').get('o/r#999') as { state?: string } | undefined)?.state === 'leased', 10_000, 'the late lease');
      await waitFor(() => board.doc.getMap('tasks').has('o/r#999'), 10_000, 'the late task');
    } finally {
      ledger.destroy();
      board.destroy();
    }
  });
});
