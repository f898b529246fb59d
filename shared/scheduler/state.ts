/**
 * Draft: the working state of one batch, the next ledger being written (copy-on-write
 * views of the input ledger) plus the indexes the filters need.
 *
 * Invariants:
 * - Never mutates the input PoolState: a changed task or worker is replaced by a new
 *   object (setTask / setWorker); `outcomes` is copied on its first new entry.
 * - `active` describes exactly the tasks in leased or pr_open (startLease / endLease), and
 *   pointsInUse / activeLeases are recomputed from the worker's leases, never adjusted.
 * - Callers sort what they act on: no decision depends on object key order.
 * - `leased` and `candidates` (indexes.ts) describe `tasks` once `syncDirty` ran.
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
import { syncCandidate, type Candidate, type PoolIndexes, type SkillCounts } from './indexes.js';
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

export interface Draft {
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
  skillCounts: SkillCounts;
  /** Candidates not yet in a bucket. */
  added: Candidate[];
  /** Task ids set in this batch; `dirty` those not yet synced into leased/candidates. */
  touched: Set<string>;
  dirty: string[];
  workersTouched: Set<string>;
  /** The GitHub host pull request links must be on (pr-links.ts; ScheduleRules). */
  githubHost: string;
  /** Pull request URL key -> the task holding it, built on first need (pr-links.ts). */
  prHolders?: Map<string, string>;
  /** Whether the board's trust map holds a maintainer's override for one repo (`owner/name/worker`). */
  repoOverrides: boolean;
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

export function policyFor(draft: Draft, repo: string): RepoPolicy {
  let p = draft.policies.get(repo);
  if (!p) {
    p = own(draft.board.repos, repo) ?? defaultPolicy(repo);
    draft.policies.set(repo, p);
  }
  return p;
}

export function isActive(runtime: TaskRuntime | undefined): boolean {
  return !!runtime && (runtime.state === 'leased' || runtime.state === 'pr_open');
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
 * `tasksCopy`, `workersCopy`: copies of `ledger.tasks` and `ledger.workers` made ahead of
 * time, used as the working records.
 */
export function createDraft(state: PoolState, now: number, indexes?: PoolIndexes, tasksCopy?: Record<string, TaskRuntime>, githubHost?: string, workersCopy?: Record<string, WorkerRuntime>): Draft {
  const { ledger } = state;
  const draft: Draft = {
    board: state.board,
    profiles: state.profiles,
    now,
    batch: ledger.batch + 1,
    day: utcDay(now),
    tasks: tasksCopy ?? copyRecord(ledger.tasks),
    workers: workersCopy ?? { ...ledger.workers },
    outcomes: ledger.outcomes,
    outcomesCopied: false,
    events: [],
    active: indexes?.active ?? new Map(),
    policies: new Map(),
    leased: indexes?.leased ?? new Set(),
    candidates: indexes?.candidates ?? new Map(),
    buckets: indexes?.buckets ?? new Map(),
    unordered: indexes?.unordered ?? false,
    skillCounts: indexes?.skillCounts ?? new Map(),
    added: [],
    touched: new Set(),
    dirty: [],
    workersTouched: new Set(),
    githubHost: githubHost ?? 'github.com',
    repoOverrides: Object.keys(state.board.trust).some((k) => k.includes('/')),
  };
  if (!indexes) {
    for (const id in ledger.tasks) {
      const runtime = ledger.tasks[id]!;
      if (isActive(runtime) && runtime.lease) indexLease(draft, runtime.repo, runtime.lease);
      if (runtime.state === 'leased' || runtime.state === 'queued') syncCandidate(draft, draft.tasks, draft.board, id);
    }
  }
  return draft;
}

/** Sync the ids set since the last call into `leased` and `candidates`. */
export function syncDirty(draft: Draft): void {
  for (const id of draft.dirty) syncCandidate(draft, draft.tasks, draft.board, id);
  draft.dirty.length = 0;
}

export function repoLoad(draft: Draft, repo: string): RepoLoad {
  let l = draft.active.get(repo);
  if (!l) {
    l = { count: 0, areas: new Map() };
    draft.active.set(repo, l);
  }
  return l;
}

function indexLease(draft: Draft, repo: string, lease: Lease): void {
  const l = repoLoad(draft, repo);
  l.count++;
  const a = areaKey(leaseArea(draft.board, lease));
  if (a !== '') l.areas.set(lease.taskId, a);
}

function unindexLease(draft: Draft, repo: string, taskId: string): void {
  const l = repoLoad(draft, repo);
  l.count--;
  l.areas.delete(taskId);
}

export function setTask(draft: Draft, runtime: TaskRuntime): void {
  put(draft.tasks, runtime.taskId, runtime);
  draft.touched.add(runtime.taskId);
  draft.dirty.push(runtime.taskId);
}

export function putOutcome(draft: Draft, outcome: Outcome): void {
  if (!draft.outcomesCopied) {
    draft.outcomes = { ...draft.outcomes };
    draft.outcomesCopied = true;
  }
  put(draft.outcomes, outcome.intentId, outcome);
}

export function setWorker(draft: Draft, workerState: WorkerRuntime): void {
  put(draft.workers, workerState.workerId, workerState);
  draft.workersTouched.add(workerState.workerId);
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

export function workerRuntime(draft: Draft, workerId: string): WorkerRuntime {
  return own(draft.workers, workerId) ?? newWorkerRuntime(workerId, draft.day);
}

/** Claims granted today as of `now` (0 when the stored day is another UTC day). */
export function claimsToday(draft: Draft, workerState: WorkerRuntime): number {
  return workerState.quotaDay === draft.day ? workerState.claimsToday : 0;
}

/** Recompute pointsInUse from the worker's active leases (the invariant's definition). */
function withLeases(draft: Draft, workerState: WorkerRuntime, activeLeases: string[]): WorkerRuntime {
  let points = 0;
  for (const id of activeLeases) {
    const lease = own(draft.tasks, id)?.lease;
    if (lease) points += leasePoints(draft.board, lease);
  }
  return { ...workerState, activeLeases, pointsInUse: points };
}

/**
 * Drop a runtime's optional fields whose value is undefined, so JSON and deep-equal agree.
 * Returns `obj` itself when nothing is undefined, else a copy without those fields (same key
 * order): `delete` of a field that was not the last one added turns a V8 object into a slow
 * dictionary, and these objects (task runtimes, outcomes, audit events) are read, compared and
 * encoded many times after. Callers pass a fresh literal and use the result.
 */
export function clean<T extends object>(obj: T): T {
  const rec = obj as Record<string, unknown>;
  let undefinedField = false;
  for (const k in rec) {
    if (rec[k] === undefined) {
      undefinedField = true;
      break;
    }
  }
  if (!undefinedField) return obj;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(rec)) if (rec[k] !== undefined) put(out, k, rec[k]);
  return out as T;
}

/** Put `lease` on the task (state leased) and account for it everywhere. */
export function startLease(draft: Draft, prev: TaskRuntime, lease: Lease, extra: Partial<TaskRuntime>): TaskRuntime {
  const runtime: TaskRuntime = clean({ ...prev, ...extra, state: 'leased', lease, updatedAt: draft.now, note: undefined, prUrl: undefined });
  setTask(draft, runtime);
  indexLease(draft, runtime.repo, lease);
  const workerState = workerRuntime(draft, lease.workerId);
  const ids = [...workerState.activeLeases.filter((id) => id !== runtime.taskId), runtime.taskId].sort(compareStrings);
  setWorker(draft, withLeases(draft, workerState, ids));
  return runtime;
}

/**
 * Take the lease off a task, moving it to `next` (queued, done, stuck or cancelled), and
 * release the holder's capacity. Returns the new runtime and the lease that ended.
 */
export function endLease(
  draft: Draft,
  prev: TaskRuntime,
  next: Partial<TaskRuntime> & { state: TaskRuntime['state'] },
): { runtime: TaskRuntime; lease?: Lease } {
  const lease = prev.lease;
  const runtime: TaskRuntime = clean({ ...prev, ...next, lease: undefined, updatedAt: draft.now });
  setTask(draft, runtime);
  if (lease && isActive(prev)) {
    unindexLease(draft, prev.repo, prev.taskId);
    const workerState = workerRuntime(draft, lease.workerId);
    setWorker(draft, withLeases(draft, workerState, workerState.activeLeases.filter((id) => id !== prev.taskId)));
  }
  return { runtime, lease };
}

export function emit(draft: Draft, e: Omit<AuditEvent, 'at' | 'batch'>): void {
  const { kind, ...rest } = e;
  draft.events.push(clean({ kind, at: draft.now, batch: draft.batch, ...rest }) as AuditEvent);
}

/** The next ledger. Its records are always fresh objects, so a caller may edit them. */
export function toLedger(draft: Draft): Ledger {
  return { batch: draft.batch, tasks: draft.tasks, workers: draft.workers, outcomes: draft.outcomesCopied ? draft.outcomes : { ...draft.outcomes } };
}
