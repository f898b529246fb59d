/**
 * Carry: what one batch hands to the next so a batch costs what changed, not the pool size.
 *
 * A batch's result ledger gets a Carry (kept in a WeakMap keyed by its `tasks` record, so it
 * is a cache, never part of the result): the active-lease index per repo, the ids of
 * 'leased' tasks (for expiry), the claim-next candidates (queued tasks the board offers) in
 * the last sorted order, and the task / worker ids the batch set. The next schedule() call
 * whose input ledger has that very `tasks` record, and which is told which board tasks
 * changed (ScheduleHints), takes the Carry over instead of scanning every task.
 *
 * Invariants:
 * - Only an optimisation: for the same input, schedule() returns the same result with or
 *   without a Carry (the scheduler tests compare both paths).
 * - A Carry is used at most once: taking it removes it, so a second call with the same
 *   ledger (a replay, a retried batch) takes the full path. Its structures are then moved
 *   on to the next ledger, never shared by two ledgers.
 * - A Carry is only valid for the exact `tasks` record it was made for: whoever changes
 *   that record after schedule() returned (adds or deletes keys, replaces values) must give
 *   the next call a new record (a copy), which simply misses the cache.
 * - `candidates` holds exactly the ids whose runtime is queued and whose board task exists
 *   and is neither held nor cancelled, as of the board the batch saw; `leased` exactly the
 *   ids in state leased with a lease. Both are synced for every id a batch sets (`dirty`)
 *   and every board task the hints name.
 */
import type { ErrorCode } from '../errors.js';
import type { Board, RepoPolicy, Task, TaskRuntime } from '../model.js';
import type { Filter } from './filters.js';
import type { Bucket } from './pool.js';
import { areaKey, copyRecord, own, put, type RepoLoad } from './state.js';

/** A claim-next candidate. The per-batch fields are reset when a batch builds its pool. */
export interface PoolEntry {
  id: string;
  task: Task;
  rt: TaskRuntime;
  area: string;
  /** Per batch: the repo's policy, the weighted task-only score (priority, age). */
  policy: RepoPolicy;
  taskPart: number;
  taken: boolean;
  /** In its priority bucket (pool.ts); the batch that last prepared it. */
  bucketed?: boolean;
  seen?: number;
  /** tieBreakHash's task part (hash.ts taskPrefixHash), computed on first need. */
  hashPrefix?: number;
  /** The state filter that blocks it for everyone, once one does (per batch). */
  blocked?: { filter: Filter; code: ErrorCode };
}

export interface Carry {
  active: Map<string, RepoLoad>;
  leased: Set<string>;
  candidates: Map<string, PoolEntry>;
  /** The candidates by task priority, each sorted by (queuedAt, id); see pool.ts. */
  buckets: Map<number, Bucket>;
  /** Some candidate has a non-integer queuedAt: the pool sorts instead of merging. */
  unordered: boolean;
  /** The input ledger's `tasks` record of the batch that made this Carry. */
  from: Record<string, TaskRuntime>;
  /** A copy of the ledger's `tasks` record made ahead of time (prepareNextBatch). */
  spare?: Record<string, TaskRuntime>;
  /** Task ids and worker ids set by the batch that made the ledger. */
  touched: Set<string>;
  workersTouched: Set<string>;
}

/** What the caller knows changed on the board since the call that produced its ledger. */
export interface ScheduleHints {
  /**
   * Every board task id whose value may differ (added, changed, removed) from the board the
   * previous schedule() call saw, the one that returned this input ledger. Without hints,
   * every batch reconciles the whole board (always correct).
   */
  changedTasks?: Iterable<string>;
}

const carries = new WeakMap<object, Carry>();

export function takeCarry(tasks: Record<string, TaskRuntime>): Carry | undefined {
  const c = carries.get(tasks);
  if (c) carries.delete(tasks);
  return c;
}

export function putCarry(tasks: Record<string, TaskRuntime>, c: Carry): void {
  carries.set(tasks, c);
}

/**
 * Make the next batch's working copy of the `tasks` record now (while the caller is idle),
 * so that batch does not: the one O(tasks) step left in a carried batch. A no-op without a
 * Carry or when already done. Changes no result: the copy equals what the batch would make.
 *
 * `recycle`: the caller may hand over the `tasks` record it gave to the batch that returned
 * `tasks` (and nothing else), which it will never use again and nobody else will read: it
 * is then brought up to date in O(changed ids) instead of copying every entry. Anything
 * else is ignored and a plain copy is made.
 */
export function prepareNextBatch(tasks: Record<string, TaskRuntime>, recycle?: Record<string, TaskRuntime>): void {
  const c = carries.get(tasks);
  if (!c || c.spare) return;
  if (recycle !== undefined && recycle === c.from && recycle !== tasks) {
    for (const id of c.touched) {
      if (Object.hasOwn(tasks, id)) put(recycle, id, tasks[id]!);
      else delete recycle[id];
    }
    c.spare = recycle;
  } else c.spare = copyRecord(tasks);
}

/** The task and worker ids the batch that returned this `tasks` record set, if known. */
export function batchChanges(tasks: Record<string, TaskRuntime>): { tasks: ReadonlySet<string>; workers: ReadonlySet<string> } | undefined {
  const c = carries.get(tasks);
  return c ? { tasks: c.touched, workers: c.workersTouched } : undefined;
}

function offered(rt: TaskRuntime | undefined, task: Task | undefined): task is Task {
  return !!rt && !!task && rt.state === 'queued' && !task.held && !task.cancelled;
}

/** Bring `candidates` and `leased` in line with the task `id` in `tasks` and `board`. */
export interface SyncTarget {
  candidates: Map<string, PoolEntry>;
  leased: Set<string>;
  buckets: Map<number, Bucket>;
  /** New candidates not yet in a bucket. */
  added: PoolEntry[];
}

function forget(c: SyncTarget, e: PoolEntry | undefined): void {
  if (!e?.bucketed) return;
  const b = c.buckets.get(e.task.priority);
  if (b) b.stale++;
}

export function syncTask(c: SyncTarget, tasks: Record<string, TaskRuntime>, board: Board, id: string): void {
  const rt = own(tasks, id);
  if (rt && rt.state === 'leased' && rt.lease) c.leased.add(id);
  else c.leased.delete(id);
  const task = own(board.tasks, id);
  if (offered(rt, task)) {
    const cur = c.candidates.get(id);
    if (cur && cur.rt === rt && cur.task === task) return;
    forget(c, cur);
    const e: PoolEntry = { id, task, rt: rt!, area: areaKey(task.area), policy: undefined as unknown as RepoPolicy, taskPart: 0, taken: false };
    c.candidates.set(id, e);
    c.added.push(e);
  } else {
    const cur = c.candidates.get(id);
    if (cur) {
      forget(c, cur);
      c.candidates.delete(id);
    }
  }
}
