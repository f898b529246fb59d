/**
 * The side-by-side cycle: N workers, each looping "take the next task, complete it", until
 * the pool is empty. Shared by the three systems of bench/side.ts so each is measured the
 * same way: claim latency from sending the take to its answer, and cycles per second over
 * the middle of the run (a run stops when the pool is empty or after a budget of cycles) (from 5% to 95% of the tasks completed: no ramp-up, no drain tail).
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

/** `cycles`: stop after this many claims were sent (default: until the pool is empty). */
export async function runCycles(driver: CycleDriver, workers: number, tasks: number, cycles = Infinity): Promise<CycleResult> {
  let budget = cycles;
  const done: number[] = [];
  const claims: [number, number][] = [];
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (;;) {
        if (budget-- <= 0) return;
        const s = performance.now();
        let taken: unknown;
        try {
          taken = await driver.take(w);
        } catch {
          errors++;
          if (errors > tasks) throw new Error('too many errors');
          budget++;
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
  // Claims sent in the measured window (all of them in a run too short to have one).
  const inWindow = claims.filter(([s]) => s >= lo && s <= hi);
  const middle = (inWindow.length > 0 ? inWindow : claims).map(([, ms]) => ms).sort((a, b) => a - b);
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
