/**
 * Validators for what the relay sends (outcomes, leases, runtimes, errors, HTTP answers) and
 * for the HTTP request bodies of the protocol's routes: the shapes docs/PROTOCOL.md specifies
 * beside shared/model.ts's inputs. The conformance suite checks a relay's answers with them;
 * docs/schemas/ and the OpenAPI description are generated from them (scripts/gen-schemas.ts).
 *
 * Invariants: each answer schema parses exactly the TypeScript type the relay builds
 * (`Same<...>` below fails to compile when the two drift apart); answers are open objects
 * (a relay may add fields: MAY), request bodies are closed (unknown fields are refused) and
 * are what the relay's handlers parse (one source of truth for the server and the spec).
 */
import * as z from 'zod';
import { ERROR_CODES } from './errors.js';
import { TASK_STATES, type AuditEvent, type Lease, type Outcome, type TaskRuntime, type WorkerRuntime } from './ledger.js';
import { INTENT_FIELDS, IntentSchema, RepoPolicySchema, TaskSchema, WorkerProfileSchema } from './model.js';
import { INTENT_KINDS, PROTOCOL_VERSION, ROLES } from './protocol.js';

const int = (min = 0) => z.number().int().min(min);
const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as [keyof typeof ERROR_CODES, ...(keyof typeof ERROR_CODES)[]];
export const ErrorCodeSchema = z.enum(ERROR_CODE_LIST);
export const TaskStateSchema = z.enum(TASK_STATES as [TaskRuntime['state'], ...TaskRuntime['state'][]]);

export const LeaseSchema = z.looseObject({
  taskId: z.string(),
  workerId: z.string(),
  fencingToken: int(1),
  grantedAt: int(),
  expiresAt: int(),
  ttlMs: int(),
  points: int().optional(),
  area: z.string().optional(),
});

export const TaskRuntimeSchema = z.looseObject({
  taskId: z.string(),
  repo: z.string(),
  state: TaskStateSchema,
  attempt: int(),
  fencingToken: int(),
  lease: LeaseSchema.optional(),
  prUrl: z.string().optional(),
  queuedAt: int(),
  updatedAt: int(),
  note: z.string().optional(),
  cancelPending: z.boolean().optional(),
  creditedTo: z.string().optional(),
});

export const WorkerRuntimeSchema = z.looseObject({
  workerId: z.string(),
  pointsInUse: z.number(),
  activeLeases: z.array(z.string()),
  credit: z.number(),
  lastCreditAt: int().optional(),
  cooldowns: z.record(z.string(), int()),
  quotaDay: z.string(),
  claimsToday: int(),
  completed: int(),
  failed: int(),
  expired: int(),
  ladder: z
    .record(
      z.string(),
      z.object({
        tier: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]),
        base: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)]),
        merged: int(),
        recent: z.string(),
        changedAt: int().optional(),
        reason: z.string().optional(),
      }),
    )
    .optional(),
});

export const OutcomeSchema = z.looseObject({
  intentId: z.string(),
  kind: z.enum(INTENT_KINDS),
  workerId: z.string(),
  status: z.enum(['granted', 'rejected', 'applied']),
  taskId: z.string().optional(),
  code: ErrorCodeSchema.optional(),
  message: z.string().optional(),
  filter: z.string().optional(),
  fencingToken: int(1).optional(),
  expiresAt: int().optional(),
  batch: int(),
  at: int(),
});

export const AuditEventSchema = z.looseObject({
  kind: z.string(),
  at: int(),
  batch: int(),
  actor: z.string(),
  taskId: z.string().optional(),
  workerId: z.string().optional(),
  intentId: z.string().optional(),
  from: TaskStateSchema.optional(),
  to: TaskStateSchema.optional(),
  code: ErrorCodeSchema.optional(),
  reason: z.string().optional(),
  fencingToken: int().optional(),
  before: z.union([z.number(), z.boolean()]).optional(),
  after: z.union([z.number(), z.boolean()]).optional(),
  repo: z.string().optional(),
});

/** Every refusal over HTTP; a refused intent adds its stored outcome. */
export const ErrorBodySchema = z.looseObject({
  error: z.looseObject({ code: ErrorCodeSchema, message: z.string().min(1), field: z.string().optional(), filter: z.string().optional() }),
  outcome: OutcomeSchema.optional(),
});

export const HealthSchema = z.looseObject({ ok: z.literal(true), version: z.string(), protocol: z.literal(PROTOCOL_VERSION), uptimeMs: int() });
export const MeSchema = z.looseObject({ role: z.enum(ROLES), tokenId: z.string(), workerId: z.string().optional(), name: z.string().optional() });

export const ClaimAnswerSchema = z.looseObject({ outcome: OutcomeSchema, task: TaskSchema.nullable(), lease: LeaseSchema.nullable() });
export const HeartbeatAnswerSchema = z.looseObject({ outcome: OutcomeSchema, lease: LeaseSchema.nullable() });
export const IntentAnswerSchema = z.looseObject({ outcome: OutcomeSchema, runtime: TaskRuntimeSchema.nullable() });
export const TaskViewSchema = z.looseObject({ task: TaskSchema.nullable(), runtime: TaskRuntimeSchema.nullable() });
export const RegisterAnswerSchema = z.looseObject({ worker: WorkerProfileSchema });
export const TokenCreatedSchema = z.looseObject({ id: z.string(), token: z.string(), role: z.enum(ROLES), workerId: z.string().optional(), name: z.string().optional(), createdAt: int() });
export const ImportAnswerSchema = z.looseObject({ added: z.array(z.string()), updated: z.array(z.string()), unchanged: z.array(z.string()) });

// ---- request bodies ----
// Closed: an unknown field is refused with invalid-field naming it. The relay's handlers parse
// every body with these very schemas (server/http/body.ts), so the published JSON Schema and
// OpenAPI cannot drift from what the relay accepts. A field checked here carries its refusal
// as a whole sentence (`error`); a field taken from shared/model.ts keeps the model's wording.

/** A check whose refusal, for any way to miss, is this sentence. */
const sentence = (s: string) => ({ error: () => s });
const shortText = (key: string) => {
  const m = sentence(`${key} must be a non-empty string of at most 200 characters.`);
  return z.string(m).min(1, m).max(200, m);
};
const FENCING = sentence('fencingToken must be the positive integer you got with the lease (owp status shows it).');
const fencingToken = z.number(FENCING).int(FENCING).min(1, FENCING).max(Number.MAX_SAFE_INTEGER, FENCING);
const intentId = shortText('intentId');
/** Who a request acts for: a worker token may only name itself; an admin names a worker. */
const actsFor = z.string(sentence('workerId must be a worker id (text); a worker token may only name its own.'));

export const ClaimBodySchema = z.strictObject({ taskId: shortText('taskId').optional(), intentId: intentId.optional(), workerId: actsFor.optional() });
export const HeartbeatBodySchema = z.strictObject({ fencingToken, workerId: actsFor.optional() });
export const LeaseActionBodySchema = z.strictObject({ fencingToken, intentId: intentId.optional(), workerId: actsFor.optional() });
export const SubmitBodySchema = LeaseActionBodySchema.extend({ prUrl: INTENT_FIELDS.prUrl });
export const FailBodySchema = LeaseActionBodySchema.extend({ reason: INTENT_FIELDS.failReason });
export const ReviewBodySchema = z.strictObject({
  result: INTENT_FIELDS.reviewResult,
  prUrl: INTENT_FIELDS.prUrl.optional(),
  note: INTENT_FIELDS.reviewNote.optional(),
  intentId: intentId.optional(),
});
export const RequeueBodySchema = z.strictObject({ intentId: intentId.optional() });
export const CancelBodySchema = z.strictObject({ reason: INTENT_FIELDS.cancelReason.optional(), intentId: intentId.optional() });
export const RegisterBodySchema = WorkerProfileSchema.omit({ id: true })
  .partial({ name: true, capacity: true, maxConcurrent: true })
  .extend({ workerId: actsFor.optional() });
export const ImportBodySchema = z.strictObject({
  tasks: z.array(TaskSchema.partial({ createdAt: true }), sentence('Send { "tasks": [ ... ] } with one object per task.')).max(5000, sentence('At most 5000 tasks per request; split the import.')),
  createRepo: z.boolean(sentence('createRepo must be true or false.')).optional(),
});
export const TaskPatchBodySchema = TaskSchema.partial();
export const RepoCreateBodySchema = RepoPolicySchema;
/** `repo`, if sent, must be the path's (the relay refuses another). */
export const RepoPutBodySchema = RepoPolicySchema.partial({ repo: true });
export const RepoPatchBodySchema = RepoPolicySchema.partial();
export const AreaBodySchema = z.strictObject({ area: z.string(sentence('area must be a relative path such as docs/.')).min(1, sentence('area must be a relative path such as docs/.')) });
/** `repo`: an override of the worker's level in that repo only (pins it; `tier: null` clears it). */
export const TrustBodySchema = z.strictObject({
  tier: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3), z.null()], sentence('tier must be 0, 1, 2 or 3 (or null, with repo, to clear an override).')),
  repo: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, sentence('repo must look like owner/name.')).optional(),
});
export const TokenBodySchema = z.strictObject({
  role: z.enum(ROLES, sentence(`role must be one of ${ROLES.join(', ')}.`)),
  workerId: z.string().optional(),
  name: z.string().max(100).optional(),
});

/** Every named shape, for docs/schemas/<name>.json. */
export const WIRE_SCHEMAS = {
  Task: TaskSchema,
  RepoPolicy: RepoPolicySchema,
  WorkerProfile: WorkerProfileSchema,
  Intent: IntentSchema,
  Outcome: OutcomeSchema,
  Lease: LeaseSchema,
  TaskRuntime: TaskRuntimeSchema,
  WorkerRuntime: WorkerRuntimeSchema,
  AuditEvent: AuditEventSchema,
  ErrorBody: ErrorBodySchema,
  Health: HealthSchema,
} as const;

// ---- the answer schemas and the relay's types are the same shapes (checked by tsc) ----
type Known<T> = { [K in keyof T as string extends K ? never : K]: T[K] };
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
function same<T extends true>(): T {
  return true as T;
}
export const WIRE_TYPES_MATCH: readonly true[] = [
  same<Same<Known<z.output<typeof LeaseSchema>>, Lease>>(),
  same<Same<Known<z.output<typeof OutcomeSchema>>, Outcome>>(),
  same<Same<Omit<Known<z.output<typeof TaskRuntimeSchema>>, 'lease'>, Omit<TaskRuntime, 'lease'>>>(),
  same<Same<Known<z.output<typeof WorkerRuntimeSchema>>, WorkerRuntime>>(),
  same<Same<Omit<Known<z.output<typeof AuditEventSchema>>, 'kind'>, Omit<AuditEvent, 'kind'>>>(),
];
