/**
 * The runtime half of the domain model: task states, leases, worker runtime, outcomes,
 * audit events, and the board/ledger/pool state the scheduler reads and writes. Re-exported
 * by ./model.ts, which holds the descriptive half and its validation.
 *
 * Invariants:
 * - Plain JSON only (no Dates, no classes): it crosses Yjs, HTTP and LevelDB unchanged.
 * - No runtime import of the validation library, so dashboards can use it cheaply.
 */
import type { ErrorCode } from './errors.js';
import type { IntentKind, RepoPolicy, RiskTier, Task, WorkerProfile } from './model.js';


export type TaskState = 'queued' | 'leased' | 'pr_open' | 'done' | 'stuck' | 'cancelled';
export const TASK_STATES: readonly TaskState[] = ['queued', 'leased', 'pr_open', 'done', 'stuck', 'cancelled'];
export const TERMINAL_STATES: readonly TaskState[] = ['done', 'cancelled'];

export interface Lease {
  taskId: string;
  workerId: string;
  fencingToken: number;
  grantedAt: number;
  expiresAt: number;
  ttlMs: number;
  /**
   * The task's points and area at grant time. Capacity, area locks and credit use these,
   * so a maintainer editing the board task while it is leased cannot push a worker over
   * capacity or open an overlapping lock behind the scheduler's back. Optional only for
   * ledgers written before they existed (readers fall back to the board task, then 1 / '').
   */
  points?: number;
  area?: string;
}

export interface TaskRuntime {
  taskId: string;
  repo: string;
  state: TaskState;
  /** How many times this task has been granted. Grows by one per grant. */
  attempt: number;
  /** The fencing token of the latest grant (0 before the first). Never decreases. */
  fencingToken: number;
  /** Present exactly when state is 'leased' or 'pr_open'. */
  lease?: Lease;
  prUrl?: string;
  /** When it last entered the queue (age in queue is scored from this). */
  queuedAt: number;
  updatedAt: number;
  /** Why it is stuck / cancelled / flagged, for the maintainer. */
  note?: string;
  /** A maintainer asked for cancellation while a lease held it; it ends when the lease does. */
  cancelPending?: boolean;
  creditedTo?: string;
}

/**
 * A worker's place on one repo's trust ladder (shared/trust-ladder.ts), kept by the scheduler
 * from the reviews of its pull requests there since its last trust change.
 */
export interface LadderState {
  /** The level the ladder gives the worker in this repo. */
  tier: RiskTier;
  /** The worker's base trust this state started from; another base makes it stale. */
  base: RiskTier;
  /** Pull requests merged at `tier` since the last change. */
  merged: number;
  /** Review results since the last change, oldest first: `m` merged, `c` closed unmerged (at most 50). */
  recent: string;
  /** When the ladder last moved the worker here, and why. */
  changedAt?: number;
  reason?: string;
}

export interface WorkerRuntime {
  workerId: string;
  /** Sum of points of this worker's active leases (leased or pr_open). */
  pointsInUse: number;
  /** Task ids of active leases, sorted. */
  activeLeases: string[];
  /** Points credited for merged or completed work. */
  credit: number;
  lastCreditAt?: number;
  /** task id -> time until which this worker may not claim it again. */
  cooldowns: Record<string, number>;
  /** UTC day (YYYY-MM-DD) and claims granted on it. */
  quotaDay: string;
  claimsToday: number;
  completed: number;
  failed: number;
  expired: number;
  /** Repo -> this worker's trust ladder state there (only repos whose ladder saw a review of its PRs). */
  ladder?: Record<string, LadderState>;
}

export type OutcomeStatus = 'granted' | 'rejected' | 'applied';

export interface Outcome {
  intentId: string;
  kind: IntentKind;
  workerId: string;
  status: OutcomeStatus;
  taskId?: string;
  code?: ErrorCode;
  message?: string;
  /** The filter that said no, for rejected claims. */
  filter?: string;
  fencingToken?: number;
  expiresAt?: number;
  batch: number;
  at: number;
}

export type AuditKind =
  | 'lease-granted'
  | 'claim-rejected'
  | 'lease-extended'
  | 'lease-released'
  | 'lease-expired'
  | 'pr-submitted'
  | 'task-done'
  | 'task-failed'
  | 'task-requeued'
  | 'task-stuck'
  | 'task-cancelled'
  | 'task-queued'
  | 'review-changes-requested'
  | 'intent-rejected'
  /** An admin took a repo's policy off the board (DELETE /api/repos/:owner/:name); `repo` names it. */
  | 'repo-deleted'
  /** Board edits by a maintainer (or the relay's importer): `before` / `after` hold the values. */
  | 'task-held'
  | 'task-unheld'
  | 'task-priority-changed'
  /** A worker's trust tier changed: set by a maintainer, or moved by a repo's trust ladder (`repo`). */
  | 'trust-changed'
  /** `owp serve --reset-admin`: `before` admin tokens revoked, `after` (1) created; `actor` the OS user, `reason` user@host and the new token's id. */
  | 'admin-reset';

export interface AuditEvent {
  kind: AuditKind;
  at: number;
  batch: number;
  actor: string;
  taskId?: string;
  workerId?: string;
  intentId?: string;
  from?: TaskState;
  to?: TaskState;
  code?: ErrorCode;
  reason?: string;
  fencingToken?: number;
  /** Board edits and trust changes: the value before and after (priority, held, trust tier). */
  before?: number | boolean;
  after?: number | boolean;
  /** The repo an event is about when it is about no task (`repo-deleted`), or whose trust changed (`trust-changed`). */
  repo?: string;
}

/** The board as the scheduler reads it (written by maintainers, admin and the importer). */
export interface Board {
  tasks: Record<string, Task>;
  repos: Record<string, RepoPolicy>;
  /** Worker trust tiers set by maintainers. A worker not listed has DEFAULTS.workerTrust. */
  trust: Record<string, RiskTier>;
}

/** The ledger: the scheduler's own state (written by the relay alone). */
export interface Ledger {
  batch: number;
  tasks: Record<string, TaskRuntime>;
  workers: Record<string, WorkerRuntime>;
  outcomes: Record<string, Outcome>;
}

export interface PoolState {
  board: Board;
  /** Worker profiles from their inboxes, keyed by worker id. */
  profiles: Record<string, WorkerProfile>;
  ledger: Ledger;
}

export function emptyLedger(): Ledger {
  return { batch: 0, tasks: {}, workers: {}, outcomes: {} };
}

export function emptyBoard(): Board {
  return { tasks: {}, repos: {}, trust: {} };
}
