import { describe, expect, it } from 'vitest';
import { Buffer } from 'node:buffer';
import { checkInvariants, fnv1a32, schedule, tieBreakHash, SCORES, fairness, activeLeaseCount, reviewLoad, pointsInUse } from '../../shared/scheduler/index.js';
import { intentOrder } from '../../shared/scheduler/index.js';
import { AGE_HALF_LIFE_MS, beats, totalScore } from '../../shared/scheduler/scores.js';
import { newWorkerRuntime } from '../../shared/scheduler/state.js';
import type { Intent } from '../../shared/model.js';
import { HOUR, REPO, T0, canonical, claim, claimNext, complete, fail, makeState, policy, profile, release, step, submit, task } from '../helpers/scheduler-fixtures.js';

describe('tie-break hash (FNV-1a 32-bit over UTF-8)', () => {
  it('matches the published FNV-1a test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('hashes the UTF-8 bytes of non-ASCII text', () => {
    const ref = (s: string): number => {
      let h = 0x811c9dc5;
      for (const b of Buffer.from(s, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
      return h;
    };
    for (const s of ['é', 'ü/ß#12', '漢字', '🙂 emoji', 'owner/repo#1|ann|3']) expect(fnv1a32(s)).toBe(ref(s));
  });

  it('tieBreakHash is fnv1a32 of "taskId|workerId|batch"', () => {
    expect(tieBreakHash('acme/app#1', 'ann', 7)).toBe(fnv1a32('acme/app#1|ann|7'));
  });
});

describe('scores', () => {
  const p = profile('ann', { skills: ['ts', 'docs'] });
  const workerState = newWorkerRuntime('ann', '2026-01-10');
  const input = (over: Partial<Parameters<typeof totalScore>[0]> = {}) => ({
    task: task('x', { skills: ['ts'] }),
    queuedAt: T0,
    now: T0,
    profile: p,
    skills: new Set(p.skills),
    workerState,
    ...over,
  });
  const byName = (n: string) => SCORES.find((s) => s.name === n)!;

  it('are named, weighted and each within 0..1', () => {
    expect(SCORES.map((s) => [s.name, s.weight])).toEqual([
      ['priority', 4],
      ['age', 2],
      ['skill-fit', 1],
      ['fairness', 1],
    ]);
    for (const s of SCORES) {
      const v = s.score(input({ task: task('x', { priority: 100, skills: ['ts', 'docs'] }), queuedAt: 0, now: T0 }));
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
  });

  it('priority maps -100..100 onto 0..1', () => {
    expect(byName('priority').score(input({ task: task('x', { priority: -100 }) }))).toBe(0);
    expect(byName('priority').score(input({ task: task('x', { priority: 0 }) }))).toBe(0.5);
    expect(byName('priority').score(input({ task: task('x', { priority: 100 }) }))).toBe(1);
  });

  it('age is 0.5 at the half-life and grows with time in queue', () => {
    expect(byName('age').score(input({ queuedAt: T0, now: T0 }))).toBe(0);
    expect(byName('age').score(input({ queuedAt: T0, now: T0 + AGE_HALF_LIFE_MS }))).toBe(0.5);
    expect(byName('age').score(input({ queuedAt: T0, now: T0 + 3 * AGE_HALF_LIFE_MS }))).toBe(0.75);
  });

  it('skill fit is the share of the worker skills the task uses', () => {
    expect(byName('skill-fit').score(input({ task: task('x', { skills: [] }) }))).toBe(0);
    expect(byName('skill-fit').score(input({ task: task('x', { skills: ['ts'] }) }))).toBe(0.5);
    expect(byName('skill-fit').score(input({ task: task('x', { skills: ['ts', 'docs'] }) }))).toBe(1);
  });

  it('fairness puts newcomers first, then workers whose last credit is oldest', () => {
    const newcomer = newWorkerRuntime('n', 'd');
    const recent = { ...newWorkerRuntime('r', 'd'), credit: 5, lastCreditAt: T0 };
    const old = { ...newWorkerRuntime('o', 'd'), credit: 5, lastCreditAt: T0 - 30 * 24 * HOUR };
    expect(fairness(newcomer, T0)).toBe(1);
    expect(fairness(old, T0)).toBe(0.75);
    expect(fairness(recent, T0)).toBe(0);
  });

  it('ties go to the lowest hash, then the lowest task id', () => {
    const a = { taskId: 'a', total: 1 };
    const b = { taskId: 'b', total: 1 };
    const aWins = tieBreakHash('a', 'ann', 1) < tieBreakHash('b', 'ann', 1);
    expect(beats(a, b, 'ann', 1)).toBe(aWins);
    expect(beats(b, a, 'ann', 1)).toBe(!aWins);
    expect(beats({ taskId: 'b', total: 2 }, a, 'ann', 1)).toBe(true);
  });
});

describe('claim-next', () => {
  it('picks the highest priority eligible task', () => {
    const s = makeState({
      tasks: [task('low', { priority: -5 }), task('high', { priority: 50 }), task('mid'), task('nope', { skills: ['go'], priority: 100 })],
      workers: [profile('ann')],
    });
    expect(step(s, [claimNext('ann')], T0).result.outcomes[0]).toMatchObject({ status: 'granted', taskId: 'high' });
  });

  it('among equal scores, picks by the published hash rule', () => {
    const ids = ['t1', 't2', 't3', 't4', 't5'];
    const s = makeState({ tasks: ids.map((id) => task(id)), workers: [profile('ann')] });
    const expected = [...ids].sort((x, y) => tieBreakHash(x, 'ann', 1) - tieBreakHash(y, 'ann', 1))[0];
    expect(step(s, [claimNext('ann')], T0).result.outcomes[0]!.taskId).toBe(expected);
  });

  it('two claim-nexts in one batch never get the same task, and later ones see earlier grants', () => {
    const s = makeState({
      tasks: [task('a', { area: 'src/' }), task('b', { area: 'src/x/' }), task('c', { area: 'docs/' })],
      workers: [profile('ann'), profile('bob'), profile('cat')],
    });
    const { state, result } = step(s, [claimNext('ann'), claimNext('bob'), claimNext('cat')], T0);
    const granted = result.outcomes.filter((o) => o.status === 'granted').map((o) => o.taskId);
    expect(new Set(granted).size).toBe(granted.length);
    expect(granted).toHaveLength(2); // a and b overlap: only one of them
    expect(result.outcomes.find((o) => o.status === 'rejected')).toMatchObject({ code: 'no-matching-task' });
    expect(checkInvariants(state)).toEqual([]);
  });

  it('newcomers pick before recently credited workers in the same batch', () => {
    const s0 = makeState({ tasks: [task('w1'), task('best', { priority: 90 }), task('other')], workers: [profile('vet'), profile('new')] });
    let s = step(s0, [claim('vet', 'w1')], T0).state;
    s = step(s, [complete('vet', 'w1', 1)], T0 + 1).state;
    const { result } = step(s, [claimNext('vet', 'cv'), claimNext('new', 'cn')], T0 + 2);
    expect(result.outcomes[1]).toMatchObject({ intentId: 'cn', taskId: 'best' });
    expect(result.outcomes[0]).toMatchObject({ intentId: 'cv', taskId: 'other' });
  });
});

describe('batch order and idempotency', () => {
  it('publishes the order: non-claims, then claims, then claim-nexts by fairness, each in arrival order', () => {
    const intents: Intent[] = [
      claimNext('x', 'n1'),
      claim('y', 't', 'c1'),
      release('z', 't', 1, 'r1'),
      claimNext('w', 'n2'),
      claim('v', 't', 'c2'),
      { kind: 'cancel', id: 'k1', workerId: 'm', taskId: 't' },
    ];
    const order = intentOrder(intents, (w) => (w === 'w' ? 1 : 0.5)).map((i) => intents[i]!.id);
    expect(order).toEqual(['r1', 'k1', 'c1', 'c2', 'n2', 'n1']);
  });

  it('of two named claims on one task, the first in order wins and the second gets already-leased', () => {
    const s = makeState({ tasks: [task('t')], workers: [profile('ann'), profile('bob')] });
    const { result } = step(s, [claim('bob', 't', 'b'), claim('ann', 't', 'a')], T0);
    expect(result.outcomes[0]).toMatchObject({ intentId: 'b', status: 'granted' });
    expect(result.outcomes[1]).toMatchObject({ intentId: 'a', status: 'rejected', code: 'already-leased' });
  });

  it('a release in the same batch frees capacity for a claim listed before it', () => {
    const s0 = makeState({ tasks: [task('a', { points: 3 }), task('b', { points: 3 })], workers: [profile('ann')] });
    const s = step(s0, [claim('ann', 'a')], T0).state;
    const { result } = step(s, [claim('ann', 'b'), release('ann', 'a', 1)], T0 + 1);
    expect(result.outcomes.map((o) => o.status)).toEqual(['granted', 'applied']);
  });

  it('returns the stored outcome for a repeated intent id, with no new event', () => {
    const s0 = makeState({ tasks: [task('a'), task('b')], workers: [profile('ann', { capacity: 5 })] });
    const first = step(s0, [claim('ann', 'a', 'same')], T0);
    const again = step(first.state, [claim('ann', 'b', 'same')], T0 + 1);
    expect(again.result.outcomes[0]).toEqual(first.result.outcomes[0]);
    expect(again.result.events).toEqual([]);
    expect(again.state.ledger.tasks.b!.state).toBe('queued');
  });

  it('a repeated id within one batch gets the first outcome', () => {
    const s = makeState({ tasks: [task('a')], workers: [profile('ann', { capacity: 5 })] });
    const { result } = step(s, [claim('ann', 'a', 'dup'), claimNext('ann', 'dup')], T0);
    expect(result.outcomes).toHaveLength(2);
    expect(result.outcomes[1]).toBe(result.outcomes[0]);
    expect(result.events.filter((e) => e.kind === 'lease-granted')).toHaveLength(1);
  });

  it('each call is one batch and outcomes carry it', () => {
    const s = makeState({ tasks: [task('a')], workers: [profile('ann')] });
    const r1 = step(s, [], T0);
    const r2 = step(r1.state, [claim('ann', 'a')], T0);
    expect(r1.result.ledger.batch).toBe(1);
    expect(r2.result.outcomes[0]!.batch).toBe(2);
  });
});

describe('reconcile', () => {
  it('gives new board tasks a queued runtime with queuedAt = min(now, createdAt)', () => {
    const s = makeState({ tasks: [task('past', { createdAt: T0 - 5 }), task('future', { createdAt: T0 + 99 })], workers: [profile('ann')] });
    const { state, result } = step(s, [], T0);
    expect(state.ledger.tasks.past).toEqual({ taskId: 'past', repo: REPO, state: 'queued', attempt: 0, fencingToken: 0, queuedAt: T0 - 5, updatedAt: T0 });
    expect(state.ledger.tasks.future!.queuedAt).toBe(T0);
    expect(result.events.map((e) => [e.kind, e.taskId])).toEqual([
      ['task-queued', 'future'],
      ['task-queued', 'past'],
    ]);
    expect(state.ledger.workers.ann).toMatchObject({ pointsInUse: 0, activeLeases: [] });
  });

  it('keeps runtimes whose board task disappeared, and never offers them', () => {
    const s0 = makeState({ tasks: [task('a')], workers: [profile('ann')] });
    const s1 = step(s0, [], T0).state;
    const gone = { ...s1, board: { ...s1.board, tasks: {} } };
    const { state, result } = step(gone, [claim('ann', 'a'), claimNext('ann')], T0 + 1);
    expect(state.ledger.tasks.a!.state).toBe('queued');
    expect(result.outcomes.map((o) => o.code)).toEqual(['task-not-claimable', 'no-matching-task']);
  });

  it('uses DEFAULTS for a repo with no policy', () => {
    const s = makeState({ tasks: [task('a', { repo: 'who/else' })], workers: [profile('ann')], repos: [] });
    const { state } = step(s, [claim('ann', 'a')], T0);
    expect(state.ledger.tasks.a!.lease!.ttlMs).toBe(2 * HOUR);
  });
});

describe('purity and helpers', () => {
  it('does not mutate its input', () => {
    const s0 = makeState({ tasks: [task('a'), task('b')], workers: [profile('ann')], repos: [policy(REPO, { leaseTtlMs: HOUR })] });
    const s1 = step(s0, [claim('ann', 'a')], T0).state;
    const before = canonical(s1);
    schedule(s1, [submit('ann', 'a', 1), claim('ann', 'b'), release('ann', 'a', 1)], T0 + 2 * HOUR);
    expect(canonical(s1)).toBe(before);
  });

  it('activeLeaseCount, reviewLoad and pointsInUse summarise a ledger', () => {
    const s0 = makeState({ tasks: [task('a', { points: 2 }), task('b'), task('c')], workers: [profile('ann', { capacity: 5 }), profile('bob')] });
    let s = step(s0, [claim('ann', 'a'), claim('bob', 'b')], T0).state;
    s = step(s, [submit('ann', 'a', 1)], T0 + 1).state;
    expect(activeLeaseCount(s.ledger, REPO)).toBe(2);
    expect(activeLeaseCount(s.ledger)).toBe(2);
    expect(reviewLoad(s.ledger, REPO)).toEqual({ repo: REPO, leased: 1, prOpen: 1, total: 2 });
    expect(pointsInUse(s.ledger, 'ann')).toBe(2);
  });

  it('handles 10,000 queued tasks and 500 claim-nexts in one batch within the rules', () => {
    const repos = Array.from({ length: 20 }, (_, i) => policy(`org/r${i}`, { reviewBudget: 50 }));
    const tasks = Array.from({ length: 10_000 }, (_, i) =>
      task(`org/r${i % 20}#${i}`, { repo: `org/r${i % 20}`, priority: (i * 37) % 200 - 100, area: `src/m${i % 97}/`, skills: i % 3 ? ['ts'] : ['py'] }),
    );
    const workers = Array.from({ length: 500 }, (_, i) => profile(`w${i}`, { skills: i % 2 ? ['ts'] : ['ts', 'py'] }));
    const s = makeState({ tasks, workers, repos });
    const { state, result } = step(s, workers.map((w) => claimNext(w.id)), T0);
    expect(result.outcomes).toHaveLength(500);
    const granted = result.outcomes.filter((o) => o.status === 'granted');
    expect(granted.length).toBeGreaterThan(0);
    expect(checkInvariants(state)).toEqual([]);
  });
});

describe('checkInvariants', () => {
  it('reports a corrupted ledger, rule by rule', () => {
    const s0 = makeState({
      tasks: [task('a', { area: 'src/', points: 2 }), task('b', { area: 'src/x/' }), task('c')],
      workers: [profile('ann', { capacity: 5, maxConcurrent: 3 }), profile('bob')],
      repos: [policy(REPO, { reviewBudget: 2 })],
    });
    const s = step(s0, [claim('ann', 'a'), claim('bob', 'c')], T0).state;
    expect(checkInvariants(s)).toEqual([]);
    const lease = { ...s.ledger.tasks.a!.lease!, taskId: 'b', fencingToken: 1, area: 'src/x/' };
    const broken = {
      ...s,
      ledger: {
        ...s.ledger,
        tasks: {
          ...s.ledger.tasks,
          b: { ...s.ledger.tasks.b!, state: 'leased' as const, fencingToken: 1, attempt: 1, lease },
          c: { ...s.ledger.tasks.c!, state: 'queued' as const },
        },
        workers: { ...s.ledger.workers, ann: { ...s.ledger.workers.ann!, pointsInUse: 9 } },
      },
    };
    const problems = checkInvariants(broken).join('\n');
    expect(problems).toContain('task c: state queued but has lease');
    expect(problems).toContain('worker ann: activeLeases ["a"] but leases say ["a","b"]');
    expect(problems).toContain('worker ann: pointsInUse 9');
    expect(problems).toContain('limit: repo acme/app has 3 active leases, review budget 2');
    expect(problems).toContain('overlapping areas');
  });
});

describe('edge cases', () => {
  it('a worker claiming a task it already holds is told so', () => {
    const s0 = makeState({ tasks: [task('a')], workers: [profile('ann')] });
    const s = step(s0, [claim('ann', 'a')], T0).state;
    const o = step(s, [claim('ann', 'a')], T0 + 1).result.outcomes[0]!;
    expect(o).toMatchObject({ code: 'already-leased' });
    expect(o.message).toMatch(/You already hold task a \(fencing token 1\)/);
  });

  it('lifting a board cancellation clears cancelPending', () => {
    const s0 = makeState({ tasks: [task('a')], workers: [profile('ann')] });
    const s1 = step(s0, [claim('ann', 'a')], T0).state;
    const flagged = { ...s1, board: { ...s1.board, tasks: { a: { ...s1.board.tasks.a!, cancelled: true } } } };
    const s2 = step(flagged, [], T0 + 1).state;
    expect(s2.ledger.tasks.a!.cancelPending).toBe(true);
    const s3 = step({ ...s2, board: s1.board }, [release('ann', 'a', 1)], T0 + 2).state;
    expect(s3.ledger.tasks.a!.state).toBe('queued');
  });

  it('a second review "open" with the same PR changes nothing and emits nothing', () => {
    const s0 = makeState({ tasks: [task('a')], workers: [profile('ann')] });
    let s = step(s0, [claim('ann', 'a')], T0).state;
    s = step(s, [submit('ann', 'a', 1)], T0 + 1).state;
    const { state, result } = step(s, [{ kind: 'review', id: 'ro', workerId: 'gh', taskId: 'a', result: 'open' }], T0 + 2);
    expect(result.outcomes[0]!.status).toBe('applied');
    expect(result.events).toEqual([]);
    expect(state.ledger.tasks.a).toEqual(s.ledger.tasks.a);
  });
});

describe('ids that name Object.prototype members', () => {
  it('treats "constructor", "toString" and "__proto__" as ordinary ids', () => {
    // model.ts refuses these ids at the boundary now; the scheduler must still be safe if one
    // reaches it (an older ledger or board), so the fixtures are built past validation.
    const named = <T extends { id: string }>(v: T, id: string): T => ({ ...v, id });
    const s0 = makeState({
      tasks: [named(task('t-constructor'), 'constructor'), named(task('t-proto'), '__proto__')],
      workers: [named(profile('p-tostring'), 'toString'), named(profile('p-constructor'), 'constructor')],
    });
    let { state, result } = step(s0, [claim('toString', '__proto__', 'constructor'), claim('constructor', 'constructor', '__proto__')], T0);
    expect(result.outcomes.map((o) => o.status)).toEqual(['granted', 'granted']);
    expect(Object.keys(state.ledger.tasks).sort()).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(state.ledger.tasks)).toBe(Object.prototype);
    expect(state.ledger.outcomes.constructor).toMatchObject({ intentId: 'constructor', status: 'granted' });
    ({ state, result } = step(state, [fail('toString', '__proto__', 1, 'gave up', 'r1'), claimNext('constructor', 'hasOwnProperty')], T0 + 1));
    expect(result.outcomes[0]!.status).toBe('applied');
    // a failed task puts its worker in cooldown on it, stored under the prototype-named key as its own property
    expect(Object.hasOwn(state.ledger.workers['toString' as string]!.cooldowns, '__proto__')).toBe(true);
    expect(checkInvariants(state)).toEqual([]);
    // an unknown intent id that names a prototype member is decided, not mistaken for a stored outcome
    const r = step(state, [claim('toString', 'nope', 'valueOf')], T0 + 2).result;
    expect(r.outcomes[0]).toMatchObject({ intentId: 'valueOf', code: 'unknown-task' });
  });
});
