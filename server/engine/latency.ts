/**
 * Queue-to-answer latency of intents inside the relay, for /api/status and the benchmark.
 *
 * Invariants: fixed memory (a ring of the last SIZE samples); `total` counts every sample
 * ever recorded, so a caller can ask for "everything after the n-th" to measure one phase.
 */
export interface LatencySummary {
  total: number;
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export class LatencyRecorder {
  private readonly ring: Float64Array;
  private total = 0;

  constructor(size = 8192) {
    this.ring = new Float64Array(size);
  }

  record(ms: number): void {
    this.ring[this.total % this.ring.length] = ms;
    this.total += 1;
  }

  /** Percentiles of the samples recorded after the `since`-th (of those still kept). */
  summary(since = 0): LatencySummary {
    const total = this.total;
    const size = this.ring.length;
    const xs: number[] = [];
    for (let i = Math.max(since, total - size, 0); i < total; i++) xs.push(this.ring[i % size]);
    const n = xs.length;
    if (n === 0) return { total, count: 0, p50: 0, p99: 0, max: 0 };
    xs.sort((a, b) => a - b);
    const at = (p: number) => xs[Math.min(n - 1, Math.floor(p * n))];
    return { total, count: n, p50: at(0.5), p99: at(0.99), max: xs[n - 1] };
  }
}

/** Count one batch of `intents` that took `ms` in the engine's figures. */
export function countBatch(stats: { batches: number; intents: number; lastBatchMs: number; maxBatchMs: number }, ms: number, intents: number): void {
  stats.batches += 1;
  stats.intents += intents;
  stats.lastBatchMs = ms;
  if (ms > stats.maxBatchMs) stats.maxBatchMs = ms;
}
