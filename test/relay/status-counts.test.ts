/**
 * /api/status's task counts kept batch by batch (server/stats/task-counts.ts): after any
 * sequence of batches (tasks added, moved between states and repos, leased, removed), applied
 * one by one copy-on-write as the engine does, `of` answers exactly the full count; a tasks
 * record no batch led to (a session reset) is counted afresh. fast-check, fixed seed. And a
 * real relay: GET /api/status after claims, completions and a cancel equals the full count
 * of its ledger.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { TaskRuntime, TaskState } from '../../shared/model.js';
import { countTasks, TaskCounts } from '../../server/stats/task-counts.js';
import { fcOptions } from '../helpers/fc.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

const STATES: TaskState[] = ['queued', 'leased', 'pr_open', 'done', 'stuck', 'cancelled'];
const ids = fc.constantFrom('o/a#1', 'o/a#2', 'o/a#3', 'o/b#1', 'o/b#2', 'x/y#9', 'x/y#10');
const change = fc.record({
  id: ids,
  remove: fc.boolean(),
  repo: fc.constantFrom('o/a', 'o/b', 'x/y'),
  state: fc.constantFrom(...STATES),
  withLease: fc.boolean(),
  token: fc.nat(50),
});
const step = fc.record({ changes: fc.array(change, { minLength: 0, maxLength: 4 }), unreported: fc.boolean(), ask: fc.boolean() });

function runtime(c: { id: string; repo: string; state: TaskState; withLease: boolean; token: number }): TaskRuntime {
  const rt = { taskId: c.id, repo: c.repo, state: c.state, updatedAt: c.token } as unknown as TaskRuntime;
  if (c.withLease) rt.lease = { taskId: c.id, workerId: `w${c.token % 3}`, fencingToken: c.token, grantedAt: 1, expiresAt: 2, ttlMs: 1 } as TaskRuntime['lease'];
  return rt;
}

describe('TaskCounts', () => {
  it('answers what the full count answers after any batches', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
        const counts = new TaskCounts();
        let tasks: Record<string, TaskRuntime> = {};
        for (const s of steps) {
          const next = { ...tasks };
          const changed: Record<string, TaskRuntime | null> = {};
          for (const c of s.changes) {
            if (c.remove) {
              if (!Object.hasOwn(next, c.id)) continue;
              delete next[c.id];
              changed[c.id] = null;
            } else changed[c.id] = next[c.id] = runtime(c);
          }
          tasks = next;
          // A change no batch reported (a reset): the record differs, so it is counted afresh.
          if (!s.unreported) counts.apply(changed, tasks);
          if (s.ask || s.unreported) expect(counts.of(tasks)).toEqual(countTasks(tasks));
        }
        expect(counts.of(tasks)).toEqual(countTasks(tasks));
      }),
      fcOptions(300),
    );
  });
});

let relay: TestRelay | undefined;
afterEach(async () => {
  await relay?.close();
  relay = undefined;
});

describe('GET /api/status on a real relay', () => {
  it('counts what the full count of the ledger counts', async () => {
    relay = await startTestRelay({ tickMs: 2 });
    const maint = await relay.token('maintainer');
    const w = await relay.token('worker', 'w1');
    expect((await relay.api(w, 'POST', '/api/workers/register', { skills: [], capacity: 20, maxConcurrent: 10 })).status).toBe(200);
    const tasks = Array.from({ length: 8 }, (_, i) => ({ id: `o/${i % 2 ? 'a' : 'b'}#${i}`, repo: `o/${i % 2 ? 'a' : 'b'}`, title: `T${i}` }));
    expect((await relay.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks })).status).toBe(200);
    // The status answer against the ledger it was computed from: the durable ledger is one
    // object per batch, so the same object before and after the call is the one the relay read
    // (a batch landing meanwhile, e.g. the board's new tasks reconciled, means read again).
    const compare = async () => {
      for (;;) {
        const before = relay!.relay.engine.ledger();
        const body = (await relay!.api(maint, 'GET', '/api/status')).body as { queue: unknown; leases: unknown };
        if (relay!.relay.engine.ledger() !== before) continue;
        const full = countTasks(before.tasks);
        expect(body.queue).toEqual(full.queue);
        expect(body.leases).toEqual(full.leases);
        return;
      }
    };
    await compare();
    for (let i = 0; i < 5; i++) {
      const c = await relay.api(w, 'POST', '/api/claim', { taskId: tasks[i]!.id });
      expect(c.body.outcome.status).toBe('granted');
      await compare();
      if (i % 2 === 0) expect((await relay.api(w, 'POST', `/api/tasks/${encodeURIComponent(tasks[i]!.id)}/complete`, { fencingToken: c.body.outcome.fencingToken })).status).toBe(200);
    }
    expect((await relay.api(maint, 'POST', `/api/tasks/${encodeURIComponent(tasks[7]!.id)}/cancel`, {})).status).toBe(200);
    await compare();
    expect(((await relay.api(maint, 'GET', '/api/status')).body as { leases: unknown[] }).leases).toHaveLength(2);
  });
});
