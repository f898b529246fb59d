/**
 * Token checks with a brake on guessing: every refused token costs its caller's address
 * one request of a small bucket; an address whose bucket is empty gets `rate-limited` for
 * every token (good or bad) until it refills, so a wrong guess never teaches anything faster
 * than the bucket allows.
 *
 * Invariants:
 * - The bucket is per client address: the socket's, or behind a trusted reverse proxy the
 *   forwarded one (OWP_TRUST_PROXY, ../http/client-address.ts; untrusted, callers share one).
 *   Default 1 refused token per second, burst 30; `false` turns the brake off.
 * - A good token from an address that is not braked costs nothing here.
 * - The HTTP router, the event stream and the socket upgrade use the same guard, so a
 *   guesser cannot switch doors to get a fresh budget.
 */
import type { Principal } from '../ports.js';
import { DEFAULT_AUTH_FAILURE_RATE, RateLimiter, retryAfterSeconds, type RateLimitOptions } from '../ratelimit/index.js';
import type { TokenCheck, TokenStore } from './index.js';

export const DEFAULT_AUTH_FAILURE_LIMIT: RateLimitOptions = DEFAULT_AUTH_FAILURE_RATE;

export type GuardedCheck =
  | { ok: true; principal: Principal }
  | { ok: false; code: 'unauthorized' | 'token-revoked'; message: string }
  | { ok: false; code: 'rate-limited'; message: string; retryAfterSec: number };

export class AuthGuard {
  private readonly failures: RateLimiter | undefined;

  constructor(
    private readonly tokens: TokenStore,
    limit: RateLimitOptions | false = DEFAULT_AUTH_FAILURE_LIMIT,
    now: () => number = Date.now,
  ) {
    this.failures = limit === false ? undefined : new RateLimiter(limit, now);
  }

  check(token: string | undefined, address: string | undefined): GuardedCheck {
    const key = address ?? '?';
    const braked = this.failures?.wait(key) ?? 0;
    if (braked > 0) return braked429(braked);
    const c: TokenCheck = this.tokens.check(token);
    if (!c.ok) this.failures?.take(key);
    return c;
  }
}

function braked429(waitMs: number): GuardedCheck {
  const secs = retryAfterSeconds(waitMs);
  return {
    ok: false,
    code: 'rate-limited',
    message: `rate-limited: too many refused tokens from this address; wait ${secs} s, then check the token you use`,
    retryAfterSec: secs,
  };
}
