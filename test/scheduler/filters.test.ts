import { describe, expect, it } from 'vitest';
import { FILTERS } from '../../shared/scheduler/index.js';
import { HOUR, REPO, T0, claim, claimNext, makeState, policy, profile, step, submit, task } from '../helpers/scheduler-fixtures.js';

function rejectedBy(state: ReturnType<typeof makeState>, workerId: string, taskId: string, now = T0) {
  const { result } = step(state, [claim(workerId, taskId)], now);
  return result.outcomes[0]!;
}

describe('filter pipeline', () => {
  it('runs in the published order', () => {
    expect(FILTERS.map((f) => f.name)).toEqual([
      'task-claimable',
      'worker-known',
      'skills',
      'tier',
      'capacity',
      'max-concurrent',
      'max-open-prs',
      'area-freeze',
      'area-lock',
      'review-budget',
      'cooldown',
      'daily-quota',
    ]);
  });

  it('grants a claim that passes every filter', () => {
    const s = makeState({ tasks: [task('t1', { skills: ['ts'] })], workers: [profile('ann')] });
    const o = rejectedBy(s, 'ann', 't1');
    expect(o).toMatchObject({ status: 'granted', taskId: 't1', fencingToken: 1 });
  });

  it('task-claimable: unknown task id gets unknown-task', () => {
    const s = makeState({ tasks: [task('t1')], workers: [profile('ann')] });
    expect(rejectedBy(s, 'ann', 'nope')).toMatchObject({ status: 'rejected', code: 'unknown-task', filter: 'task-claimable' });
  });

  it('task-claimable: held and cancelled tasks are not claimable', () => {
    const s = makeState({ tasks: [task('h', { held: true }), task('c', { cancelled: true })], workers: [profile('ann')] });
    expect(rejectedBy(s, 'ann', 'h')).toMatchObject({ code: 'task-not-claimable', filter: 'task-claimable' });
    expect(rejectedBy(s, 'ann', 'h').message).toMatch(/on hold/);
    expect(rejectedBy(s, 'ann', 'c')).toMatchObject({ code: 'task-not-claimable' });
  });

  it('task-claimable: a task leased by someone else gets already-leased naming the holder', () => {
    const s0 = makeState({ tasks: [task('t1')], workers: [profile('ann'), profile('bob')] });
    const { state } = step(s0, [claim('ann', 't1')], T0);
    const o = rejectedBy(state, 'bob', 't1');
    expect(o).toMatchObject({ code: 'already-leased', filter: 'task-claimable' });
    expect(o.message).toContain('ann');
  });

  it('worker-known: no profile gets unknown-worker, unavailable gets worker-unavailable', () => {
    const s = makeState({ tasks: [task('t1')], workers: [profile('off', { available: false })] });
    expect(rejectedBy(s, 'ghost', 't1')).toMatchObject({ code: 'unknown-worker', filter: 'worker-known' });
    expect(rejectedBy(s, 'off', 't1')).toMatchObject({ code: 'worker-unavailable', filter: 'worker-known' });
  });

  it('skills: a missing required skill is named in the message', () => {
    const s = makeState({ tasks: [task('t1', { skills: ['ts', 'rust'] })], workers: [profile('ann', { skills: ['ts'] })] });
    const o = rejectedBy(s, 'ann', 't1');
    expect(o).toMatchObject({ code: 'skill-mismatch', filter: 'skills' });
    expect(o.message).toContain('rust');
    expect(o.message).not.toContain('ts,');
  });

  it('tier: above the worker trust, or outside the repo allowed tiers', () => {
    const s = makeState({
      tasks: [task('t2', { tier: 2 }), task('t1', { tier: 1 })],
      workers: [profile('ann'), profile('pro')],
      repos: [policy(REPO, { allowedTiers: [0, 2] })],
      trust: { pro: 3 },
    });
    expect(rejectedBy(s, 'ann', 't2')).toMatchObject({ code: 'tier-not-allowed', filter: 'tier' });
    expect(rejectedBy(s, 'ann', 't2').message).toMatch(/needs trust level 2; worker ann is at trust level 1/);
    expect(rejectedBy(s, 'pro', 't2')).toMatchObject({ status: 'granted' });
    expect(rejectedBy(s, 'pro', 't1')).toMatchObject({ code: 'tier-not-allowed' });
    expect(rejectedBy(s, 'pro', 't1').message).toMatch(/accepts risk tiers 0, 2/);
  });

  it('capacity: points in use plus task points may not exceed capacity', () => {
    const s0 = makeState({ tasks: [task('a', { points: 2 }), task('b', { points: 2 })], workers: [profile('ann', { capacity: 3 })] });
    const { state } = step(s0, [claim('ann', 'a')], T0);
    const o = rejectedBy(state, 'ann', 'b');
    expect(o).toMatchObject({ code: 'capacity-exceeded', filter: 'capacity' });
    expect(o.message).toMatch(/needs 2 point\(s\).*1 of 3 free \(2 in use by tasks in progress\)/);
  });

  it('max-concurrent: one lease at a time when maxConcurrent is 1', () => {
    const s0 = makeState({ tasks: [task('a'), task('b')], workers: [profile('ann', { maxConcurrent: 1 })] });
    const { state } = step(s0, [claim('ann', 'a')], T0);
    expect(rejectedBy(state, 'ann', 'b')).toMatchObject({ code: 'max-concurrent', filter: 'max-concurrent' });
  });

  it('area-freeze: a task in or under a frozen area is refused', () => {
    const s = makeState({
      tasks: [task('a', { area: 'docs/api/' }), task('b', { area: 'src/' })],
      workers: [profile('ann')],
      repos: [policy(REPO, { frozenAreas: ['docs/'] })],
    });
    expect(rejectedBy(s, 'ann', 'a')).toMatchObject({ code: 'area-frozen', filter: 'area-freeze' });
    expect(rejectedBy(s, 'ann', 'b')).toMatchObject({ status: 'granted' });
  });

  it('area-lock: an overlapping area under an active lease (even pr_open) blocks the claim', () => {
    const s0 = makeState({
      tasks: [task('a', { area: 'src/' }), task('b', { area: 'src/parser/' }), task('c', { area: 'docs/' }), task('d', { area: '' })],
      workers: [profile('ann'), profile('bob', { maxConcurrent: 3 })],
    });
    let { state } = step(s0, [claim('ann', 'a')], T0);
    ({ state } = step(state, [submit('ann', 'a', 1)], T0 + 1));
    const o = rejectedBy(state, 'bob', 'b');
    expect(o).toMatchObject({ code: 'area-locked', filter: 'area-lock' });
    expect(o.message).toContain('task a');
    expect(rejectedBy(state, 'bob', 'c')).toMatchObject({ status: 'granted' });
    expect(rejectedBy(state, 'bob', 'd')).toMatchObject({ status: 'granted' });
  });

  it('review-budget: leased plus pr_open tasks of a repo stay under the budget', () => {
    const s0 = makeState({
      tasks: [task('a'), task('b'), task('c', { repo: 'acme/other' })],
      workers: [profile('ann'), profile('bob')],
      repos: [policy(REPO, { reviewBudget: 1 })],
    });
    const { state } = step(s0, [claim('ann', 'a')], T0);
    expect(rejectedBy(state, 'bob', 'b')).toMatchObject({ code: 'review-budget-full', filter: 'review-budget' });
    // a repo without a policy gets the defaults (budget 5)
    expect(rejectedBy(state, 'bob', 'c')).toMatchObject({ status: 'granted' });
  });

  it('cooldown: a failed task cannot be re-claimed by the same worker until the cooldown ends; a released one can', () => {
    const s0 = makeState({ tasks: [task('a')], workers: [profile('ann'), profile('bob')], repos: [policy(REPO, { cooldownMs: HOUR })] });
    let { state } = step(s0, [claim('ann', 'a')], T0);
    const released = step(state, [{ kind: 'release', id: 'rel', workerId: 'ann', taskId: 'a', fencingToken: 1 }], T0 + 1).state;
    expect(rejectedBy(released, 'ann', 'a', T0 + 2)).toMatchObject({ status: 'granted' });
    ({ state } = step(state, [{ kind: 'fail', id: 'fl', workerId: 'ann', taskId: 'a', fencingToken: 1, reason: 'tests fail' }], T0 + 1));
    expect(rejectedBy(state, 'ann', 'a', T0 + 2)).toMatchObject({ code: 'cooldown', filter: 'cooldown' });
    expect(rejectedBy(state, 'bob', 'a', T0 + 2)).toMatchObject({ status: 'granted' });
    expect(rejectedBy(state, 'ann', 'a', T0 + 1 + HOUR)).toMatchObject({ status: 'granted' });
  });

  it('daily-quota: counts claims on the UTC day of now and resets the next day', () => {
    const s0 = makeState({
      tasks: [task('a'), task('b')],
      workers: [profile('ann', { capacity: 10, maxConcurrent: 5 })],
      repos: [policy(REPO, { dailyQuota: 1 })],
    });
    const { state } = step(s0, [claim('ann', 'a')], T0);
    expect(rejectedBy(state, 'ann', 'b', T0 + HOUR)).toMatchObject({ code: 'daily-quota', filter: 'daily-quota' });
    const nextDay = Date.UTC(2026, 0, 11, 0, 0, 1);
    expect(rejectedBy(state, 'ann', 'b', nextDay)).toMatchObject({ status: 'granted' });
  });

  it('a rejected named claim emits claim-rejected with filter and code', () => {
    const s = makeState({ tasks: [task('t1', { skills: ['go'] })], workers: [profile('ann')] });
    const { result } = step(s, [claim('ann', 't1', 'x1')], T0);
    const ev = result.events.find((e) => e.kind === 'claim-rejected');
    expect(ev).toMatchObject({ intentId: 'x1', code: 'skill-mismatch', taskId: 't1', workerId: 'ann' });
    expect(ev!.reason).toMatch(/^skills: /);
  });

  it('claim-next with nothing eligible summarises the reasons by count', () => {
    const s = makeState({
      tasks: [task('a', { skills: ['go'] }), task('b', { skills: ['go'] }), task('c', { tier: 3 })],
      workers: [profile('ann')],
    });
    const o = step(s, [claimNext('ann')], T0).result.outcomes[0]!;
    expect(o).toMatchObject({ status: 'rejected', code: 'no-matching-task' });
    expect(o.message).toContain('2 skill-mismatch (skills), 1 tier-not-allowed (tier)');
  });

  it('claim-next by an unknown worker says so instead of no-matching-task', () => {
    const s = makeState({ tasks: [task('a')], workers: [] });
    expect(step(s, [claimNext('ghost')], T0).result.outcomes[0]).toMatchObject({ code: 'unknown-worker', filter: 'worker-known' });
  });

  it('claim-next on an empty queue says the queue is empty', () => {
    const s = makeState({ tasks: [], workers: [profile('ann')] });
    const o = step(s, [claimNext('ann')], T0).result.outcomes[0]!;
    expect(o.code).toBe('no-matching-task');
    expect(o.message).toMatch(/No task is queued/);
  });
});
