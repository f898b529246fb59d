/**
 * The scheduler's working state for one batch: copy-on-write views of the ledger plus the
 * indexes the filters need (active leases per repo and their areas).
 *
 * Invariants:
 * - Never mutates the input PoolState: `tasks` and `workers` are fresh records whose values
 *   are the input objects until changed (`outcomes` is copied on its first new entry); a changed task or worker is replaced
 *   by a new object (setTask / setWorker), never edited in place.
 * - The repo index (`active`) always describes exactly the tasks in state leased or pr_open:
 *   every lease start and end goes through startLease / endLease below.
 * - WorkerRuntime.pointsInUse and activeLeases are recomputed from the leases of the
 *   worker's tasks whenever they change, never adjusted by +/- arithmetic.
 * - Iteration order never depends on object key insertion order: callers sort what they
 *   act on (task ids, worker ids) before acting.
 * - `leased` and `candidates` (indexes.ts) describe `tasks` once `syncDirty` ran: every
 *   setTask records the id in `touched` and `dirty`.
 */
import {
  DEFAULTS,
  normaliseArea,
  type AuditEvent,
  type Board,
  type Lease,
  type Ledger,
  type Outcome,
  type PoolState,
  type RepoPolicy,
  type TaskRuntime,
  type WorkerProfile,
  type WorkerRuntime,
} from '../model.js';
import { syncCandidate, type Candidate, type PoolIndexes } from './indexes.js';
import type { Bucket } from './pool.js';

/** The actor recorded on events the scheduler causes by itself (reconcile, expiry). */
export const SCHEDULER_ACTOR = 'scheduler';

export interface RepoLoad {
  /** Tasks of this repo in leased or pr_open. */
  count: number;
  /** task id -> lease area key (see areaKey) for active leases with a non-empty area. */
  areas: Map<string, string>;
}

/** An area in comparable form: normalised, without a trailing '/'. '' means no area. */
export function areaKey(a: string): string {
  return normaliseArea(a).replace(/\/$/, '');
}

/** areasOverlap (model.ts) on area keys, without allocating: whole path segments only. */
export function keysOverlap(x: string, y: string): boolean {
  if (x === '' || y === '') return false;
  if (x.length === y.length) return x === y;
  return x.length > y.length ? x.charCodeAt(y.length) === 47 && x.startsWith(y) : y.charCodeAt(x.length) === 47 && y.startsWith(x);
}

export interface Work {
  readonly board: Board;
  readonly profiles: Record<string, WorkerProfile>;
  readonly now: number;
  readonly batch: number;
  /** UTC day (YYYY-MM-DD) of `now`. */
  readonly day: string;
  tasks: Record<string, TaskRuntime>;
  workers: Record<string, WorkerRuntime>;
  /** The input's outcomes until the first new one is stored (see putOutcome): it grows forever. */
  outcomes: Record<string, Outcome>;
  outcomesCopied: boolean;
  events: AuditEvent[];
  active: Map<string, RepoLoad>;
  policies: Map<string, RepoPolicy>;
  /** Task ids in state leased (expiry looks only at these). */
  leased: Set<string>;
  /** Claim-next candidates (see indexes.ts) and their priority buckets (pool.ts). */
  candidates: Map<string, Candidate>;
  buckets: Map<number, Bucket>;
  unordered: boolean;
  /** Candidates not yet in a bucket. */
  added: Candidate[];
  /** Task ids set in this batch; `dirty` those not yet synced into leased/candidates. */
  touched: Set<string>;
  dirty: string[];
  workersTouched: Set<string>;
}

export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * A record's own entry. Ids come from clients ("constructor", "__proto__" are valid intent
 * ids), so a plain `rec[key]` could return something inherited from Object.prototype.
 */
export function own<T>(rec: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(rec, key) ? rec[key] : undefined;
}

/** Set a record's own entry, even for the key "__proto__" (which `rec[key] =` would not). */
export function put<T>(rec: Record<string, T>, key: string, value: T): void {
  if (key === '__proto__') Object.defineProperty(rec, key, { value, enumerable: true, writable: true, configurable: true });
  else rec[key] = value;
}

/** Plain code-unit comparison: the same everywhere, unlike localeCompare. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The policy a repo without one gets: every field at its DEFAULTS value. */
export function defaultPolicy(repo: string): RepoPolicy {
  return {
    repo,
    reviewBudget: DEFAULTS.reviewBudget,
    allowedTiers: [...DEFAULTS.allowedTiers],
    leaseTtlMs: DEFAULTS.leaseTtlMs,
    maxAttempts: DEFAULTS.maxAttempts,
    cooldownMs: DEFAULTS.cooldownMs,
    dailyQuota: DEFAULTS.dailyQuota,
    frozenAreas: [],
  };
}

export function policyFor(w: Work, repo: string): RepoPolicy {
  let p = w.policies.get(repo);
  if (!p) {
    p = own(w.board.repos, repo) ?? defaultPolicy(repo);
    w.policies.set(repo, p);
  }
  return p;
}

export function isActive(rt: TaskRuntime | undefined): boolean {
  return !!rt && (rt.state === 'leased' || rt.state === 'pr_open');
}

/** Points a lease holds: as granted, else the board task's, else 1. */
export function leasePoints(board: Board, lease: Lease): number {
  return lease.points ?? own(board.tasks, lease.taskId)?.points ?? DEFAULTS.points;
}

export function leaseArea(board: Board, lease: Lease): string {
  return normaliseArea(lease.area ?? own(board.tasks, lease.taskId)?.area ?? DEFAULTS.area);
}

/** A copy of a record (own enumerable keys), "__proto__" included. */
export function copyRecord<T>(rec: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k in rec) {
    if (k === '__proto__') put(out, k, rec[k]!);
    else out[k] = rec[k]!;
  }
  return out;
}

/**
 * The working state of a batch. Given the indexes of exactly this ledger (a session's, which
 * are then moved on in place) nothing scans the tasks; without them, one pass builds them.
 * `tasksCopy`: a copy of `ledger.tasks` made ahead of time, used as the working record.
 */
export function createWork(state: PoolState, now: number, indexes?: PoolIndexes, tasksCopy?: Record<string, TaskRuntime>): Work {
  const { ledger } = state;
  const w: Work = {
    board: state.board,
    profiles: state.profiles,
    now,
    batch: ledger.batch + 1,
    day: utcDay(now),
    tasks: tasksCopy ?? copyRecord(ledger.tasks),
    workers: { ...ledger.workers },
    outcomes: ledger.outcomes,
    outcomesCopied: false,
    events: [],
    active: indexes?.active ?? new Map(),
    policies: new Map(),
    leased: indexes?.leased ?? new Set(),
    candidates: indexes?.candidates ?? new Map(),
    buckets: indexes?.buckets ?? new Map(),
    unordered: indexes?.unordered ?? false,
    added: [],
    touched: new Set(),
    dirty: [],
    workersTouched: new Set(),
  };
  if (!indexes) {
    for (const id in ledger.tasks) {
      const rt = ledger.tasks[id]!;
      if (isActive(rt) && rt.lease) indexLease(w, rt.repo, rt.lease);
      if (rt.state === 'leased' || rt.state === 'queued') syncCandidate(w, w.tasks, w.board, id);
    }
  }
  return w;
}

/** Sync the ids set since the last call into `leased` and `candidates`. */
export function syncDirty(w: Work): void {
  for (const id of w.dirty) syncCandidate(w, w.tasks, w.board, id);
  w.dirty.length = 0;
}

export function repoLoad(w: Work, repo: string): RepoLoad {
  let l = w.active.get(repo);
  if (!l) {
    l = { count: 0, areas: new Map() };
    w.active.set(repo, l);
  }
  return l;
}

function indexLease(w: Work, repo: string, lease: Lease): void {
  const l = repoLoad(w, repo);
  l.count++;
  const a = areaKey(leaseArea(w.board, lease));
  if (a !== '') l.areas.set(lease.taskId, a);
}

function unindexLease(w: Work, repo: string, taskId: string): void {
  const l = repoLoad(w, repo);
  l.count--;
  l.areas.delete(taskId);
}

export function setTask(w: Work, rt: TaskRuntime): void {
  put(w.tasks, rt.taskId, rt);
  w.touched.add(rt.taskId);
  w.dirty.push(rt.taskId);
}

export function putOutcome(w: Work, o: Outcome): void {
  if (!w.outcomesCopied) {
    w.outcomes = { ...w.outcomes };
    w.outcomesCopied = true;
  }
  put(w.outcomes, o.intentId, o);
}

export function setWorker(w: Work, wr: WorkerRuntime): void {
  put(w.workers, wr.workerId, wr);
  w.workersTouched.add(wr.workerId);
}

export function newWorkerRuntime(workerId: string, day: string): WorkerRuntime {
  return {
    workerId,
    pointsInUse: 0,
    activeLeases: [],
    credit: 0,
    cooldowns: {},
    quotaDay: day,
    claimsToday: 0,
    completed: 0,
    failed: 0,
    expired: 0,
  };
}

export function workerRuntime(w: Work, workerId: string): WorkerRuntime {
  return own(w.workers, workerId) ?? newWorkerRuntime(workerId, w.day);
}

/** Claims granted today as of `now` (0 when the stored day is another UTC day). */
export function claimsToday(w: Work, wr: WorkerRuntime): number {
  return wr.quotaDay === w.day ? wr.claimsToday : 0;
}

/** Recompute pointsInUse from the worker's active leases (the invariant's definition). */
function withLeases(w: Work, wr: WorkerRuntime, activeLeases: string[]): WorkerRuntime {
  let points = 0;
  for (const id of activeLeases) {
    const lease = own(w.tasks, id)?.lease;
    if (lease) points += leasePoints(w.board, lease);
  }
  return { ...wr, activeLeases, pointsInUse: points };
}

/** Drop a runtime's optional fields whose value is undefined, so JSON and deep-equal agree. */
export function clean<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/** Put `lease` on the task (state leased) and account for it everywhere. */
export function startLease(w: Work, prev: TaskRuntime, lease: Lease, extra: Partial<TaskRuntime>): TaskRuntime {
  const rt: TaskRuntime = clean({ ...prev, ...extra, state: 'leased', lease, updatedAt: w.now, note: undefined, prUrl: undefined });
  setTask(w, rt);
  indexLease(w, rt.repo, lease);
  const wr = workerRuntime(w, lease.workerId);
  const ids = [...wr.activeLeases.filter((id) => id !== rt.taskId), rt.taskId].sort(compareStrings);
  setWorker(w, withLeases(w, wr, ids));
  return rt;
}

/**
 * Take the lease off a task, moving it to `next` (queued, done, stuck or cancelled), and
 * release the holder's capacity. Returns the new runtime and the lease that ended.
 */
export function endLease(
  w: Work,
  prev: TaskRuntime,
  next: Partial<TaskRuntime> & { state: TaskRuntime['state'] },
): { rt: TaskRuntime; lease?: Lease } {
  const lease = prev.lease;
  const rt: TaskRuntime = clean({ ...prev, ...next, lease: undefined, updatedAt: w.now });
  setTask(w, rt);
  if (lease && isActive(prev)) {
    unindexLease(w, prev.repo, prev.taskId);
    const wr = workerRuntime(w, lease.workerId);
    setWorker(w, withLeases(w, wr, wr.activeLeases.filter((id) => id !== prev.taskId)));
  }
  return { rt, lease };
}

export function emit(w: Work, e: Omit<AuditEvent, 'at' | 'batch'>): void {
  const { kind, ...rest } = e;
  w.events.push(clean({ kind, at: w.now, batch: w.batch, ...rest }) as AuditEvent);
}

/** The next ledger. Its records are always fresh objects, so a caller may edit them. */
export function toLedger(w: Work): Ledger {
  return { batch: w.batch, tasks: w.tasks, workers: w.workers, outcomes: w.outcomesCopied ? w.outcomes : { ...w.outcomes } };
}
