/**
 * Token-bucket rate limiting per key (a token id, or an address).
 *
 * Invariants:
 * - A bucket holds at most `burst` requests and refills at `ratePerSec`; `take` returns 0
 *   when the request may go, else the milliseconds until one more is allowed.
 * - Time comes from the injected clock; a clock going backwards never adds requests.
 * - Idle buckets are forgotten (they would be full anyway), so memory stays bounded.
 */
export interface RateLimitOptions {
  ratePerSec?: number;
  burst?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly rate: number;
  private readonly burst: number;
  private lastPrune = 0;

  constructor(
    o: RateLimitOptions,
    private readonly now: () => number,
  ) {
    this.rate = o.ratePerSec ?? 50;
    this.burst = o.burst ?? 100;
  }

  take(key: string): number {
    const now = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    } else {
      const dt = Math.max(0, now - b.at);
      b.tokens = Math.min(this.burst, b.tokens + (dt * this.rate) / 1000);
      b.at = Math.max(b.at, now);
    }
    if (now - this.lastPrune > 60_000) this.prune(now);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) * 1000) / this.rate);
  }

  private prune(now: number): void {
    this.lastPrune = now;
    const full = (this.burst / this.rate) * 1000;
    for (const [k, b] of this.buckets) if (now - b.at > full) this.buckets.delete(k);
  }
}
