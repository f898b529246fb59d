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
import { DEFAULTS, type Intent, type RepoPolicy, type Task, type WorkerProfile } from '../model.js';
import { FILTERS, TASK_FILTERS, WORKER_FILTERS, firstFailing, runFilters, type ClaimContext } from './filters.js';
import { grant, type Decision } from './leases.js';
import { SCORES, beats, pairBound, partScore, type ScoreInput, type Scored } from './scores.js';
import { areaKey, compareStrings, defaultPolicy, newWorkerRuntime, policyFor, workerRuntime, type Work } from './state.js';

interface PoolEntry {
  id: string;
  task: Task;
  policy: RepoPolicy;
  area: string;
  /** Weighted sum of the task-only scores (priority, age). */
  taskPart: number;
}

/**
 * Tasks worth looking at for claim-next this batch: queued, on the board, not held or
 * cancelled; sorted by task-only score (desc), then id, so a claim-next can stop as soon
 * as no later task could reach the best total found (exact: see claimNext).
 */
export interface CandidatePool {
  entries: PoolEntry[];
}

const NO_WORKER: WorkerProfile = { id: '-', name: '-', skills: [], capacity: 1, maxConcurrent: 1, available: false };

export function candidatePool(w: Work): CandidatePool {
  const entries: PoolEntry[] = [];
  const wr = newWorkerRuntime('-', w.day);
  const none = new Set<string>();
  for (const id in w.tasks) {
    const rt = w.tasks[id]!;
    const task = w.board.tasks[id];
    if (rt.state !== 'queued' || !task || task.held || task.cancelled) continue;
    const input: ScoreInput = { task, queuedAt: rt.queuedAt, now: w.now, profile: NO_WORKER, skills: none, wr };
    entries.push({ id, task, policy: policyFor(w, task.repo), area: areaKey(task.area), taskPart: partScore(input, 'task', SCORES) });
  }
  entries.sort((a, b) => b.taskPart - a.taskPart || compareStrings(a.id, b.id));
  return { entries };
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
    area: '',
  };
}

export function claimNamed(w: Work, intent: Extract<Intent, { kind: 'claim' }>): Decision & { taskId: string } {
  const ctx = context(w, intent.workerId);
  const task = w.board.tasks[intent.taskId];
  const rt = w.tasks[intent.taskId];
  ctx.taskId = intent.taskId;
  ctx.task = task;
  ctx.rt = rt;
  ctx.policy = task ? policyFor(w, task.repo) : rt ? policyFor(w, rt.repo) : defaultPolicy('');
  ctx.area = areaKey(task?.area ?? '');
  const no = runFilters(FILTERS, ctx);
  if (no) return { status: 'rejected', code: no.rejection.code, message: no.rejection.message, filter: no.filter, taskId: intent.taskId };
  return { ...grant(w, intent.taskId, intent.workerId, intent.id), taskId: intent.taskId };
}

export function claimNext(w: Work, intent: Extract<Intent, { kind: 'claim-next' }>, pool: CandidatePool): Decision & { taskId?: string } {
  const ctx = context(w, intent.workerId);
  const wno = runFilters(WORKER_FILTERS, ctx);
  if (wno) return { status: 'rejected', code: wno.rejection.code, message: wno.rejection.message, filter: wno.filter };
  const input: ScoreInput = { task: undefined as unknown as Task, queuedAt: 0, now: w.now, profile: ctx.profile!, skills: ctx.skills, wr: ctx.wr };
  const workerPart = partScore(input, 'worker', SCORES);
  const pairMax = pairBound(SCORES);
  const counts = new Map<string, number>();
  let best: Scored | undefined;
  let looked = 0;
  for (const e of pool.entries) {
    // Every later entry has taskPart <= this one, so its total is <= this bound (float
    // addition is monotone): once the bound is below the best total, nothing later can win or tie.
    if (best && e.taskPart + workerPart + pairMax < best.total) break;
    const rt = w.tasks[e.id]!;
    if (rt.state !== 'queued') continue; // granted earlier in this batch
    looked++;
    ctx.taskId = e.id;
    ctx.task = e.task;
    ctx.rt = rt;
    ctx.policy = e.policy;
    ctx.area = e.area;
    const no = firstFailing(TASK_FILTERS, ctx);
    if (no) {
      if (!best) {
        const key = `${no.test(ctx)} (${no.name})`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      continue;
    }
    input.task = e.task;
    input.queuedAt = rt.queuedAt;
    const cand = { taskId: e.id, total: e.taskPart + workerPart + partScore(input, 'pair', SCORES) };
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
