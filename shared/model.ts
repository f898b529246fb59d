/**
 * The OWP domain model: what a task, a worker, a repo policy and an intent are, and how
 * raw input is validated into them.
 *
 * Invariants:
 * - Everything here is plain JSON (no Dates, no classes), so it crosses Yjs, HTTP and
 *   LevelDB unchanged. Times are milliseconds since the Unix epoch.
 * - Validation never throws anything but OwpError('invalid-field' | 'invalid-intent'),
 *   and the message names the field and says why in words a person can act on
 *   (`points: must be a whole number from 1 to 100`), never zod's developer wording: every
 *   field and every check of it carries its own sentence (`says`).
 * - No Node, Obsidian, server or plugin imports: the plugin bundles this for mobile.
 */
import { DEFAULTS } from './defaults.js';
import * as z from 'zod';
import { OwpError, untrusted, type ErrorCode } from './errors.js';
import { didYouMean } from './did-you-mean.js';
import { DEFAULT_TRUST_LADDER, LADDER_MEMORY } from './trust-ladder.js';
import { INTENT_KINDS, MAINTAINER_INTENT_KINDS, WORKER_INTENT_KINDS } from './protocol.js';

export const RISK_TIERS = [0, 1, 2, 3] as const;
export type RiskTier = 0 | 1 | 2 | 3;

export { DEFAULTS };

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
  maxOpenPrs: 100,
} as const;

/**
 * The `error` option that makes every refusal of a field (its type and each of its checks)
 * say one sentence; a missing required field says so first.
 */
function says(message: string): { error: (issue: { input?: unknown }) => string } {
  return { error: (issue) => (issue.input === undefined ? `is required; it ${message}` : message) };
}

/** A whole number in [min, max]; one sentence for every way to miss. */
function wholeNumber(min: number, max: number, message = `must be a whole number from ${min} to ${max}`) {
  const m = says(message);
  return z.number(m).int(m).min(min, m).max(max, m);
}

const bool = () => z.boolean(says('must be true or false'));

const repoName = z
  .string(says('must look like owner/name'))
  .regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, says('must look like owner/name'));
const SKILL_MESSAGE = `must be a lower-case name such as docs or typescript (letters, digits and + # . _ -, at most ${LIMITS.skillLength} characters)`;
const skill = z
  .string(says(SKILL_MESSAGE))
  .min(1, says(SKILL_MESSAGE))
  .max(LIMITS.skillLength, says(SKILL_MESSAGE))
  .regex(/^[a-z0-9][a-z0-9+#._-]*$/, says(SKILL_MESSAGE));
const SKILLS_MESSAGE = `must be a list of lower-case names such as docs or typescript (at most ${LIMITS.skills})`;
const skills = () => z.array(skill, says(SKILLS_MESSAGE)).max(LIMITS.skills, says(SKILLS_MESSAGE));
const tier = z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)], says('must be 0, 1, 2 or 3'));
const AREA_MESSAGE = `must be a relative path such as docs/ or src/parser/ (at most ${LIMITS.areaLength} characters)`;
const area = z
  .string(says(AREA_MESSAGE))
  .max(LIMITS.areaLength, says(AREA_MESSAGE))
  .refine((a) => !a.startsWith('/') && !a.includes('..') && !a.includes('\\'), says(AREA_MESSAGE));
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
/** Text of min..max characters that refuses lone surrogates; `empty` is what an empty one is told. */
function text(min: number, max: number, message = min > 0 ? `must be text of ${min} to ${max} characters` : `must be text of at most ${max} characters`, empty = 'must not be empty') {
  const m = says(message);
  const s = z.string(m).refine(isWellFormedText, says(WELL_FORMED_MESSAGE));
  return (min > 0 ? s.min(min, says(min === 1 ? empty : message)) : s).max(max, m);
}

/** Worker ids: letters, digits and _ . @ -, starting with a letter or digit, at most 100. */
export const WORKER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.@-]*$/;
export function isWorkerId(v: unknown): v is string {
  return typeof v === 'string' && v.length <= LIMITS.nameLength && WORKER_ID_PATTERN.test(v) && !isReservedKey(v);
}

/** Task ids and intent ids: 1..200 characters, no control characters, no reserved names. */
function idOf(message: string) {
  const m = says(message);
  return z
    .string(m)
    .min(1, m)
    .max(LIMITS.idLength, m)
    // eslint-disable-next-line no-control-regex -- control characters are exactly what this refuses
    .refine((s) => !/[\u0000-\u001f]/.test(s), says('must not contain control characters'))
    .refine((s) => !isReservedKey(s), says(RESERVED_MESSAGE))
    .refine(isWellFormedText, says(WELL_FORMED_MESSAGE));
}
const taskId = idOf(`must be a task id of 1 to ${LIMITS.idLength} characters, such as octo/app#12`);
const intentId = idOf(`must be an intent id of 1 to ${LIMITS.idLength} characters (a fresh one, such as a UUID, per intent)`);
const WORKER_ID_MESSAGE = `must be letters, digits and _ . @ - (starting with a letter or digit, at most ${LIMITS.nameLength})`;
const workerId = z
  .string(says(WORKER_ID_MESSAGE))
  .min(1, says(WORKER_ID_MESSAGE))
  .max(LIMITS.nameLength, says(WORKER_ID_MESSAGE))
  .regex(WORKER_ID_PATTERN, says(WORKER_ID_MESSAGE))
  .refine((s) => !isReservedKey(s), says(RESERVED_MESSAGE));
const ms = (what = 'a time') => wholeNumber(0, Number.MAX_SAFE_INTEGER, `must be ${what} in milliseconds (a whole number, 0 or more)`);
const URL_MESSAGE = `must be an http(s) URL of at most ${LIMITS.urlLength} characters`;
const url = z.string(says(URL_MESSAGE)).max(LIMITS.urlLength, says(URL_MESSAGE)).regex(/^https?:\/\/\S+$/, says(URL_MESSAGE));
/**
 * Where workers clone a repo from: https/http/ssh/git URLs or scp-like `git@host:owner/name.git`.
 * Local paths and file:// are refused here (a policy is read by every worker, and a path on
 * one machine means nothing on another); a worker can still pass one with --clone-url.
 */
const CLONE_URL_MESSAGE = `must be a git remote URL such as https://github.com/owner/name.git or git@github.com:owner/name.git (https, http, ssh or git; at most ${LIMITS.urlLength} characters)`;
const cloneUrl = z
  .string(says(CLONE_URL_MESSAGE))
  .max(LIMITS.urlLength, says(CLONE_URL_MESSAGE))
  .regex(/^(?:(?:https?|ssh|git):\/\/[^\s/]+\/\S+|[A-Za-z0-9_.-]+@[A-Za-z0-9.-]+:[^\s:]\S*)$/, says(CLONE_URL_MESSAGE));
const fencingToken = wholeNumber(1, Number.MAX_SAFE_INTEGER, 'must be the fencing token you got with the lease (a whole number, 1 or more)');

/**
 * A strict object whose unknown keys are named with the fields it does know (typos are
 * caught, and the person sees what was meant).
 */
function strictObject<S extends z.core.$ZodLooseShape>(shape: S, what: string) {
  const known = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `${issue.keys.length === 1 ? 'is not a field' : 'are not fields'} of ${what}; its fields are ${known}${didYouMean(String(issue.keys[0]), Object.keys(shape))}`
        : issue.input === undefined
          ? `is required; it must be ${what} (an object)`
          : `must be ${what} (an object with ${known})`,
  });
}

const LABELS_MESSAGE = `must be a list of at most ${LIMITS.labels} labels of at most 100 characters each`;
const TASK_SOURCES = ['yaml', 'github', 'api', 'obsidian'] as const;

export const TaskSchema = strictObject(
  {
    id: taskId,
    repo: repoName,
    issueNumber: wholeNumber(1, Number.MAX_SAFE_INTEGER, 'must be the issue number (a whole number, 1 or more)').optional(),
    issueUrl: url.optional(),
    title: text(1, LIMITS.titleLength),
    body: text(0, LIMITS.bodyLength).default(''),
    points: wholeNumber(1, LIMITS.points).default(DEFAULTS.points),
    skills: skills().default([]),
    tier: tier.default(DEFAULTS.tier),
    area: area.default(DEFAULTS.area),
    priority: wholeNumber(-100, 100).default(DEFAULTS.priority),
    labels: z
      .array(z.string(says(LABELS_MESSAGE)).max(100, says(LABELS_MESSAGE)), says(LABELS_MESSAGE))
      .max(LIMITS.labels, says(LABELS_MESSAGE))
      .default([]),
    createdAt: ms('the creation time'),
    /** Maintainer flags. A held task is not offered; a cancelled one ends when no lease holds it. */
    held: bool().default(false),
    cancelled: bool().default(false),
    /** Why the board cancelled it when it was not a maintainer (the GitHub importer: the issue closed); empty = by a maintainer. */
    cancelReason: text(0, LIMITS.reasonLength).optional(),
    source: z.enum(TASK_SOURCES, says(`must be one of ${TASK_SOURCES.join(', ')}`)).default('api'),
  },
  'a task',
);
export type Task = z.output<typeof TaskSchema>;
export type TaskInput = z.input<typeof TaskSchema>;

export const WorkerProfileSchema = strictObject(
  {
    id: workerId,
    name: text(1, LIMITS.nameLength),
    skills: skills(),
    capacity: wholeNumber(1, LIMITS.capacity),
    maxConcurrent: wholeNumber(1, LIMITS.maxConcurrent),
    /**
     * Active leases at most: pull requests awaiting review plus tasks in progress (each
     * becomes one); absent means DEFAULTS.maxOpenPrs (see scheduler/open-prs.ts). Optional,
     * not defaulted, so profiles written before it existed read back unchanged.
     */
    maxOpenPrs: wholeNumber(1, LIMITS.maxOpenPrs).optional(),
    available: bool().default(true),
  },
  'a worker profile',
);
export type WorkerProfile = z.output<typeof WorkerProfileSchema>;

const TIERS_MESSAGE = 'must be a list of risk tiers such as [0, 1]';
const FROZEN_MESSAGE = 'must be a list of at most 256 areas such as docs/';

export const RepoPolicySchema = strictObject(
  {
    repo: repoName,
    reviewBudget: wholeNumber(0, 1000).default(DEFAULTS.reviewBudget),
    allowedTiers: z.array(tier, says(TIERS_MESSAGE)).max(4, says(TIERS_MESSAGE)).default([...DEFAULTS.allowedTiers]),
    leaseTtlMs: wholeNumber(1000, 30 * 24 * 3600 * 1000, 'must be a whole number of milliseconds from 1000 (1 s) to 2592000000 (30 days)').default(
      DEFAULTS.leaseTtlMs,
    ),
    maxAttempts: wholeNumber(1, 100).default(DEFAULTS.maxAttempts),
    cooldownMs: ms('a wait').default(DEFAULTS.cooldownMs),
    dailyQuota: wholeNumber(0, 10_000).default(DEFAULTS.dailyQuota),
    frozenAreas: z.array(area, says(FROZEN_MESSAGE)).max(256, says(FROZEN_MESSAGE)).default([]),
    /** Where `owp worker run` clones from; unset: https://github.com/OWNER/NAME.git. */
    cloneUrl: cloneUrl.optional(),
    github: strictObject(
      {
        enabled: bool().default(false),
        label: text(1, 100).default('owp'),
        writeBack: bool().default(false),
      },
      'the GitHub settings',
    ).optional(),
    /**
     * The trust ladder (shared/trust-ladder.ts): absent means off. `{ enabled: true }` gets
     * the default thresholds; `enabled: false` turns it off and keeps them.
     */
    trustLadder: strictObject(
      {
        enabled: bool().default(true),
        promoteAfter: wholeNumber(1, 100).default(DEFAULT_TRUST_LADDER.promoteAfter),
        lookback: wholeNumber(1, LADDER_MEMORY).default(DEFAULT_TRUST_LADDER.lookback),
        demoteAfter: wholeNumber(1, LADDER_MEMORY).default(DEFAULT_TRUST_LADDER.demoteAfter),
      },
      'the trust ladder settings',
    ).optional(),
  },
  'a repo policy',
);
export type RepoPolicy = z.output<typeof RepoPolicySchema>;
export type RepoPolicyInput = z.input<typeof RepoPolicySchema>;

/** Intent ids key the ledger's outcomes map: the same rules as task ids. */
const intentBase = { id: intentId, workerId };
const leased = { ...intentBase, taskId, fencingToken };
const REVIEW_RESULTS = ['open', 'merged', 'closed', 'changes-requested'] as const;
/**
 * The fields intents carry besides ids and fencing tokens: shared/wire.ts builds the HTTP
 * request bodies from these same validators, so a body and its intent cannot disagree.
 */
export const INTENT_FIELDS = {
  prUrl: url,
  failReason: text(1, LIMITS.reasonLength),
  reviewResult: z.enum(REVIEW_RESULTS, says(`must be one of ${REVIEW_RESULTS.join(', ')}`)),
  reviewNote: text(0, LIMITS.reasonLength),
  cancelReason: text(0, LIMITS.reasonLength),
} as const;

/** What a worker (or a maintainer, or the relay's GitHub tracker) asks the scheduler to do. */
export const IntentSchema = z.discriminatedUnion(
  'kind',
  [
    strictObject({ kind: z.literal('claim'), ...intentBase, taskId }, 'a claim intent'),
    strictObject({ kind: z.literal('claim-next'), ...intentBase }, 'a claim-next intent'),
    strictObject({ kind: z.literal('heartbeat'), ...leased }, 'a heartbeat intent'),
    strictObject({ kind: z.literal('release'), ...leased }, 'a release intent'),
    strictObject({ kind: z.literal('submit'), ...leased, prUrl: INTENT_FIELDS.prUrl }, 'a submit intent'),
    strictObject({ kind: z.literal('complete'), ...leased }, 'a complete intent'),
    strictObject({ kind: z.literal('fail'), ...leased, reason: INTENT_FIELDS.failReason }, 'a fail intent'),
    /** Maintainer / GitHub tracker: the PR's review state changed. workerId is the actor. */
    strictObject(
      {
        kind: z.literal('review'),
        ...intentBase,
        taskId,
        result: INTENT_FIELDS.reviewResult,
        prUrl: INTENT_FIELDS.prUrl.optional(),
        /** What the reviewer asks for (changes-requested): kept as the task's note for the worker. */
        note: INTENT_FIELDS.reviewNote.optional(),
      },
      'a review intent',
    ),
    /**
     * Maintainer: put a stuck (or any non-terminal) task back in the queue. Attempts are kept
     * (attempt counts grants), so a task at maxAttempts gets one more try per requeue.
     */
    strictObject({ kind: z.literal('requeue'), ...intentBase, taskId }, 'a requeue intent'),
    /** Maintainer: end a task now, whatever its state; an active lease ends with it. */
    strictObject({ kind: z.literal('cancel'), ...intentBase, taskId, reason: INTENT_FIELDS.cancelReason.optional() }, 'a cancel intent'),
  ],
  {
    error: (issue) =>
      issue.code === 'invalid_union'
        ? `${(issue.input as { kind?: unknown } | undefined)?.kind === undefined ? 'is required; it ' : ''}must be an intent kind: one of ${INTENT_KINDS.join(', ')}`
        : 'must be an intent: an object with kind, id, workerId and the fields of its kind (docs/PROTOCOL.md)',
  },
);
export type Intent = z.output<typeof IntentSchema>;
export type IntentKind = Intent['kind'];
export { INTENT_KINDS, WORKER_INTENT_KINDS, MAINTAINER_INTENT_KINDS };

// The runtime types (the ledger: written by the relay alone) live in ./ledger.ts.
export * from './ledger.js';

// ---- validation ----

/** An unknown key is named by its own path (`pointz`), other problems by their field's. */
function describeIssue(issue: z.core.$ZodIssue): { field: string; message: string } {
  // Keys come from the input: each is bounded and made safe to show (shared/errors.ts).
  const at = (keys: readonly PropertyKey[]) => keys.map((k) => untrusted(String(k))).join('.') || '(root)';
  if (issue.code === 'unrecognized_keys') {
    const names = issue.keys.map((k) => at([...issue.path, k]));
    return { field: names[0], message: `${names.join(', ')}: ${issue.message}` };
  }
  const field = at(issue.path);
  return { field, message: `${field}: ${issue.message}` };
}

/** One line per field and sentence: a value that misses several checks of a field is told once. */
function describeIssues(issues: readonly z.core.$ZodIssue[]): { field: string; message: string }[] {
  const seen = new Set<string>();
  const out: { field: string; message: string }[] = [];
  for (const issue of issues) {
    const d = describeIssue(issue);
    if (seen.has(d.message)) continue;
    seen.add(d.message);
    out.push(d);
  }
  return out;
}

function parseWith<T extends z.ZodType>(schema: T, input: unknown, what: string, code: ErrorCode): z.output<T> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const problems = describeIssues(r.error.issues);
  const first = problems[0];
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  throw new OwpError(code, `Invalid ${what}: ${first.message}${more}.`, first.field);
}

/** All problems with an input, each naming its field. Empty when valid. */
export function listProblems(schema: z.ZodType, input: unknown): { field: string; message: string }[] {
  const r = schema.safeParse(input);
  return r.success ? [] : describeIssues(r.error.issues);
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
