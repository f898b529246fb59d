/**
 * Claim filters: small named checks, run in a fixed order; the first that says no decides
 * the rejection (its name and code go into the Outcome and the audit event).
 *
 * Invariants:
 * - A filter only reads the context; it never changes state.
 * - A filter answers null (pass) or { code, message } where code is a stable ErrorCode and
 *   the message names the task, the worker and the limit that was exceeded.
 * - `scope: 'worker'` filters depend on the worker alone (claim-next checks them once);
 *   `scope: 'task'` filters depend on the (task, worker) pair.
 * - Order (published in docs/SCHEDULER.md): task-claimable, worker-known, skills, tier,
 *   capacity, max-concurrent, area-freeze, area-lock, review-budget, cooldown, daily-quota.
 */
import { DEFAULTS, areasOverlap, normaliseArea } from '../model.js';
import type { ErrorCode } from '../errors.js';
import type { RepoPolicy, RiskTier, Task, TaskRuntime, WorkerProfile, WorkerRuntime } from '../model.js';
import { claimsToday, compareStrings, repoLoad, type Work } from './state.js';

export interface Rejection {
  code: ErrorCode;
  message: string;
}

/** Everything a filter may look at for one (task, worker) pair. Reused across candidates. */
export interface ClaimContext {
  w: Work;
  workerId: string;
  profile: WorkerProfile | undefined;
  skills: Set<string>;
  wr: WorkerRuntime;
  trust: RiskTier;
  taskId: string;
  task: Task | undefined;
  rt: TaskRuntime | undefined;
  policy: RepoPolicy;
}

export interface Filter {
  name: string;
  scope: 'worker' | 'task';
  check(ctx: ClaimContext): Rejection | null;
}

const no = (code: ErrorCode, message: string): Rejection => ({ code, message });

export const taskClaimable: Filter = {
  name: 'task-claimable',
  scope: 'task',
  check({ taskId, task, rt, workerId }) {
    if (!task) {
      return rt
        ? no('task-not-claimable', `Task ${taskId} is no longer on the board, so it cannot be claimed.`)
        : no('unknown-task', `There is no task ${taskId} on the board. Check the id (e.g. owner/repo#12) with \`owp tasks\`.`);
    }
    if (rt && rt.lease && (rt.state === 'leased' || rt.state === 'pr_open')) {
      return rt.lease.workerId === workerId
        ? no('already-leased', `You already hold task ${taskId} (fencing token ${rt.lease.fencingToken}); keep working on it.`)
        : no('already-leased', `Task ${taskId} is leased by ${rt.lease.workerId}; pick another task or wait for it to be released.`);
    }
    if (rt && rt.state !== 'queued') {
      const why =
        rt.state === 'stuck'
          ? 'is stuck and waits for a maintainer to requeue it'
          : rt.state === 'done'
            ? 'is already done'
            : 'was cancelled';
      return no('task-not-claimable', `Task ${taskId} ${why}, so it cannot be claimed.`);
    }
    if (task.cancelled) return no('task-not-claimable', `Task ${taskId} was cancelled by a maintainer, so it cannot be claimed.`);
    if (task.held) return no('task-not-claimable', `Task ${taskId} is on hold by a maintainer; it cannot be claimed until they lift the hold.`);
    return null;
  },
};

export const workerKnown: Filter = {
  name: 'worker-known',
  scope: 'worker',
  check({ workerId, profile }) {
    if (!profile) {
      return no('unknown-worker', `Worker ${workerId} has no profile yet: register skills and capacity (\`owp register\`) before claiming.`);
    }
    if (profile.available === false) {
      return no('worker-unavailable', `Worker ${workerId} is marked unavailable; set available to true in its profile to claim work.`);
    }
    return null;
  },
};

export const skills: Filter = {
  name: 'skills',
  scope: 'task',
  check({ task, skills: have, taskId, workerId }) {
    const missing = (task?.skills ?? []).filter((s) => !have.has(s));
    if (missing.length === 0) return null;
    return no('skill-mismatch', `Task ${taskId} needs skill(s) ${missing.join(', ')} that worker ${workerId} has not declared.`);
  },
};

export const tier: Filter = {
  name: 'tier',
  scope: 'task',
  check({ task, trust, policy, taskId, workerId }) {
    const t = task?.tier ?? DEFAULTS.tier;
    if (t > trust) {
      return no('tier-not-allowed', `Task ${taskId} is risk tier ${t}; maintainers trust worker ${workerId} with tiers up to ${trust}.`);
    }
    if (!policy.allowedTiers.includes(t)) {
      return no('tier-not-allowed', `Repo ${policy.repo} accepts risk tiers ${policy.allowedTiers.join(', ') || '(none)'}; task ${taskId} is tier ${t}.`);
    }
    return null;
  },
};

export const capacity: Filter = {
  name: 'capacity',
  scope: 'task',
  check({ task, profile, wr, taskId, workerId }) {
    const points = task?.points ?? DEFAULTS.points;
    const cap = profile?.capacity ?? 0;
    if (wr.pointsInUse + points <= cap) return null;
    return no(
      'capacity-exceeded',
      `Task ${taskId} needs ${points} point(s); worker ${workerId} has ${Math.max(0, cap - wr.pointsInUse)} of ${cap} free (${wr.pointsInUse} in use).`,
    );
  },
};

export const maxConcurrent: Filter = {
  name: 'max-concurrent',
  scope: 'worker',
  check({ profile, wr, workerId }) {
    const max = profile?.maxConcurrent ?? 0;
    if (wr.activeLeases.length < max) return null;
    return no('max-concurrent', `Worker ${workerId} already holds ${wr.activeLeases.length} lease(s), its maximum at once is ${max}. Finish or release one first.`);
  },
};

export const areaFreeze: Filter = {
  name: 'area-freeze',
  scope: 'task',
  check({ task, policy, taskId }) {
    const area = task?.area ?? '';
    if (area === '') return null;
    const hit = policy.frozenAreas.find((f) => areasOverlap(f, area));
    if (hit === undefined) return null;
    return no('area-frozen', `Task ${taskId} touches ${area}, and a maintainer froze ${hit} in repo ${policy.repo}.`);
  },
};

export const areaLock: Filter = {
  name: 'area-lock',
  scope: 'task',
  check({ w, task, policy, taskId }) {
    const area = normaliseArea(task?.area ?? '');
    if (area === '') return null;
    const load = w.active.get(policy.repo);
    if (!load || load.areas.size === 0) return null;
    let holder: string | undefined;
    let held = '';
    for (const [id, a] of load.areas) {
      if (id !== taskId && areasOverlap(a, area) && (holder === undefined || compareStrings(id, holder) < 0)) {
        holder = id;
        held = a;
      }
    }
    if (holder === undefined) return null;
    return no('area-locked', `Task ${taskId} touches ${area}, which overlaps ${held} under the active lease of task ${holder} in repo ${policy.repo}.`);
  },
};

export const reviewBudget: Filter = {
  name: 'review-budget',
  scope: 'task',
  check({ w, policy, taskId }) {
    const count = repoLoad(w, policy.repo).count;
    if (count < policy.reviewBudget) return null;
    return no(
      'review-budget-full',
      `Repo ${policy.repo} has ${count} task(s) leased or awaiting review and a review budget of ${policy.reviewBudget}; task ${taskId} waits until reviews free a slot.`,
    );
  },
};

export const cooldown: Filter = {
  name: 'cooldown',
  scope: 'task',
  check({ w, wr, taskId, workerId }) {
    const until = wr.cooldowns[taskId];
    if (until === undefined || until <= w.now) return null;
    return no('cooldown', `Worker ${workerId} gave task ${taskId} back recently; it may claim it again from ${new Date(until).toISOString()}.`);
  },
};

export const dailyQuota: Filter = {
  name: 'daily-quota',
  scope: 'task',
  check({ w, wr, policy, workerId }) {
    const used = claimsToday(w, wr);
    if (used < policy.dailyQuota) return null;
    return no('daily-quota', `Worker ${workerId} made ${used} claim(s) today (UTC); repo ${policy.repo} allows ${policy.dailyQuota} a day. Try again after midnight UTC.`);
  },
};

/** The pipeline, in its published order. */
export const FILTERS: readonly Filter[] = [
  taskClaimable,
  workerKnown,
  skills,
  tier,
  capacity,
  maxConcurrent,
  areaFreeze,
  areaLock,
  reviewBudget,
  cooldown,
  dailyQuota,
];

export const WORKER_FILTERS: readonly Filter[] = FILTERS.filter((f) => f.scope === 'worker');
export const TASK_FILTERS: readonly Filter[] = FILTERS.filter((f) => f.scope === 'task');

/** Run `filters` in order; the first rejection wins. */
export function runFilters(filters: readonly Filter[], ctx: ClaimContext): { filter: string; rejection: Rejection } | null {
  for (const f of filters) {
    const r = f.check(ctx);
    if (r) return { filter: f.name, rejection: r };
  }
  return null;
}
