import { describe, expect, it } from 'vitest';
import { checkInvariants } from '../../shared/scheduler/index.js';
import type { PoolState } from '../../shared/model.js';
import {
  HOUR,
  REPO,
  T0,
  cancel,
  claim,
  complete,
  fail,
  heartbeat,
  makeState,
  policy,
  profile,
  release,
  requeue,
  review,
  step,
  submit,
  prUrlFor,
  task,
} from '../helpers/scheduler-fixtures.js';

const TTL = HOUR;

function leasedState(over: { maxAttempts?: number; cooldownMs?: number } = {}): PoolState {
  const s0 = makeState({
    tasks: [task('a', { points: 2 }), task('b')],
    workers: [profile('ann'), profile('bob')],
    repos: [policy(REPO, { leaseTtlMs: TTL, maxAttempts: over.maxAttempts ?? 3, cooldownMs: over.cooldownMs ?? 0 })],
  });
  return step(s0, [claim('ann', 'a')], T0).state;
}

describe('lease grant', () => {
  it('sets leased, attempt+1, fencingToken+1, expiry now+ttl and capacity in use', () => {
    const s = leasedState();
    const rt = s.ledger.tasks.a!;
    expect(rt).toMatchObject({ state: 'leased', attempt: 1, fencingToken: 1 });
    expect(rt.lease).toEqual({ taskId: 'a', workerId: 'ann', fencingToken: 1, grantedAt: T0, expiresAt: T0 + TTL, ttlMs: TTL, points: 2, area: '' });
    expect(s.ledger.workers.ann).toMatchObject({ pointsInUse: 2, activeLeases: ['a'], claimsToday: 1, quotaDay: '2026-01-10' });
    expect(checkInvariants(s)).toEqual([]);
  });

  it('capacity keeps the points of grant time when the board task is edited', () => {
    const s = leasedState();
    const edited = { ...s, board: { ...s.board, tasks: { ...s.board.tasks, a: { ...s.board.tasks.a!, points: 50 } } } };
    const { state } = step(edited, [], T0 + 1);
    expect(state.ledger.workers.ann!.pointsInUse).toBe(2);
    expect(checkInvariants(state)).toEqual([]);
  });
});

describe('heartbeat', () => {
  it('extends expiry to now + ttl, with no audit event and no stored outcome', () => {
    const s = leasedState();
    const { state, result } = step(s, [heartbeat('ann', 'a', 1, 'hb1')], T0 + 10);
    expect(result.outcomes[0]).toMatchObject({ status: 'applied', expiresAt: T0 + 10 + TTL });
    expect(state.ledger.tasks.a!.lease!.expiresAt).toBe(T0 + 10 + TTL);
    expect(result.events).toEqual([]);
    expect(state.ledger.outcomes.hb1).toBeUndefined();
  });

  it('with a stale token is rejected lease-lost with an actionable message, and changes nothing', () => {
    const s = leasedState();
    const { state, result } = step(s, [heartbeat('ann', 'a', 7)], T0 + 10);
    expect(result.outcomes[0]).toMatchObject({ status: 'rejected', code: 'lease-lost' });
    expect(result.outcomes[0]!.message).toBe('Your lease on a is no longer valid (token 7, current 1): that token was never issued for this lease. Claim again.');
    expect(state.ledger.tasks).toEqual(s.ledger.tasks);
  });

  it('from a worker that does not hold the lease says who holds it now', () => {
    const s = leasedState();
    const { state, result } = step(s, [heartbeat('bob', 'a', 1)], T0 + 10);
    expect(result.outcomes[0]).toMatchObject({ status: 'rejected', code: 'lease-lost' });
    expect(result.outcomes[0]!.message).toBe('Your lease on a is no longer valid (token 1, current 1): ann holds it now. Claim again.');
    expect(state.ledger.tasks).toEqual(s.ledger.tasks);
  });

  it('from a worker who is not the holder is rejected lease-lost', () => {
    const s = leasedState();
    expect(step(s, [heartbeat('bob', 'a', 1)], T0 + 1).result.outcomes[0]).toMatchObject({ code: 'lease-lost' });
  });

  it('arriving at expiry is too late: expiry runs before intents', () => {
    const s = leasedState();
    const { state, result } = step(s, [heartbeat('ann', 'a', 1)], T0 + TTL);
    expect(result.outcomes[0]).toMatchObject({ code: 'lease-lost' });
    expect(state.ledger.tasks.a!.state).toBe('queued');
  });

  it('on an unknown task is unknown-task', () => {
    const s = leasedState();
    expect(step(s, [heartbeat('ann', 'zz', 1)], T0 + 1).result.outcomes[0]).toMatchObject({ code: 'unknown-task' });
  });
});

describe('expiry', () => {
  it('requeues with a cooldown for the worker and counts the expiry', () => {
    const s = leasedState({ cooldownMs: HOUR });
    const { state, result } = step(s, [], T0 + TTL);
    expect(state.ledger.tasks.a).toMatchObject({ state: 'queued', attempt: 1, fencingToken: 1, queuedAt: T0 + TTL });
    expect(state.ledger.tasks.a!.lease).toBeUndefined();
    expect(state.ledger.workers.ann).toMatchObject({ pointsInUse: 0, activeLeases: [], expired: 1, cooldowns: { a: T0 + TTL + HOUR } });
    expect(result.events.map((e) => [e.kind, e.from, e.to])).toEqual([['lease-expired', 'leased', 'queued']]);
  });

  it('goes to stuck after maxAttempts, with lease-expired and task-stuck events', () => {
    let s = leasedState({ maxAttempts: 2 });
    s = step(s, [], T0 + TTL).state; // attempt 1 expired
    s = step(s, [claim('bob', 'a')], T0 + TTL + 1).state; // attempt 2
    expect(s.ledger.tasks.a).toMatchObject({ attempt: 2, fencingToken: 2 });
    const { state, result } = step(s, [], T0 + 2 * TTL + 1);
    expect(state.ledger.tasks.a!.state).toBe('stuck');
    expect(state.ledger.tasks.a!.note).toMatch(/Stuck after 2 attempt/);
    expect(result.events.map((e) => e.kind)).toEqual(['lease-expired', 'task-stuck']);
  });

  it('does not expire a pr_open lease', () => {
    let s = leasedState();
    s = step(s, [submit('ann', 'a', 1)], T0 + 1).state;
    const { state } = step(s, [], T0 + 100 * TTL);
    expect(state.ledger.tasks.a!.state).toBe('pr_open');
  });
});

describe('release, submit, complete, fail', () => {
  it('release puts the task back in the queue, frees capacity, and puts the releasing worker in no cooldown', () => {
    const s = leasedState({ cooldownMs: 5000 });
    const { state, result } = step(s, [release('ann', 'a', 1)], T0 + 1);
    expect(state.ledger.tasks.a).toMatchObject({ state: 'queued', queuedAt: T0 + 1 });
    expect(state.ledger.workers.ann).toMatchObject({ pointsInUse: 0, cooldowns: {} });
    expect(result.events[0]).toMatchObject({ kind: 'lease-released', from: 'leased', to: 'queued', actor: 'ann', fencingToken: 1 });
  });

  it('submit moves to pr_open and keeps the lease counting against capacity', () => {
    const s = leasedState();
    const { state } = step(s, [submit('ann', 'a', 1)], T0 + 1);
    expect(state.ledger.tasks.a).toMatchObject({ state: 'pr_open', prUrl: prUrlFor('a') });
    expect(state.ledger.workers.ann!.pointsInUse).toBe(2);
  });

  it('complete marks done and credits the holder', () => {
    const s = leasedState();
    const { state } = step(s, [complete('ann', 'a', 1)], T0 + 5);
    expect(state.ledger.tasks.a).toMatchObject({ state: 'done', creditedTo: 'ann' });
    expect(state.ledger.workers.ann).toMatchObject({ credit: 2, lastCreditAt: T0 + 5, completed: 1, pointsInUse: 0, activeLeases: [] });
  });

  it('complete on a pr_open task is an invalid transition (a maintainer merges it)', () => {
    let s = leasedState();
    s = step(s, [submit('ann', 'a', 1)], T0 + 1).state;
    expect(step(s, [complete('ann', 'a', 1)], T0 + 2).result.outcomes[0]).toMatchObject({ code: 'invalid-transition' });
  });

  it('fail requeues with the reason as note, keeps attempt, counts failed', () => {
    const s = leasedState();
    const { state, result } = step(s, [fail('ann', 'a', 1, 'cannot build')], T0 + 1);
    expect(state.ledger.tasks.a).toMatchObject({ state: 'queued', attempt: 1, note: 'cannot build' });
    expect(state.ledger.workers.ann!.failed).toBe(1);
    expect(result.events[0]).toMatchObject({ kind: 'task-failed', reason: 'cannot build' });
  });

  it('fail at maxAttempts goes to stuck', () => {
    const s = leasedState({ maxAttempts: 1 });
    const { state, result } = step(s, [fail('ann', 'a', 1)], T0 + 1);
    expect(state.ledger.tasks.a!.state).toBe('stuck');
    expect(result.events.map((e) => e.kind)).toEqual(['task-failed', 'task-stuck']);
  });

  it('a released token cannot act again and the next grant gets a higher token', () => {
    let s = leasedState();
    s = step(s, [release('ann', 'a', 1)], T0 + 1).state;
    s = step(s, [claim('bob', 'a')], T0 + 2).state;
    expect(s.ledger.tasks.a!.lease).toMatchObject({ workerId: 'bob', fencingToken: 2 });
    expect(step(s, [complete('ann', 'a', 1)], T0 + 3).result.outcomes[0]).toMatchObject({ code: 'lease-lost' });
  });
});

describe('review (maintainer or GitHub tracker)', () => {
  function prOpen(): PoolState {
    return step(leasedState(), [submit('ann', 'a', 1)], T0 + 1).state;
  }

  it('merged: done and credit to the holder, whoever the actor is', () => {
    const { state } = step(prOpen(), [review('a', 'merged', 'github')], T0 + 2);
    expect(state.ledger.tasks.a).toMatchObject({ state: 'done', creditedTo: 'ann' });
    expect(state.ledger.workers.ann!.credit).toBe(2);
  });

  it('closed: back to the queue with no cooldown, lease ended', () => {
    const { state, result } = step(prOpen(), [review('a', 'closed')], T0 + 2);
    expect(state.ledger.tasks.a).toMatchObject({ state: 'queued' });
    expect(state.ledger.workers.ann).toMatchObject({ pointsInUse: 0, cooldowns: {} });
    expect(result.events[0]).toMatchObject({ kind: 'task-requeued', from: 'pr_open', to: 'queued', actor: 'maint' });
  });

  it('changes-requested: leased again to the same holder, same token, fresh ttl', () => {
    const { state } = step(prOpen(), [review('a', 'changes-requested')], T0 + 50);
    expect(state.ledger.tasks.a!.state).toBe('leased');
    expect(state.ledger.tasks.a!.lease).toMatchObject({ workerId: 'ann', fencingToken: 1, expiresAt: T0 + 50 + TTL });
  });

  it('open: a leased task moves to pr_open', () => {
    const { state } = step(leasedState(), [{ kind: 'review', id: 'r', workerId: 'gh', taskId: 'a', result: 'open', prUrl: 'https://x.test/pr/9' }], T0 + 2);
    expect(state.ledger.tasks.a).toMatchObject({ state: 'pr_open', prUrl: 'https://x.test/pr/9' });
  });

  it('merged on a queued task is an invalid transition', () => {
    const s = leasedState();
    expect(step(s, [review('b', 'merged')], T0 + 1).result.outcomes[0]).toMatchObject({ code: 'invalid-transition' });
  });
});

describe('requeue and cancel (maintainer)', () => {
  it('requeue of a stuck task keeps attempts and the fencing token: one more try', () => {
    let s = leasedState({ maxAttempts: 1 });
    s = step(s, [fail('ann', 'a', 1)], T0 + 1).state;
    const { state } = step(s, [requeue('a')], T0 + 2);
    expect(state.ledger.tasks.a).toMatchObject({ state: 'queued', attempt: 1, fencingToken: 1, queuedAt: T0 + 2 });
    let t = step(state, [claim('bob', 'a')], T0 + 3).state;
    expect(t.ledger.tasks.a).toMatchObject({ state: 'leased', attempt: 2, fencingToken: 2 });
    t = step(t, [], T0 + 3 + TTL).state;
    expect(t.ledger.tasks.a!.state).toBe('stuck');
  });

  it('requeue of a leased task ends the lease', () => {
    const { state } = step(leasedState(), [requeue('a')], T0 + 1);
    expect(state.ledger.tasks.a!.state).toBe('queued');
    expect(state.ledger.workers.ann!.activeLeases).toEqual([]);
  });

  it('cancel ends the task and its lease; cancelling again is invalid', () => {
    const { state, result } = step(leasedState(), [cancel('a')], T0 + 1);
    expect(state.ledger.tasks.a).toMatchObject({ state: 'cancelled' });
    expect(state.ledger.workers.ann!.pointsInUse).toBe(0);
    expect(result.events[0]).toMatchObject({ kind: 'task-cancelled', from: 'leased', to: 'cancelled' });
    expect(step(state, [cancel('a')], T0 + 2).result.outcomes[0]).toMatchObject({ code: 'invalid-transition' });
  });

  it('a board cancellation of a leased task waits for the lease to end, then cancels instead of requeueing', () => {
    const s = leasedState();
    const cancelled = { ...s, board: { ...s.board, tasks: { ...s.board.tasks, a: { ...s.board.tasks.a!, cancelled: true } } } };
    let { state } = step(cancelled, [], T0 + 1);
    expect(state.ledger.tasks.a).toMatchObject({ state: 'leased', cancelPending: true });
    const r = step(state, [release('ann', 'a', 1)], T0 + 2);
    state = r.state;
    expect(state.ledger.tasks.a!.state).toBe('cancelled');
    expect(state.ledger.tasks.a!.cancelPending).toBeUndefined();
    expect(r.result.events.map((e) => e.kind)).toEqual(['lease-released', 'task-cancelled']);
  });

  it('a board cancellation of a queued task cancels it at the next batch', () => {
    const s = leasedState();
    const cancelled = { ...s, board: { ...s.board, tasks: { ...s.board.tasks, b: { ...s.board.tasks.b!, cancelled: true } } } };
    const { state, result } = step(cancelled, [], T0 + 1);
    expect(state.ledger.tasks.b!.state).toBe('cancelled');
    expect(result.events[0]).toMatchObject({ kind: 'task-cancelled', actor: 'scheduler', from: 'queued' });
  });
});

describe('heartbeat while the PR waits', () => {
  it('is accepted on a pr_open lease and keeps its expiry fresh', () => {
    let s = leasedState();
    s = step(s, [submit('ann', 'a', 1)], T0 + 1).state;
    const { state, result } = step(s, [heartbeat('ann', 'a', 1)], T0 + 3 * TTL);
    expect(result.outcomes[0]).toMatchObject({ status: 'applied', expiresAt: T0 + 4 * TTL });
    expect(state.ledger.tasks.a).toMatchObject({ state: 'pr_open' });
    expect(state.ledger.tasks.a!.lease!.expiresAt).toBe(T0 + 4 * TTL);
  });
});
