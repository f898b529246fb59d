/**
 * Claim filters: small named checks, run in a fixed order; the first that says no decides
 * the rejection (its name and code go into the Outcome and the audit event).
 *
 * Invariants:
 * - A filter only reads the context; it never changes state.
 * - `test(ctx)` answers null (pass) or the stable ErrorCode of the refusal, cheaply (no
 *   allocation: claim-next runs it for every queued task); `explain(ctx, code)` builds the
 *   sentence naming the task, the worker and the limit exceeded; `check(ctx)` is both.
 * - `scope: 'worker'` filters depend on the worker alone (claim-next checks them once);
 *   `scope: 'state'` filters depend on the task and the pool (frozen areas, area locks,
 *   review budget), the same for every worker; `scope: 'task'` filters depend on the
 *   (task, worker) pair.
 * - Order (published in docs/SCHEDULER.md): task-claimable, worker-known, skills, tier,
 *   capacity, max-concurrent, max-open-prs, area-freeze, area-lock, review-budget, cooldown, daily-quota.
 */
import { DEFAULTS } from '../model.js';
import type { RepoPolicy, RiskTier, Task, TaskRuntime, WorkerProfile, WorkerRuntime } from '../model.js';
import type { ErrorCode } from '../errors.js';
import { areaKey, claimsToday, compareStrings, keysOverlap, own, type Draft } from './state.js';
import { leasesInProgress, maxOpenPrs, pointsInProgress } from './open-prs.js';
import { trustLevel } from '../trust-ladder.js';

export interface Rejection {
  code: ErrorCode;
  message: string;
}

/** Everything a filter may look at for one (task, worker) pair. Reused across candidates. */
export interface ClaimContext {
  draft: Draft;
  workerId: string;
  profile: WorkerProfile | undefined;
  skills: Set<string>;
  workerState: WorkerRuntime;
  trust: RiskTier;
  taskId: string;
  task: Task | undefined;
  runtime: TaskRuntime | undefined;
  policy: RepoPolicy;
  /** areaKey(task.area). */
  area: string;
}

export interface Filter {
  name: string;
  scope: 'worker' | 'state' | 'task';
  test(ctx: ClaimContext): ErrorCode | null;
  explain(ctx: ClaimContext, code: ErrorCode): string;
  check(ctx: ClaimContext): Rejection | null;
}

function filter(name: string, scope: Filter['scope'], test: Filter['test'], explain: Filter['explain']): Filter {
  return {
    name,
    scope,
    test,
    explain,
    check(ctx) {
      const code = test(ctx);
      return code === null ? null : { code, message: explain(ctx, code) };
    },
  };
}

export const taskClaimable = filter(
  'task-claimable',
  'task',
  ({ task, runtime }) => {
    if (!task) return runtime ? 'task-not-claimable' : 'unknown-task';
    if (runtime && runtime.lease && (runtime.state === 'leased' || runtime.state === 'pr_open')) return 'already-leased';
    if ((runtime && runtime.state !== 'queued') || task.cancelled || task.held) return 'task-not-claimable';
    return null;
  },
  ({ taskId, task, runtime, workerId }, code) => {
    if (code === 'unknown-task') return `There is no task ${taskId} on the board. Check the id (e.g. owner/repo#12) with \`owp tasks\`.`;
    if (!task) return `Task ${taskId} is no longer on the board, so it cannot be claimed.`;
    if (code === 'already-leased') {
      return runtime!.lease!.workerId === workerId
        ? `You already hold task ${taskId} (fencing token ${runtime!.lease!.fencingToken}); keep working on it.`
        : `Task ${taskId} is leased by ${runtime!.lease!.workerId}; pick another task or wait for it to be released.`;
    }
    if (runtime && runtime.state === 'stuck') return `Task ${taskId} is stuck and waits for a maintainer to requeue it, so it cannot be claimed.`;
    if (runtime && runtime.state === 'done') return `Task ${taskId} is already done, so it cannot be claimed.`;
    if ((runtime && runtime.state === 'cancelled') || task.cancelled) return `Task ${taskId} was cancelled by a maintainer, so it cannot be claimed.`;
    return `Task ${taskId} is on hold by a maintainer; it cannot be claimed until they lift the hold.`;
  },
);

export const workerKnown = filter(
  'worker-known',
  'worker',
  ({ profile }) => (!profile ? 'unknown-worker' : profile.available === false ? 'worker-unavailable' : null),
  ({ workerId }, code) =>
    code === 'unknown-worker'
      ? `Worker ${workerId} has no profile yet: register skills and capacity (\`owp worker register --skills a,b --capacity N\`) before claiming.`
      : `Worker ${workerId} is marked unavailable; set available to true in its profile to claim work.`,
);

/** The skills filter's test: the worker has every skill the task needs. */
export function hasSkills(needed: readonly string[], have: ReadonlySet<string>): boolean {
  for (const s of needed) if (!have.has(s)) return false;
  return true;
}

export const skills = filter(
  'skills',
  'task',
  ({ task, skills: have }) => (task && !hasSkills(task.skills, have) ? 'skill-mismatch' : null),
  ({ task, skills: have, taskId, workerId }) => {
    const missing = (task?.skills ?? []).filter((s) => !have.has(s));
    return `Task ${taskId} needs skill(s) ${missing.join(', ')} that worker ${workerId} has not declared.`;
  },
);

/** The worker's trust level in the task's repo (shared/trust-ladder.ts: override, ladder, base). */
export function trustOf(ctx: ClaimContext): RiskTier {
  // Fast path: no ladder and no override in this repo means the base trust (ctx.trust).
  if (!ctx.policy.trustLadder?.enabled && !ctx.draft.repoOverrides) return ctx.trust;
  return trustLevel(ctx.draft.board.trust, ctx.workerId, ctx.workerState, ctx.policy);
}

export const tier = filter(
  'tier',
  'task',
  (ctx) => {
    const t = ctx.task?.tier ?? DEFAULTS.tier;
    return !ctx.policy.allowedTiers.includes(t) || t > trustOf(ctx) ? 'tier-not-allowed' : null;
  },
  (ctx) => {
    const { task, policy, taskId, workerId } = ctx;
    const t = task?.tier ?? DEFAULTS.tier;
    const level = trustOf(ctx);
    return policy.allowedTiers.includes(t)
      ? `Task ${taskId} is risk tier ${t} and needs trust level ${t}; worker ${workerId} is at trust level ${level} in ${policy.repo}.`
      : `Repo ${policy.repo} accepts risk tiers ${policy.allowedTiers.join(', ') || '(none)'}; task ${taskId} is tier ${t}.`;
  },
);

export const capacity = filter(
  'capacity',
  'task',
  ({ draft, task, profile, workerState }) => (pointsInProgress(draft, workerState) + (task?.points ?? DEFAULTS.points) <= (profile?.capacity ?? 0) ? null : 'capacity-exceeded'),
  ({ draft, task, profile, workerState, taskId, workerId }) => {
    const points = task?.points ?? DEFAULTS.points;
    const cap = profile?.capacity ?? 0;
    const busy = pointsInProgress(draft, workerState);
    return `Task ${taskId} needs ${points} point(s); worker ${workerId} has ${Math.max(0, cap - busy)} of ${cap} free (${busy} in use by tasks in progress).`;
  },
);

/** Leases in progress only: a pull request awaiting review counts in max-open-prs (open-prs.ts). */
export const maxConcurrent = filter(
  'max-concurrent',
  'worker',
  ({ draft, profile, workerState }) => (leasesInProgress(draft, workerState) < (profile?.maxConcurrent ?? 0) ? null : 'max-concurrent'),
  ({ draft, profile, workerState, workerId }) =>
    `Worker ${workerId} is working on ${leasesInProgress(draft, workerState)} task(s), its maximum at once is ${profile?.maxConcurrent ?? 0}. Finish (submit) or release one first.`,
);

function frozenBy(ctx: ClaimContext): string | undefined {
  if (ctx.area === '') return undefined;
  return ctx.policy.frozenAreas.find((f) => keysOverlap(areaKey(f), ctx.area));
}

export const areaFreeze = filter(
  'area-freeze',
  'state',
  (ctx) => (ctx.area !== '' && ctx.policy.frozenAreas.length > 0 && frozenBy(ctx) !== undefined ? 'area-frozen' : null),
  (ctx) => `Task ${ctx.taskId} touches ${ctx.task?.area}, and a maintainer froze ${frozenBy(ctx)} in repo ${ctx.policy.repo}.`,
);

/** The active lease (lowest task id) whose area overlaps the candidate's, if any. */
function lockedBy(ctx: ClaimContext, first: boolean): [string, string] | undefined {
  if (ctx.area === '') return undefined;
  const load = ctx.draft.active.get(ctx.policy.repo);
  if (!load || load.areas.size === 0) return undefined;
  let hit: [string, string] | undefined;
  for (const [id, a] of load.areas) {
    if (id !== ctx.taskId && keysOverlap(a, ctx.area) && (hit === undefined || compareStrings(id, hit[0]) < 0)) {
      hit = [id, a];
      if (first) return hit;
    }
  }
  return hit;
}

export const areaLock = filter(
  'area-lock',
  'state',
  (ctx) => (lockedBy(ctx, true) ? 'area-locked' : null),
  (ctx) => {
    const [holder, held] = lockedBy(ctx, false)!;
    return `Task ${ctx.taskId} touches ${ctx.task?.area}, which overlaps ${held} under the active lease of task ${holder} in repo ${ctx.policy.repo}.`;
  },
);

export const reviewBudget = filter(
  'review-budget',
  'state',
  ({ draft, policy }) => ((draft.active.get(policy.repo)?.count ?? 0) < policy.reviewBudget ? null : 'review-budget-full'),
  ({ draft, policy, taskId }) =>
    `Repo ${policy.repo} has ${draft.active.get(policy.repo)?.count ?? 0} task(s) leased or awaiting review and a review budget of ${policy.reviewBudget}; task ${taskId} waits until reviews free a slot.`,
);

export const cooldown = filter(
  'cooldown',
  'task',
  ({ draft, workerState, taskId }) => {
    const until = own(workerState.cooldowns, taskId);
    return until === undefined || until <= draft.now ? null : 'cooldown';
  },
  ({ workerState, taskId, workerId }) =>
    `Worker ${workerId} gave task ${taskId} back recently; it may claim it again from ${new Date(workerState.cooldowns[taskId]!).toISOString()}.`,
);

export const dailyQuota = filter(
  'daily-quota',
  'task',
  ({ draft, workerState, policy }) => (claimsToday(draft, workerState) < policy.dailyQuota ? null : 'daily-quota'),
  ({ draft, workerState, policy, workerId }) =>
    `Worker ${workerId} made ${claimsToday(draft, workerState)} claim(s) today (UTC); repo ${policy.repo} allows ${policy.dailyQuota} a day. Try again after midnight UTC.`,
);

/** The pipeline, in its published order. */
export const FILTERS: readonly Filter[] = [
  taskClaimable,
  workerKnown,
  skills,
  tier,
  capacity,
  maxConcurrent,
  maxOpenPrs,
  areaFreeze,
  areaLock,
  reviewBudget,
  cooldown,
  dailyQuota,
];

export const WORKER_FILTERS: readonly Filter[] = FILTERS.filter((f) => f.scope === 'worker');
export const STATE_FILTERS: readonly Filter[] = FILTERS.filter((f) => f.scope === 'state');
/** Pair filters for a task already known to be claimable (claim-next's candidate pool). */
export const PAIR_FILTERS: readonly Filter[] = FILTERS.filter((f) => f.scope === 'task' && f !== taskClaimable);

/** Run `filters` in order; the first rejection wins (with its message). */
export function runFilters(filters: readonly Filter[], ctx: ClaimContext): { filter: string; rejection: Rejection } | null {
  for (const f of filters) {
    const code = f.test(ctx);
    if (code !== null) return { filter: f.name, rejection: { code, message: f.explain(ctx, code) } };
  }
  return null;
}

/** The first filter that says no, without building its message (the claim-next hot path). */
export function firstFailing(filters: readonly Filter[], ctx: ClaimContext): { filter: Filter; code: ErrorCode } | null {
  for (let i = 0; i < filters.length; i++) {
    const code = filters[i]!.test(ctx);
    if (code !== null) return { filter: filters[i]!, code };
  }
  return null;
}
