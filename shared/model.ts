/**
 * The OWP domain model: what a task, a worker, a repo policy and an intent are, and how
 * raw input is validated into them.
 *
 * Invariants:
 * - Everything here is plain JSON (no Dates, no classes), so it crosses Yjs, HTTP and
 *   LevelDB unchanged. Times are milliseconds since the Unix epoch.
 * - Validation never throws anything but OwpError('invalid-field' | 'invalid-intent'),
 *   and the message names the field and says why.
 * - No Node, Obsidian, server or plugin imports: the plugin bundles this for mobile.
 */
import { z } from 'zod';
import { OwpError, type ErrorCode } from './errors.js';

export const RISK_TIERS = [0, 1, 2, 3] as const;
export type RiskTier = 0 | 1 | 2 | 3;

/** Defaults used wherever an input leaves a field out. Documented in docs/PROTOCOL.md. */
export const DEFAULTS = {
  points: 1,
  tier: 0 as RiskTier,
  area: '',
  priority: 0,
  reviewBudget: 5,
  allowedTiers: [0, 1] as RiskTier[],
  leaseTtlMs: 2 * 60 * 60 * 1000,
  maxAttempts: 3,
  cooldownMs: 10 * 60 * 1000,
  dailyQuota: 20,
  workerTrust: 1 as RiskTier,
  capacity: 3,
  maxConcurrent: 1,
  /** Share (0..1) of scoring weight given to workers with no credit yet. */
  newcomerBoost: 0.25,
} as const;

export const LIMITS = {
  idLength: 200,
  titleLength: 300,
  bodyLength: 64 * 1024,
  skills: 32,
  skillLength: 64,
  labels: 64,
  areaLength: 300,
  points: 100,
  reasonLength: 2000,
  urlLength: 2000,
  nameLength: 100,
  capacity: 1000,
  maxConcurrent: 100,
} as const;

const repoName = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'must look like owner/name');
const skill = z
  .string()
  .min(1)
  .max(LIMITS.skillLength)
  .regex(/^[a-z0-9][a-z0-9+#._-]*$/, 'must be lower case letters, digits and + # . _ -');
const tier = z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)], {
  error: 'must be a risk tier 0, 1, 2 or 3',
});
const area = z
  .string()
  .max(LIMITS.areaLength)
  .refine((a) => !a.startsWith('/') && !a.includes('..') && !a.includes('\\'), 'must be a relative path such as docs/ or src/parser/');
/**
 * Names every plain JavaScript object already answers to (`__proto__`, `constructor`,
 * `toString`, ...). Ids are keys of plain-object maps (board, ledger, dashboard), where such
 * a name would read an inherited value or, for `__proto__`, be dropped on write: refused.
 */
const RESERVED_KEYS: ReadonlySet<string> = new Set([...Object.getOwnPropertyNames(Object.prototype), 'prototype']);
export const isReservedKey = (s: string): boolean => RESERVED_KEYS.has(s);
const RESERVED_MESSAGE = 'must not be a name JavaScript objects reserve (__proto__, constructor, toString, ...)';

/**
 * A lone UTF-16 surrogate (JSON allows `"\ud800"`): it cannot be stored as UTF-8 (Yjs and
 * LevelDB would turn it into U+FFFD) nor percent-encoded (encodeURIComponent throws).
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]/;
export const isWellFormedText = (s: string): boolean => !LONE_SURROGATE.test(s);
const WELL_FORMED_MESSAGE = 'must be valid Unicode text (it holds a lone surrogate such as \\ud800)';
/** A string schema that refuses lone surrogates. */
const text = () => z.string().refine(isWellFormedText, WELL_FORMED_MESSAGE);

/** Worker ids: letters, digits and _ . @ -, starting with a letter or digit, at most 100. */
export const WORKER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@-]*$/;
export function isWorkerId(v: unknown): v is string {
  return typeof v === 'string' && v.length <= LIMITS.nameLength && WORKER_ID_PATTERN.test(v) && !isReservedKey(v);
}

const taskId = z
  .string()
  .min(1)
  .max(LIMITS.idLength)
  .refine((s) => !/[\u0000-\u001f]/.test(s), 'must not contain control characters')
  .refine((s) => !isReservedKey(s), RESERVED_MESSAGE)
  .refine(isWellFormedText, WELL_FORMED_MESSAGE);
const workerId = z
  .string()
  .min(1)
  .max(LIMITS.nameLength)
  .regex(WORKER_ID_PATTERN, 'must be letters, digits and _ . @ -')
  .refine((s) => !isReservedKey(s), RESERVED_MESSAGE);
const ms = z.number().int().nonnegative();
const url = z.string().max(LIMITS.urlLength).regex(/^https?:\/\/\S+$/, 'must be an http(s) URL');

export const TaskSchema = z.strictObject({
  id: taskId,
  repo: repoName,
  issueNumber: z.number().int().positive().optional(),
  issueUrl: url.optional(),
  title: text().min(1, 'must not be empty').max(LIMITS.titleLength),
  body: text().max(LIMITS.bodyLength).default(''),
  points: z.number().int().min(1).max(LIMITS.points).default(DEFAULTS.points),
  skills: z.array(skill).max(LIMITS.skills).default([]),
  tier: tier.default(DEFAULTS.tier),
  area: area.default(DEFAULTS.area),
  priority: z.number().int().min(-100).max(100).default(DEFAULTS.priority),
  labels: z.array(z.string().max(100)).max(LIMITS.labels).default([]),
  createdAt: ms,
  /** Maintainer flags. A held task is not offered; a cancelled one ends when no lease holds it. */
  held: z.boolean().default(false),
  cancelled: z.boolean().default(false),
  source: z.enum(['yaml', 'github', 'api', 'obsidian']).default('api'),
});
export type Task = z.output<typeof TaskSchema>;
export type TaskInput = z.input<typeof TaskSchema>;

export const WorkerProfileSchema = z.strictObject({
  id: workerId,
  name: text().min(1).max(LIMITS.nameLength),
  skills: z.array(skill).max(LIMITS.skills),
  capacity: z.number().int().min(1).max(LIMITS.capacity),
  maxConcurrent: z.number().int().min(1).max(LIMITS.maxConcurrent),
  available: z.boolean().default(true),
});
export type WorkerProfile = z.output<typeof WorkerProfileSchema>;

export const RepoPolicySchema = z.strictObject({
  repo: repoName,
  reviewBudget: z.number().int().min(0).max(1000).default(DEFAULTS.reviewBudget),
  allowedTiers: z.array(tier).max(4).default([...DEFAULTS.allowedTiers]),
  leaseTtlMs: z.number().int().min(1000).max(30 * 24 * 3600 * 1000).default(DEFAULTS.leaseTtlMs),
  maxAttempts: z.number().int().min(1).max(100).default(DEFAULTS.maxAttempts),
  cooldownMs: ms.default(DEFAULTS.cooldownMs),
  dailyQuota: z.number().int().min(0).max(10_000).default(DEFAULTS.dailyQuota),
  frozenAreas: z.array(area).max(256).default([]),
  github: z
    .strictObject({
      enabled: z.boolean().default(false),
      label: z.string().min(1).max(100).default('owp'),
      writeBack: z.boolean().default(false),
    })
    .optional(),
});
export type RepoPolicy = z.output<typeof RepoPolicySchema>;
export type RepoPolicyInput = z.input<typeof RepoPolicySchema>;

/** Intent ids key the ledger's outcomes map: the same rules as task ids. */
const intentBase = { id: taskId, workerId };
const leased = { ...intentBase, taskId, fencingToken: z.number().int().positive() };

/** What a worker (or a maintainer, or the relay's GitHub tracker) asks the scheduler to do. */
export const IntentSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('claim'), ...intentBase, taskId }),
  z.strictObject({ kind: z.literal('claim-next'), ...intentBase }),
  z.strictObject({ kind: z.literal('heartbeat'), ...leased }),
  z.strictObject({ kind: z.literal('release'), ...leased }),
  z.strictObject({ kind: z.literal('submit'), ...leased, prUrl: url }),
  z.strictObject({ kind: z.literal('complete'), ...leased }),
  z.strictObject({ kind: z.literal('fail'), ...leased, reason: text().min(1).max(LIMITS.reasonLength) }),
  /** Maintainer / GitHub tracker: the PR's review state changed. workerId is the actor. */
  z.strictObject({
    kind: z.literal('review'),
    ...intentBase,
    taskId,
    result: z.enum(['open', 'merged', 'closed', 'changes-requested']),
    prUrl: url.optional(),
  }),
  /**
   * Maintainer: put a stuck (or any non-terminal) task back in the queue. Attempts are kept
   * (attempt counts grants), so a task at maxAttempts gets one more try per requeue.
   */
  z.strictObject({ kind: z.literal('requeue'), ...intentBase, taskId }),
  /** Maintainer: end a task now, whatever its state; an active lease ends with it. */
  z.strictObject({ kind: z.literal('cancel'), ...intentBase, taskId, reason: text().max(LIMITS.reasonLength).optional() }),
]);
export type Intent = z.output<typeof IntentSchema>;
export type IntentKind = Intent['kind'];
export const WORKER_INTENT_KINDS = ['claim', 'claim-next', 'heartbeat', 'release', 'submit', 'complete', 'fail'] as const;
export const MAINTAINER_INTENT_KINDS = ['review', 'requeue', 'cancel'] as const;

// ---- runtime (the ledger: written by the relay alone) ----

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
  | 'intent-rejected';

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

// ---- validation ----

function describeIssue(issue: z.core.$ZodIssue): { field: string; message: string } {
  const field = issue.path.map(String).join('.') || '(root)';
  return { field, message: `${field}: ${issue.message}` };
}

function parseWith<T extends z.ZodType>(schema: T, input: unknown, what: string, code: ErrorCode): z.output<T> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const first = describeIssue(r.error.issues[0]!);
  const more = r.error.issues.length > 1 ? ` (and ${r.error.issues.length - 1} more)` : '';
  throw new OwpError(code, `Invalid ${what}: ${first.message}${more}.`, first.field);
}

/** All problems with an input, each naming its field. Empty when valid. */
export function listProblems(schema: z.ZodType, input: unknown): { field: string; message: string }[] {
  const r = schema.safeParse(input);
  return r.success ? [] : r.error.issues.map(describeIssue);
}

export const parseTask = (input: unknown): Task => parseWith(TaskSchema, input, 'task', 'invalid-field');
export const parseWorkerProfile = (input: unknown): WorkerProfile =>
  parseWith(WorkerProfileSchema, input, 'worker profile', 'invalid-field');
export const parseRepoPolicy = (input: unknown): RepoPolicy => parseWith(RepoPolicySchema, input, 'repo policy', 'invalid-field');
export const parseIntent = (input: unknown): Intent => parseWith(IntentSchema, input, 'intent', 'invalid-intent');

/** Normalise an area to a comparable form: no leading './', trailing '/' on directories kept as given. */
export function normaliseArea(a: string): string {
  return a.replace(/^\.\//, '').replace(/\/{2,}/g, '/');
}

/**
 * Two areas overlap when one is a path prefix of the other, by whole segments:
 * `docs/` overlaps `docs/api/`; `src/par` does not overlap `src/parser/`.
 * The empty area means "the whole repo" and overlaps nothing: a task without an area
 * takes no lock (documented; a repo-wide lock would serialise every untagged task).
 */
export function areasOverlap(a: string, b: string): boolean {
  const x = normaliseArea(a).replace(/\/$/, '');
  const y = normaliseArea(b).replace(/\/$/, '');
  if (x === '' || y === '') return false;
  if (x === y) return true;
  return x.startsWith(y + '/') || y.startsWith(x + '/');
}
