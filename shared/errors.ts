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

/** An error that carries a stable code. Throw it across module boundaries; render it at the edge. */
export class OwpError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;
  constructor(code: ErrorCode, message: string, field?: string) {
    super(message);
    this.name = 'OwpError';
    this.code = code;
    this.field = field;
  }
  toJSON(): { code: ErrorCode; message: string; field?: string } {
    return this.field ? { code: this.code, message: this.message, field: this.field } : { code: this.code, message: this.message };
  }
}

export function isOwpError(e: unknown): e is OwpError {
  return e instanceof OwpError;
}
