/**
 * A real relay, with every listener it attaches to the engine's batches (stats, /api/status's
 * counts, the notifier, the SSE feed): the scheduler session still recycles the records of
 * the ledger two batches back as the next working copies (shared/scheduler/session.ts
 * prepare) instead of copying every task and worker per batch. A listener that pins each
 * durable ledger (engine.ledger() in a batch listener) makes every batch copy: this test
 * fails then (it did, on /api/status's counts, before they used engine.tasksRecord()).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../../helpers/relay.js';

let relay: TestRelay | undefined;
afterEach(async () => {
  await relay?.close();
  relay = undefined;
});

describe('working copies on a real relay', () => {
  it('recycles records batch after batch; fresh copies stay few', async () => {
    relay = await startTestRelay({ tickMs: 2 });
    const maint = await relay.token('maintainer');
    const w = await relay.token('worker', 'w1');
    expect((await relay.api(w, 'POST', '/api/workers/register', { skills: [], capacity: 50, maxConcurrent: 20 })).status).toBe(200);
    const tasks = Array.from({ length: 12 }, (_, i) => ({ id: `o/a#${i}`, repo: 'o/a', title: `T${i}` }));
    expect((await relay.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks })).status).toBe(200);
    const engine = relay.relay.engine;
    const before = engine.pipeline().copies;
    // One intent at a time: one batch each, each answered before the next is sent.
    for (const t of tasks) {
      const c = await relay.api(w, 'POST', '/api/claim', { taskId: t.id });
      expect(c.body.outcome.status).toBe('granted');
      expect((await relay.api(w, 'POST', `/api/tasks/${encodeURIComponent(t.id)}/complete`, { fencingToken: c.body.outcome.fencingToken })).status).toBe(200);
      // A status poll pins the ledger it reads: at most one fresh copy after it.
      if (t.id.endsWith('#5')) expect((await relay.api(maint, 'GET', '/api/status')).status).toBe(200);
    }
    const after = engine.pipeline().copies;
    const recycled = after.recycled - before.recycled;
    const fresh = after.fresh - before.fresh;
    // 24 batches: nearly all of them recycled (a board edit or the status poll may cost a copy or two).
    expect(recycled).toBeGreaterThanOrEqual(18);
    expect(fresh).toBeLessThanOrEqual(4);
  });
});
