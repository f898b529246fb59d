/**
 * Rate limiting for every door of the relay: token buckets per key (a token id, or an
 * address), used by HTTP requests (server/http/router.ts), socket messages
 * (server/sync/connections.ts) and the brake on refused tokens (server/auth/guard.ts).
 *
 * Invariants:
 * - A bucket holds at most `burst` requests and refills at `ratePerSec`; `take` returns 0
 *   when the request may go, else the milliseconds until one more is allowed.
 * - Time comes from the injected clock; a clock going backwards never adds requests.
 * - Idle buckets are forgotten (they would be full anyway), and at most `maxKeys` (default
 *   10 000) are kept: past that the oldest are dropped (a dropped bucket starts full again,
 *   so only a caller cycling through that many keys gains anything). Memory stays bounded.
 */
/** HTTP requests per token (or per address without one). */
export const DEFAULT_REQUEST_RATE = { ratePerSec: 50, burst: 100 } as const satisfies RateLimitOptions;
/** y-websocket messages per token, over all its sockets; past it, reading pauses. */
export const DEFAULT_SOCKET_MESSAGE_RATE = { ratePerSec: 200, burst: 2000 } as const satisfies RateLimitOptions;
/** Refused tokens per address, over HTTP, the event stream and sockets together. */
export const DEFAULT_AUTH_FAILURE_RATE = { ratePerSec: 1, burst: 30 } as const satisfies RateLimitOptions;

/** A wait in milliseconds as a Retry-After value: whole seconds, at least 1. */
export function retryAfterSeconds(waitMs: number): number {
  return Math.max(1, Math.ceil(waitMs / 1000));
}

export interface RateLimitOptions {
  ratePerSec?: number;
  burst?: number;
  /** Most buckets kept at once (default 10 000). */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly rate: number;
  private readonly burst: number;
  private readonly maxKeys: number;
  private lastPrune = 0;

  constructor(
    o: RateLimitOptions,
    private readonly now: () => number,
  ) {
    this.rate = o.ratePerSec ?? DEFAULT_REQUEST_RATE.ratePerSec;
    this.burst = o.burst ?? DEFAULT_REQUEST_RATE.burst;
    this.maxKeys = o.maxKeys ?? 10_000;
  }

  /** Take one request: 0 if it may go, else the ms until one more is allowed. */
  take(key: string): number {
    const now = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.makeRoom(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    } else {
      this.refill(b, now);
    }
    if (now - this.lastPrune > 60_000) this.prune(now);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return this.waitFor(b);
  }

  /** Like `take`, but takes nothing: 0 if a request would go now, else the ms to wait. */
  wait(key: string): number {
    const b = this.buckets.get(key);
    if (!b) return 0;
    this.refill(b, this.now());
    return b.tokens >= 1 ? 0 : this.waitFor(b);
  }

  /** How many keys are held (for tests and /api/status). */
  get size(): number {
    return this.buckets.size;
  }

  private refill(b: Bucket, now: number): void {
    const dt = Math.max(0, now - b.at);
    b.tokens = Math.min(this.burst, b.tokens + (dt * this.rate) / 1000);
    b.at = Math.max(b.at, now);
  }

  private waitFor(b: Bucket): number {
    return Math.ceil(((1 - b.tokens) * 1000) / this.rate);
  }

  private makeRoom(now: number): void {
    this.prune(now);
    // Still full: drop the oldest tenth (Map keeps insertion order).
    if (this.buckets.size < this.maxKeys) return;
    let n = Math.max(1, Math.floor(this.maxKeys / 10));
    for (const k of this.buckets.keys()) {
      if (n-- <= 0) break;
      this.buckets.delete(k);
    }
  }

  private prune(now: number): void {
    this.lastPrune = now;
    const full = (this.burst / this.rate) * 1000;
    for (const [k, b] of this.buckets) if (now - b.at > full) this.buckets.delete(k);
  }
}
