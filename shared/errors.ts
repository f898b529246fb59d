/**
 * Stable error codes. Every refusal anywhere in OWP Pool (scheduler, relay, CLI, plugin)
 * carries one of these codes and a sentence a person can act on.
 *
 * Invariant: codes are never renamed or reused for another meaning; clients match on them.
 */

export const ERROR_CODES = {
  // input
  'invalid-field': 400,
  'invalid-json': 400,
  'invalid-yaml': 400,
  'invalid-intent': 400,
  'payload-too-large': 413,
  /** The client's OWP-Protocol header names another major version than the relay's. */
  'unsupported-protocol': 400,
  // auth
  unauthorized: 401,
  'not-authorized': 403,
  'token-revoked': 401,
  // lookup
  'not-found': 404,
  'unknown-task': 404,
  'unknown-worker': 404,
  'unknown-repo': 404,
  // lease arbitration (409: the state of the pool says no)
  'lease-lost': 409,
  'already-leased': 409,
  'task-not-claimable': 409,
  'no-matching-task': 409,
  'skill-mismatch': 409,
  'tier-not-allowed': 409,
  'capacity-exceeded': 409,
  'max-concurrent': 409,
  'max-open-prs': 409,
  'pr-in-use': 409,
  'area-locked': 409,
  'area-frozen': 409,
  'review-budget-full': 409,
  cooldown: 409,
  'daily-quota': 409,
  'worker-unavailable': 409,
  'invalid-transition': 409,
  /** A repo policy cannot be deleted while the repo has live tasks. */
  'repo-in-use': 409,
  conflict: 409,
  // flow control
  'rate-limited': 429,
  'shutting-down': 503,
  /** The relay is opening its database and loading the ledger (answers before it serves). */
  starting: 503,
  'upstream-error': 502,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export function httpStatusFor(code: ErrorCode): number {
  return ERROR_CODES[code] ?? 500;
}

/** The longest error message (characters); longer is cut with `…`. */
export const MAX_MESSAGE_LENGTH = 1000;
/** The longest `field` of an error (a path into the input such as tasks[3].title). */
const MAX_FIELD_LENGTH = 200;
/** The longest untrusted value `quote` shows (characters). */
export const MAX_QUOTED_LENGTH = 80;

// eslint-disable-next-line no-control-regex -- control characters are exactly what this finds
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/**
 * What a token looks like: the relay's (`owp_` + base64url), GitHub's, a bearer header's value.
 * A run of lowercase words (`owp_claim_latency_seconds`, a metric) is a name, not a token.
 */
const TOKEN_LIKE = /(owp_|ghp_|gho_|ghu_|ghs_|ghr_|github_pat_)([A-Za-z0-9_-]{16,})/g;
// A bearer value ends where the next `Bearer ` starts (its letters are in the value's alphabet).
const BEARER = /(Bearer\s+)((?:(?!Bearer\s)[A-Za-z0-9._~+/=-]){16,})/gi;
const redactToken = (m: string, prefix: string, rest: string) => (prefix === 'owp_' && /^[a-z_]+$/.test(rest) ? m : `${prefix}…(redacted)`);

function cut(s: string, max: number): string {
  if (s.length <= max) return s;
  // Never split a surrogate pair.
  const end = /[\uD800-\uDBFF]/.test(s[max - 2] ?? '') ? max - 2 : max - 1;
  return s.slice(0, end) + '…';
}

/**
 * Text safe to put in front of a person or in a log line, whatever went into it: control,
 * line-breaking and bidirectional-override characters (which can fake lines, colour a
 * terminal or reorder what is shown) become U+FFFD (tab, CR and LF a space), anything that
 * looks like a token is replaced by `…(redacted)` after its prefix, and the whole is cut to
 * `max` characters. `keepLines` keeps line feeds (text for a terminal that is meant to have
 * several lines).
 */
export function safeText(text: string, max = MAX_MESSAGE_LENGTH, opts: { keepLines?: boolean } = {}): string {
  const clean = text.replace(CONTROL, (c) => (c === '\n' && opts.keepLines ? c : c === '\t' || c === '\n' || c === '\r' ? ' ' : '\uFFFD'));
  return cut(clean.replace(BEARER, redactToken).replace(TOKEN_LIKE, redactToken), max);
}

/**
 * An untrusted value (an id, a name, a path, a field value from a request or a message) for
 * an error message: made safe by `safeText`, cut to `max` characters, in double quotes.
 * Arrays and objects show only that they are one: `(an array)`, `(an object)`.
 */
export function quote(value: unknown, max = MAX_QUOTED_LENGTH): string {
  if (typeof value === 'object' && value !== null) return untrusted(value);
  return `"${untrusted(value, max).replace(/["\\]/g, (c) => '\\' + c)}"`;
}

/** Like `quote`, without the quotes: for values whose place in the sentence is plain (`No task octo/app#1`). */
export function untrusted(value: unknown, max = MAX_QUOTED_LENGTH): string {
  if (Array.isArray(value)) return '(an array)';
  if (typeof value === 'object' && value !== null) return '(an object)';
  return safeText(typeof value === 'string' ? value : String(value), max);
}

/**
 * An error that carries a stable code. Throw it across module boundaries; render it at the edge.
 * Its message passes `safeText`: however a message was built, what leaves the relay is bounded,
 * carries no control characters and no token.
 */
export class OwpError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;
  constructor(code: ErrorCode, message: string, field?: string) {
    // Line feeds stay: some messages list one problem per line (invalid-yaml); builders put
    // untrusted values in through quote / untrusted, which make them one line.
    super(safeText(message, MAX_MESSAGE_LENGTH, { keepLines: true }));
    this.name = 'OwpError';
    this.code = code;
    if (field !== undefined) this.field = safeText(field, MAX_FIELD_LENGTH);
  }
  toJSON(): { code: ErrorCode; message: string; field?: string } {
    return this.field ? { code: this.code, message: this.message, field: this.field } : { code: this.code, message: this.message };
  }
}

export function isOwpError(e: unknown): e is OwpError {
  return e instanceof OwpError;
}
