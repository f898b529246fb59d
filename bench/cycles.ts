/**
 * The side-by-side cycle: N workers, each looping "take the next task, complete it", until
 * the pool is empty. Shared by the three systems of bench/side.ts so each is measured the
 * same way: claim latency from sending the take to its answer, and cycles per second over
 * the middle of the run (from 5% to 95% of the tasks completed: no ramp-up, no drain tail).
 *
 * Invariants: one load generator for all systems; the HTTP systems use harness.ts's `call`
 * (one keep-alive agent, one connection per busy worker).
 */
import { call } from './harness.js';

export interface CycleResult {
  workers: number;
  tasks: number;
  /** Completed cycles per second over the middle 90% of the completions. */
  cyclesPerSec: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  wallMs: number;
}

/** One system under test: take a task for worker i (undefined: nothing left), complete it. */
export interface CycleDriver {
  take(worker: number): Promise<unknown | undefined>;
  complete(worker: number, taken: unknown): Promise<void>;
}

export async function runCycles(driver: CycleDriver, workers: number, tasks: number): Promise<CycleResult> {
  const done: number[] = [];
  const claims: [number, number][] = [];
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (;;) {
        const s = performance.now();
        let taken: unknown;
        try {
          taken = await driver.take(w);
        } catch {
          errors++;
          if (errors > tasks) throw new Error('too many errors');
          continue;
        }
        claims.push([s, performance.now() - s]);
        if (taken === undefined) return;
        try {
          await driver.complete(w, taken);
          done.push(performance.now());
        } catch {
          errors++;
        }
      }
    }),
  );
  const wallMs = performance.now() - t0;
  done.sort((a, b) => a - b);
  const lo = done[Math.floor(done.length * 0.05)] ?? t0;
  const hi = done[Math.floor(done.length * 0.95)] ?? t0;
  const middle = claims.filter(([s]) => s >= lo && s <= hi).map(([, ms]) => ms).sort((a, b) => a - b);
  const at = (p: number) => middle[Math.min(middle.length - 1, Math.floor((p / 100) * middle.length))] ?? NaN;
  return {
    workers,
    tasks: done.length,
    cyclesPerSec: hi > lo ? ((Math.floor(done.length * 0.95) - Math.floor(done.length * 0.05)) / (hi - lo)) * 1000 : NaN,
    p50: at(50),
    p99: at(99),
    max: middle[middle.length - 1] ?? NaN,
    errors,
    wallMs,
  };
}

/** The OWP cycle over HTTP: claim-next, then complete with the fencing token. */
export function owpDriver(base: string, tokens: string[]): CycleDriver {
  return {
    async take(w) {
      const r = await call(base, tokens[w]!, 'POST', '/api/claim', {});
      if (r.status === 200) return r.body.outcome as { taskId: string; fencingToken: number };
      if (r.body?.error?.code === 'no-matching-task') return undefined;
      throw new Error(`claim: ${r.status} ${JSON.stringify(r.body)}`);
    },
    async complete(w, taken) {
      const t = taken as { taskId: string; fencingToken: number };
      const r = await call(base, tokens[w]!, 'POST', `/api/tasks/${encodeURIComponent(t.taskId)}/complete`, { fencingToken: t.fencingToken });
      if (r.status !== 200) throw new Error(`complete: ${r.status} ${JSON.stringify(r.body)}`);
    },
  };
}

/** The bare server's cycle: the same two requests, `tasks` of them handed out in total. */
export function bareDriver(base: string, tasks: number): CycleDriver {
  let left = tasks;
  return {
    async take() {
      if (left <= 0) return undefined;
      left--;
      const r = await call(base, 'bare', 'POST', '/api/claim', {});
      if (r.status !== 200) throw new Error(`bare claim: ${r.status}`);
      return r.body.outcome as { taskId: string; fencingToken: number };
    },
    async complete(_w, taken) {
      const t = taken as { taskId: string; fencingToken: number };
      const r = await call(base, 'bare', 'POST', `/api/tasks/${encodeURIComponent(t.taskId)}/complete`, { fencingToken: t.fencingToken });
      if (r.status !== 200) throw new Error(`bare complete: ${r.status}`);
    },
  };
}
