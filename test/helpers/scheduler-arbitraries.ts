/**
 * fast-check arbitraries for scheduler property tests: a small random world (tasks,
 * workers, one repo with a tight policy and one on defaults) and a random sequence of
 * steps (time jumps, board changes, batches of intents of every kind with current, stale
 * and future fencing tokens, holders and strangers, repeated intent ids).
 */
import fc from 'fast-check';
import { schedule, type ScheduleResult } from '../../shared/scheduler/index.js';
import {
  emptyLedger,
  parseRepoPolicy,
  parseTask,
  parseWorkerProfile,
  type Board,
  type Intent,
  type IntentKind,
  type PoolState,
  type RiskTier,
  type Task,
  type WorkerProfile,
} from '../../shared/model.js';

// The scheduler's properties import their options with their arbitraries; there is one helper.
export { fcOptions, SEED } from './fc.js';

const SKILLS = ['ts', 'py', 'docs'];
const AREAS = ['', 'src/', 'src/a/', 'src/b/', 'docs/', 'lib/x.ts'];
export const TIGHT = 'o/tight';
export const LOOSE = 'o/loose';
const T0 = Date.UTC(2026, 2, 1, 22, 0, 0);
const KINDS: IntentKind[] = ['claim', 'claim-next', 'heartbeat', 'release', 'submit', 'complete', 'fail', 'review', 'requeue', 'cancel'];

export interface TaskSpec {
  repo: string;
  points: number;
  skills: string[];
  tier: number;
  area: string;
  priority: number;
  held: boolean;
  createdOffset: number;
  appearAt: number;
  cancelAt: number | null;
}

export interface World {
  tasks: TaskSpec[];
  /** `pin`: a maintainer's override of the worker's trust level in the tight repo. */
  workers: { skills: string[]; capacity: number; maxConcurrent: number; available: boolean; trust: number; pin: number | null }[];
  policy: {
    reviewBudget: number;
    maxAttempts: number;
    cooldownMs: number;
    leaseTtlMs: number;
    dailyQuota: number;
    frozen: string[];
    tiers: number[];
    /** The tight repo's trust ladder (null: none, the default). */
    ladder: { enabled: boolean; promoteAfter: number; lookback: number; demoteAfter: number } | null;
  };
}

export interface IntentSpec {
  kind: IntentKind;
  w: number;
  t: number;
  token: 'current' | 'stale' | 'future';
  holder: boolean;
  result: 'open' | 'merged' | 'closed' | 'changes-requested';
  dup: number | null;
}

export interface Step {
  dt: number;
  intents: IntentSpec[];
}

const taskArb: fc.Arbitrary<TaskSpec> = fc
  .record({
  repo: fc.constantFrom(TIGHT, TIGHT, LOOSE),
  points: fc.integer({ min: 1, max: 3 }),
  skills: fc.oneof({ weight: 3, arbitrary: fc.subarray(['ts', 'py'], { maxLength: 1 }) }, { weight: 1, arbitrary: fc.subarray(SKILLS, { maxLength: 2 }) }),
  tier: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 1 }) }, { weight: 1, arbitrary: fc.constant(2) }),
  area: fc.constantFrom(...AREAS),
  priority: fc.integer({ min: -3, max: 3 }),
  createdOffset: fc.integer({ min: -5000, max: 5000 }),
  appearAt: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 4 })),
  cancelAt: fc.oneof({ weight: 8, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 12 }) }),
  })
  .chain((t) => fc.integer({ min: 0, max: 9 }).map((h) => ({ ...t, held: h === 0 })));

export const worldArb: fc.Arbitrary<World> = fc.record({
  tasks: fc.array(taskArb, { minLength: 2, maxLength: 7 }),
  workers: fc.array(
    fc.record({
      skills: fc.oneof({ weight: 3, arbitrary: fc.constant(['ts', 'py']) }, { weight: 1, arbitrary: fc.subarray(SKILLS) }) as fc.Arbitrary<string[]>,
      capacity: fc.integer({ min: 1, max: 4 }),
      maxConcurrent: fc.integer({ min: 1, max: 3 }),
      available: fc.integer({ min: 0, max: 7 }).map((n) => n !== 0),
      trust: fc.integer({ min: 1, max: 2 }),
      pin: fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 }) }),
    }),
    { minLength: 1, maxLength: 4 },
  ),
  policy: fc.record({
    reviewBudget: fc.integer({ min: 1, max: 3 }),
    maxAttempts: fc.integer({ min: 1, max: 3 }),
    cooldownMs: fc.integer({ min: 0, max: 3000 }),
    leaseTtlMs: fc.integer({ min: 1000, max: 6000 }),
    dailyQuota: fc.integer({ min: 1, max: 6 }),
    frozen: fc.subarray(['docs/', 'src/a/'], { maxLength: 1 }),
    tiers: fc.oneof({ weight: 3, arbitrary: fc.constant([0, 1]) }, { weight: 1, arbitrary: fc.subarray([0, 1, 2], { minLength: 1 }) }) as fc.Arbitrary<number[]>,
    ladder: fc.oneof(
      { weight: 1, arbitrary: fc.constant(null) },
      {
        weight: 1,
        arbitrary: fc.record({
          enabled: fc.integer({ min: 0, max: 5 }).map((n) => n !== 0),
          promoteAfter: fc.integer({ min: 1, max: 2 }),
          lookback: fc.integer({ min: 1, max: 3 }),
          demoteAfter: fc.integer({ min: 1, max: 2 }),
        }),
      },
    ),
  }),
});

const intentArb: fc.Arbitrary<IntentSpec> = fc.record({
  kind: fc.constantFrom(...KINDS, 'claim', 'claim', 'claim-next', 'claim-next', 'claim-next', 'heartbeat', 'submit', 'complete', 'release'),
  w: fc.nat({ max: 19 }),
  t: fc.nat({ max: 19 }),
  token: fc.constantFrom('current', 'current', 'current', 'stale', 'future'),
  holder: fc.integer({ min: 0, max: 3 }).map((n) => n !== 0),
  result: fc.constantFrom('open', 'merged', 'closed', 'changes-requested'),
  dup: fc.oneof({ weight: 12, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat({ max: 30 }) }),
});

export const stepsArb = (maxSteps: number): fc.Arbitrary<Step[]> =>
  fc.array(
    fc.record({
      dt: fc.oneof(
        { weight: 2, arbitrary: fc.constant(0) },
        { weight: 5, arbitrary: fc.integer({ min: 1, max: 4000 }) },
        { weight: 1, arbitrary: fc.integer({ min: 3 * 3600_000, max: 9 * 3600_000 }) },
      ),
      intents: fc.array(intentArb, { maxLength: 5 }),
    }),
    { minLength: 1, maxLength: maxSteps },
  );

export const taskId = (i: number): string => `t${i}`;
export const workerId = (i: number): string => `w${i}`;

export function boardAt(world: World, step: number): Board {
  const tasks: Record<string, Task> = {};
  world.tasks.forEach((t, i) => {
    if (t.appearAt > step) return;
    tasks[taskId(i)] = parseTask({
      id: taskId(i),
      repo: t.repo,
      title: `task ${i}`,
      points: t.points,
      skills: t.skills,
      tier: t.tier,
      area: t.area,
      priority: t.priority,
      held: t.held,
      cancelled: t.cancelAt !== null && step >= t.cancelAt,
      createdAt: T0 + t.createdOffset,
    });
  });
  const p = world.policy;
  const repos = {
    [TIGHT]: parseRepoPolicy({
      repo: TIGHT,
      reviewBudget: p.reviewBudget,
      maxAttempts: p.maxAttempts,
      cooldownMs: p.cooldownMs,
      leaseTtlMs: p.leaseTtlMs,
      dailyQuota: p.dailyQuota,
      frozenAreas: p.frozen,
      allowedTiers: p.tiers,
      ...(p.ladder ? { trustLadder: p.ladder } : {}),
    }),
  };
  const trust: Record<string, RiskTier> = {};
  world.workers.forEach((w, i) => {
    trust[workerId(i)] = w.trust as RiskTier;
    if (w.pin !== null) trust[`${TIGHT}/${workerId(i)}`] = w.pin as RiskTier;
  });
  return { tasks, repos, trust };
}

export function profilesOf(world: World): Record<string, WorkerProfile> {
  const out: Record<string, WorkerProfile> = {};
  world.workers.forEach((w, i) => {
    const { trust: _trust, pin: _pin, ...profile } = w;
    out[workerId(i)] = parseWorkerProfile({ id: workerId(i), name: `worker ${i}`, ...profile });
  });
  return out;
}

/** Turn a spec into a concrete intent against the current ledger. */
export function resolveIntent(spec: IntentSpec, state: PoolState, id: string, workers: number, tasks: number): Intent {
  // Mostly aim lease and review intents at a task someone holds, so valid moves are common.
  const active = Object.keys(state.ledger.tasks)
    .filter((id) => state.ledger.tasks[id]!.lease)
    .sort();
  const aimAtLease = spec.holder && active.length > 0 && spec.kind !== 'claim' && spec.kind !== 'claim-next';
  const tid = aimAtLease ? active[spec.t % active.length]! : spec.t >= 18 ? 'nope' : taskId(spec.t % tasks);
  const rt = state.ledger.tasks[tid];
  const cur = rt?.lease?.fencingToken ?? rt?.fencingToken ?? 1;
  const fencingToken = spec.token === 'current' ? Math.max(1, cur) : spec.token === 'future' ? cur + 1 : cur > 1 ? cur - 1 : cur + 2;
  const holder = rt?.lease?.workerId;
  const wid = spec.holder && holder ? holder : spec.w >= 18 ? 'ghost' : workerId(spec.w % workers);
  switch (spec.kind) {
    case 'claim':
      return { kind: 'claim', id, workerId: wid, taskId: tid };
    case 'claim-next':
      return { kind: 'claim-next', id, workerId: wid };
    case 'submit':
      return { kind: 'submit', id, workerId: wid, taskId: tid, fencingToken, prUrl: `https://github.com/${rt?.repo ?? TIGHT}/pull/${spec.t + 1}` };
    case 'fail':
      return { kind: 'fail', id, workerId: wid, taskId: tid, fencingToken, reason: 'it broke' };
    case 'heartbeat':
    case 'release':
    case 'complete':
      return { kind: spec.kind, id, workerId: wid, taskId: tid, fencingToken };
    case 'review':
      return { kind: 'review', id, workerId: 'maint', taskId: tid, result: spec.result };
    case 'requeue':
      return { kind: 'requeue', id, workerId: 'maint', taskId: tid };
    case 'cancel':
      return { kind: 'cancel', id, workerId: 'maint', taskId: tid, reason: 'not needed' };
  }
}

export interface Transition {
  index: number;
  before: PoolState;
  after: PoolState;
  intents: Intent[];
  result: ScheduleResult;
  now: number;
}

/** Run the steps from an empty ledger, calling `onStep` after every batch. */
export function runWorld(world: World, steps: Step[], onStep: (t: Transition) => void): PoolState {
  const profiles = profilesOf(world);
  let state: PoolState = { board: boardAt(world, 0), profiles, ledger: emptyLedger() };
  let now = T0;
  const ids: string[] = [];
  steps.forEach((step, index) => {
    now += step.dt;
    const before: PoolState = { ...state, board: boardAt(world, index) };
    const intents = step.intents.map((spec, k) => {
      const id = spec.dup !== null && ids.length > 0 ? ids[spec.dup % ids.length]! : `s${index}-${k}`;
      ids.push(id);
      return resolveIntent(spec, before, id, world.workers.length, world.tasks.length);
    });
    const result = schedule(before, intents, now);
    const after: PoolState = { ...before, ledger: result.ledger };
    onStep({ index, before, after, intents, result, now });
    state = after;
  });
  return state;
}

export { T0 as WORLD_T0 };
