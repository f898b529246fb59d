/**
 * Claims: a named `claim` runs the filter pipeline on one task; a `claim-next` runs it on
 * every claimable task and grants the best-scored survivor.
 *
 * Invariants:
 * - A grant happens only after every filter passed for that (task, worker) in the current
 *   working state, and the working state is updated before the next claim is looked at, so
 *   later claims of the same batch see earlier grants (capacity, area locks, budgets hold).
 * - claim-next's choice does not depend on the order candidates are visited (scores.ts
 *   `beats` is a strict total order), so it does not depend on object key order either.
 * - Cost: one claim-next is O(queued tasks x filters); nothing is O(tasks^2).
 */
import { DEFAULTS, type Intent, type Task } from '../model.js';
import { FILTERS, TASK_FILTERS, WORKER_FILTERS, runFilters, type ClaimContext } from './filters.js';
import { grant, type Decision } from './leases.js';
import { SCORES, beats, totalScore, type Scored } from './scores.js';
import { compareStrings, defaultPolicy, policyFor, workerRuntime, type Work } from './state.js';

/** Tasks worth looking at for claim-next this batch: queued, on the board, not held or cancelled. */
export interface CandidatePool {
  ids: string[];
}

export function candidatePool(w: Work): CandidatePool {
  const ids: string[] = [];
  for (const id in w.tasks) {
    const rt = w.tasks[id]!;
    const task = w.board.tasks[id];
    if (rt.state === 'queued' && task && !task.held && !task.cancelled) ids.push(id);
  }
  return { ids };
}

function context(w: Work, workerId: string): ClaimContext {
  const profile = w.profiles[workerId];
  return {
    w,
    workerId,
    profile,
    skills: new Set(profile?.skills ?? []),
    wr: workerRuntime(w, workerId),
    trust: w.board.trust[workerId] ?? DEFAULTS.workerTrust,
    taskId: '',
    task: undefined,
    rt: undefined,
    policy: defaultPolicy(''),
  };
}

function focus(ctx: ClaimContext, taskId: string, task: Task | undefined): void {
  ctx.taskId = taskId;
  ctx.task = task;
  ctx.rt = ctx.w.tasks[taskId];
  ctx.policy = task ? policyFor(ctx.w, task.repo) : ctx.rt ? policyFor(ctx.w, ctx.rt.repo) : defaultPolicy('');
}

export function claimNamed(w: Work, intent: Extract<Intent, { kind: 'claim' }>): Decision & { taskId: string } {
  const ctx = context(w, intent.workerId);
  focus(ctx, intent.taskId, w.board.tasks[intent.taskId]);
  const no = runFilters(FILTERS, ctx);
  if (no) return { status: 'rejected', code: no.rejection.code, message: no.rejection.message, filter: no.filter, taskId: intent.taskId };
  return { ...grant(w, intent.taskId, intent.workerId, intent.id), taskId: intent.taskId };
}

export function claimNext(w: Work, intent: Extract<Intent, { kind: 'claim-next' }>, pool: CandidatePool): Decision & { taskId?: string } {
  const ctx = context(w, intent.workerId);
  const wno = runFilters(WORKER_FILTERS, ctx);
  if (wno) return { status: 'rejected', code: wno.rejection.code, message: wno.rejection.message, filter: wno.filter };
  const profile = ctx.profile!;
  const counts = new Map<string, number>();
  let best: Scored | undefined;
  let looked = 0;
  for (const id of pool.ids) {
    const rt = w.tasks[id]!;
    if (rt.state !== 'queued') continue; // granted earlier in this batch
    looked++;
    const task = w.board.tasks[id]!;
    focus(ctx, id, task);
    const no = runFilters(TASK_FILTERS, ctx);
    if (no) {
      const key = `${no.rejection.code} (${no.filter})`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      continue;
    }
    const cand = { taskId: id, total: totalScore({ task, queuedAt: rt.queuedAt, now: w.now, profile, skills: ctx.skills, wr: ctx.wr }, SCORES) };
    if (!best || beats(cand, best, intent.workerId, w.batch)) best = cand;
  }
  if (!best) {
    const why = [...counts]
      .sort((a, b) => b[1] - a[1] || compareStrings(a[0], b[0]))
      .map(([k, n]) => `${n} ${k}`)
      .join(', ');
    const message =
      looked === 0
        ? `No task is queued and claimable right now for worker ${intent.workerId}; try again later.`
        : `None of the ${looked} queued task(s) fits worker ${intent.workerId} right now: ${why}.`;
    return { status: 'rejected', code: 'no-matching-task', message, filter: 'claim-next' };
  }
  return { ...grant(w, best.taskId, intent.workerId, intent.id), taskId: best.taskId };
}
