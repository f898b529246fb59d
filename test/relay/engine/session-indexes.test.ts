/**
 * The engine hands the scheduler the board tasks that changed between batches (hints), so
 * a batch reuses the previous batch's indexes: board edits made between two claims must
 * still decide the next claim (held tasks are not offered, a raised priority wins, changed
 * skills apply), through the real relay.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../../helpers/relay.js';

let r: TestRelay | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

const REPO = 'octo/carry';
const enc = encodeURIComponent;

describe('engine: board edits between batches reach claim-next', () => {
  it('hold, priority and skill edits made between claims decide the next claim', async () => {
    r = await startTestRelay();
    const m = await r.token('maintainer');
    expect((await r.api(m, 'PUT', `/api/repos/${REPO}`, { reviewBudget: 50 })).status).toBe(200);
    const tasks = Array.from({ length: 40 }, (_, i) => ({ id: `${REPO}#${i + 1}`, repo: REPO, title: `T${i + 1}`, priority: i % 5, skills: ['ts'] }));
    expect((await r.api(m, 'POST', '/api/tasks', { createRepo: true, tasks })).status).toBe(200);
    const w = await r.token('worker', 'carrier');
    expect((await r.api(w, 'POST', '/api/workers/register', { skills: ['ts'], capacity: 50, maxConcurrent: 50, maxOpenPrs: 50 })).status).toBe(200);
    const claim = async (): Promise<string> => {
      const res = await r!.api(w, 'POST', '/api/claim', {});
      expect(res.status).toBe(200);
      return res.body.outcome.taskId as string;
    };
    const release = async (taskId: string, fencingToken: number) =>
      expect((await r!.api(w, 'POST', `/api/tasks/${enc(taskId)}/release`, { fencingToken })).status).toBe(200);

    // A first claim: a batch runs and leaves its indexes for the next one.
    const first = await claim();
    expect(tasks.find((t) => t.id === first)!.priority).toBe(4);

    // Raise one low-priority task above everything: the next claim must take it.
    expect((await r.api(m, 'PATCH', `/api/tasks/${enc(`${REPO}#1`)}`, { priority: 90 })).status).toBe(200);
    expect(await claim()).toBe(`${REPO}#1`);

    // Raise another, then hold it before anyone claims: it must not be offered.
    expect((await r.api(m, 'PATCH', `/api/tasks/${enc(`${REPO}#2`)}`, { priority: 95 })).status).toBe(200);
    expect((await r.api(m, 'PATCH', `/api/tasks/${enc(`${REPO}#2`)}`, { held: true })).status).toBe(200);
    const third = await claim();
    expect(third).not.toBe(`${REPO}#2`);

    // Lift the hold: now it is the best task.
    expect((await r.api(m, 'PATCH', `/api/tasks/${enc(`${REPO}#2`)}`, { held: false })).status).toBe(200);
    expect(await claim()).toBe(`${REPO}#2`);

    // A top task that now needs a skill the worker lacks is skipped.
    expect((await r.api(m, 'PATCH', `/api/tasks/${enc(`${REPO}#3`)}`, { priority: 99, skills: ['rust'] })).status).toBe(200);
    const fifth = await claim();
    expect(fifth).not.toBe(`${REPO}#3`);

    // A released task goes back to the pool (with a cooldown for this worker); a new task appears and wins.
    const held = (await r.api(m, 'GET', `/api/tasks/${enc(fifth)}`)).body.runtime.lease.fencingToken as number;
    await release(fifth, held);
    expect((await r.api(m, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id: `${REPO}#new`, repo: REPO, title: 'New', priority: 100, skills: [] }] })).status).toBe(200);
    expect(await claim()).toBe(`${REPO}#new`);
  });
});
