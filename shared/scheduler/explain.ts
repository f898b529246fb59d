/**
 * explainTask(state, taskId, now): why a task is (not) being taken, in the scheduler's own
 * words. It runs the real claim filters (filters.ts) for the task against every registered
 * worker, exactly as a named claim by that worker would, and sums the answers up in one
 * sentence a maintainer can act on ("no available worker has skill rust", "area
 * src/billing/ is frozen", "tier 2 needs trust level 2, above every worker's trust", "review budget
 * full"). A worker's trust is its level in the task's repo (trust ladder, overrides).
 *
 * Invariants:
 * - Pure: reads its input only (presence is passed in), never mutates it; same input, same
 *   explanation; workers are listed in id order.
 * - Uses the filters' own tests and messages in their published order, so it cannot drift
 *   from what a claim would be told: a worker listed in `fits` would be granted a named
 *   claim in a batch at `now` with nothing else in it.
 * - Task-wide reasons (the task's state, a policy that refuses its tier, frozen areas,
 *   area locks, the review budget) are `blockers`: they hold for every worker.
 */
import type { ErrorCode } from '../errors.js';
import { DEFAULTS, type PoolState, type TaskState } from '../model.js';
import { FILTERS, STATE_FILTERS, taskClaimable, tier as tierFilter, trustOf, type ClaimContext } from './filters.js';
import { areaKey, compareStrings, keysOverlap, createDraft, defaultPolicy, own, policyFor, workerRuntime } from './state.js';

export interface ExplainReason {
  filter: string;
  code: ErrorCode;
  message: string;
}

export interface WorkerVerdict {
  workerId: string;
  online?: boolean;
  /** The first filter that refuses this worker; absent when it could claim the task now. */
  refusal?: ExplainReason;
}

export interface Explanation {
  taskId: string;
  state: TaskState | 'unknown';
  /** One sentence for a person. */
  summary: string;
  /** Reasons that hold for every worker. Empty when only per-worker filters say no. */
  blockers: ExplainReason[];
  /** Every registered worker (by id) and what the filters say for it. */
  workers: WorkerVerdict[];
  /** Workers that could claim it now (id order). */
  fits: string[];
}

export interface ExplainOptions {
  /** Presence (e.g. seen in the last minute). Without it, presence is not mentioned. */
  online?: (workerId: string) => boolean;
}

const PER_WORKER = FILTERS.filter((f) => f !== taskClaimable && f.scope !== 'state');

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
const list = (xs: readonly string[]): string => (xs.length <= 1 ? (xs[0] ?? '') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`);

function blockerText(r: ExplainReason, ctx: ClaimContext): string {
  switch (r.code) {
    case 'area-frozen':
      return `area ${ctx.policy.frozenAreas.find((f) => keysOverlap(areaKey(f), ctx.area)) ?? ctx.task?.area} is frozen`;
    case 'review-budget-full':
      return `review budget full (${ctx.draft.active.get(ctx.policy.repo)?.count ?? 0} of ${ctx.policy.reviewBudget} leased or awaiting review in ${ctx.policy.repo})`;
    case 'area-locked':
      return `its area overlaps a task under an active lease (${r.message})`;
    case 'tier-not-allowed':
      return `repo ${ctx.policy.repo} accepts tiers ${ctx.policy.allowedTiers.join(', ') || '(none)'} and the task is tier ${ctx.task?.tier ?? DEFAULTS.tier}`;
    default:
      return r.message;
  }
}

/** One phrase per refusal code, over the workers it refused (`everyone`: every available worker). */
function groupText(code: ErrorCode, ids: string[], ctx: ClaimContext, everyone: boolean, nobodyHas: string[]): string {
  const who = list(ids);
  const t = ctx.task?.tier ?? DEFAULTS.tier;
  switch (code) {
    case 'skill-mismatch':
      if (everyone && nobodyHas.length) return `no available worker has skill ${list(nobodyHas)}`;
      return `${who} ${ids.length === 1 ? 'lacks' : 'lack'} skill ${list(ctx.task?.skills ?? [])}`;
    case 'tier-not-allowed':
      return everyone ? `tier ${t} needs trust level ${t}, above every worker's trust` : `tier ${t} needs trust level ${t}, above the trust of ${who}`;
    case 'capacity-exceeded':
      return `${who} ${ids.length === 1 ? 'has' : 'have'} no room for ${plural(ctx.task?.points ?? DEFAULTS.points, 'point', 'points')}`;
    case 'max-concurrent':
      return `${who} already ${ids.length === 1 ? 'holds its' : 'hold their'} maximum of leases at once`;
    case 'max-open-prs':
      return `${who} already ${ids.length === 1 ? 'has its' : 'have their'} maximum of open pull requests`;
    case 'worker-unavailable':
      return everyone ? 'no worker is available' : `${who} ${ids.length === 1 ? 'is' : 'are'} unavailable`;
    case 'cooldown':
      return `${who} gave it back recently (cooldown)`;
    case 'daily-quota':
      return `${who} reached the daily claim quota`;
    default:
      return `${who}: ${code}`;
  }
}

export function explainTask(state: PoolState, taskId: string, now: number, opts: ExplainOptions = {}): Explanation {
  const draft = createDraft(state, now);
  const task = own(state.board.tasks, taskId);
  const runtime = own(draft.tasks, taskId);
  const repo = task?.repo ?? runtime?.repo;
  const ctx: ClaimContext = {
    draft,
    workerId: '',
    profile: undefined,
    skills: new Set(),
    workerState: workerRuntime(draft, ''),
    trust: DEFAULTS.workerTrust,
    taskId,
    task,
    runtime,
    policy: repo ? policyFor(draft, repo) : defaultPolicy(''),
    area: areaKey(task?.area ?? ''),
  };
  const st: Explanation['state'] = runtime?.state ?? (task ? (task.cancelled ? 'cancelled' : 'queued') : 'unknown');
  const base = { taskId, state: st, workers: [] as WorkerVerdict[], fits: [] as string[] };

  const no = taskClaimable.test(ctx);
  if (no !== null) {
    const message = taskClaimable.explain(ctx, no);
    return { ...base, summary: message, blockers: [{ filter: taskClaimable.name, code: no, message }] };
  }

  const blockers: ExplainReason[] = [];
  const texts: string[] = [];
  const policyTier = ctx.policy.allowedTiers.includes(task?.tier ?? DEFAULTS.tier) ? null : 'tier-not-allowed';
  if (policyTier) {
    const r: ExplainReason = { filter: tierFilter.name, code: policyTier, message: `Repo ${ctx.policy.repo} accepts risk tiers ${ctx.policy.allowedTiers.join(', ') || '(none)'}; task ${taskId} is tier ${task?.tier ?? DEFAULTS.tier}.` };
    blockers.push(r);
    texts.push(blockerText(r, ctx));
  }
  for (const f of STATE_FILTERS) {
    const code = f.test(ctx);
    if (code === null) continue;
    const r: ExplainReason = { filter: f.name, code, message: f.explain(ctx, code) };
    blockers.push(r);
    texts.push(blockerText(r, ctx));
  }

  const workers: WorkerVerdict[] = [];
  const fits: string[] = [];
  const groups = new Map<ErrorCode, string[]>();
  const availableSkills = new Set<string>();
  for (const id of Object.keys(state.profiles).sort(compareStrings)) {
    const profile = own(state.profiles, id)!;
    ctx.workerId = id;
    ctx.profile = profile;
    ctx.skills = new Set(profile.skills);
    ctx.workerState = workerRuntime(draft, id);
    ctx.trust = own(state.board.trust, id) ?? DEFAULTS.workerTrust;
    const v: WorkerVerdict = { workerId: id, ...(opts.online ? { online: opts.online(id) } : {}) };
    for (const f of PER_WORKER) {
      // The policy half of the tier filter is a blocker above; here only the worker's trust counts.
      const code = f === tierFilter ? ((task?.tier ?? DEFAULTS.tier) > trustOf(ctx) ? 'tier-not-allowed' : null) : f.test(ctx);
      if (code === null) continue;
      v.refusal = { filter: f.name, code, message: f.explain(ctx, code) };
      break;
    }
    if (v.refusal?.code !== 'worker-unavailable') for (const s of profile.skills) availableSkills.add(s);
    if (v.refusal) {
      const g = groups.get(v.refusal.code) ?? [];
      g.push(id);
      groups.set(v.refusal.code, g);
    } else fits.push(id);
    workers.push(v);
  }

  let summary: string;
  if (blockers.length) {
    summary = `Nobody can take it now: ${list(texts)}.`;
  } else if (fits.length) {
    const offline = opts.online ? fits.filter((id) => !opts.online!(id)) : [];
    summary =
      offline.length === fits.length
        ? `${list(fits)} could take it, but ${fits.length === 1 ? 'is not' : 'none is'} online right now.`
        : `${list(fits)} can take it now; it goes to the next fitting worker that asks.`;
  } else if (workers.length === 0) {
    summary = 'No worker has registered yet (owp worker register).';
  } else {
    const nAvailable = workers.length - (groups.get('worker-unavailable')?.length ?? 0);
    const nobodyHas = (task?.skills ?? []).filter((s) => !availableSkills.has(s));
    const parts = [...groups]
      .sort((a, b) => b[1].length - a[1].length || compareStrings(a[0], b[0]))
      .map(([code, ids]) => groupText(code, ids, ctx, ids.length === (code === 'worker-unavailable' ? workers.length : nAvailable), nobodyHas));
    summary = `Nobody can take it now: ${list(parts)}.`;
  }
  return { ...base, summary, blockers, workers, fits };
}
