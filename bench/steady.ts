/**
 * Steady-state relay benchmark: the claim-to-lease latency the target is about.
 *
 * The relay runs as a child process as `npm start` runs it (bench/relay.ts startRelay), with
 * 10,000 queued tasks and N connected workers (each its own token, one keep-alive HTTP
 * agent). Claims arrive spread out, as real workers send them: each worker waits a random
 * think time, claims (claim-next), holds the lease briefly, then releases it (3 in 4) or
 * completes it (1 in 4), and starts over. Think times are drawn so that all workers
 * together send about `rate` claims per second. Only the claims are timed: from sending
 * `POST /api/claim` to its answer (sent after the grant is persisted and broadcast).
 *
 * Deterministic load shape: a seeded PRNG (mulberry32) draws the think and hold times.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_LIMITS, call, claimFigures, seedPool, startRelay, type ClaimFigures } from './harness.js';
import { mulberry32 } from '../scripts/prng.js';

export interface SteadyResult extends ClaimFigures {
  workers: number;
  /** Claims per second asked for, and measured. */
  targetRate: number;
  claimRate: number;
  claims: number;
  granted: number;
  refused: number;
  errors: number;
  grantsPerSec: number;
  /** The load generator's own event-loop delay while measuring (p99 / max ms): its share of the latency. */
  clientLoopP99: number;
  clientLoopMax: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runSteady(workers: number, rate: number, durationMs: number, warmupMs = 3000): Promise<SteadyResult> {
  const dataDir = await mkdtemp(join(tmpdir(), 'owp-bench-'));
  // A high per-token limit only so the admin token creates 1,000 worker tokens quickly.
  const relay = await startRelay(dataDir, BENCH_LIMITS);
  try {
    const base = relay.url;
    const { maint, tokens } = await seedPool(base, workers);
    // One claim-next batch reconciles the 10,000 tasks and warms the JIT (not measured).
    const first = await call(base, tokens[0]!, 'POST', '/api/claim', {});
    if (first.status === 200) await call(base, tokens[0]!, 'POST', `/api/tasks/${encodeURIComponent(first.body.outcome.taskId)}/release`, { fencingToken: first.body.outcome.fencingToken });
    const holdMs = 100;
    // Mean cycle per worker so that N workers send `rate` claims/s in total.
    const cycleMs = (workers / rate) * 1000;
    const thinkMean = Math.max(0, cycleMs - holdMs);
    const latencies: number[] = [];
    let granted = 0;
    let refused = 0;
    let errors = 0;
    let measuring = false;
    /** OWP_BENCH_TAIL=1: when the slow claims (> 40 ms) started, to tell stalls from spread-out delays. */
    const tail: [number, number][] | undefined = process.env.OWP_BENCH_TAIL ? [] : undefined;
    let stop = false;
    const loops = tokens.map(async (token, i) => {
      const rnd = mulberry32(1000 + i);
      // Spread the first claims over one cycle.
      await sleep(rnd() * cycleMs);
      while (!stop) {
        const s = performance.now();
        let r: { status: number; body: any };
        try {
          r = await call(base, token, 'POST', '/api/claim', {});
        } catch {
          if (measuring) errors++;
          await sleep(thinkMean);
          continue;
        }
        const ms = performance.now() - s;
        if (measuring) {
          latencies.push(ms);
          if (tail && ms > 40) tail.push([Math.round(s), Math.round(ms)]);
          if (r.status === 200) granted++;
          else refused++;
        }
        if (r.status === 200) {
          const taskId = encodeURIComponent(r.body.outcome.taskId as string);
          const fencingToken = r.body.outcome.fencingToken as number;
          await sleep(holdMs * (0.5 + rnd()));
          const action = rnd() < 0.25 ? 'complete' : 'release';
          try {
            await call(base, token, 'POST', `/api/tasks/${taskId}/${action}`, { fencingToken });
          } catch {
            if (measuring) errors++;
          }
        }
        await sleep(thinkMean * (0.5 + rnd()));
      }
    });
    await sleep(warmupMs);
    const before = (await call(base, maint, 'GET', '/api/status')).body.engine as { latency: { total: number }; batches: number; scheduleMs: number; persistMs: number; applyMs: number };
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    // The relay's preloaded monitors (OWP_BENCH_LOOPMON, OWP_BENCH_ALLOC) count this window only.
    const signal = process.env.OWP_BENCH_LOOPMON || process.env.OWP_BENCH_ALLOC ? () => process.kill(relay.pid, 'SIGUSR2') : () => {};
    signal();
    measuring = true;
    const t0 = performance.now();
    await sleep(durationMs);
    measuring = false;
    signal();
    loop.disable();
    const wallMs = performance.now() - t0;
    const after = (await call(base, maint, 'GET', `/api/status?latencySince=${before.latency.total}`)).body.engine;
    stop = true;
    await Promise.all(loops);
    latencies.sort((a, b) => a - b);
    if (tail) console.log(`  slow claims (start ms, latency ms): ${tail.map(([a, b]) => `${a}:${b}`).join(' ')}`);
    return {
      workers,
      targetRate: rate,
      claimRate: (latencies.length / wallMs) * 1000,
      claims: latencies.length,
      granted,
      refused,
      errors,
      grantsPerSec: (granted / wallMs) * 1000,
      ...claimFigures(latencies, before, after),
      clientLoopP99: loop.percentile(99) / 1e6,
      clientLoopMax: loop.max / 1e6,
    };
  } finally {
    await relay.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const f1 = (n: number) => n.toFixed(1);

export function steadyTable(results: SteadyResult[]): string {
  const rows = results.map(
    (r) =>
      `| ${r.workers} | ${Math.round(r.targetRate)} / ${Math.round(r.claimRate)} | ${r.claims} | ${r.granted} | ${r.refused + r.errors} | ${f1(r.p50)} | ${f1(r.p90)} | ${f1(r.p99)} | ${f1(r.max)} | ${Math.round(r.grantsPerSec)} | ${f1(r.relayP50)} / ${f1(r.relayP99)} | ${r.batches} | ${f1(r.claims / Math.max(1, r.batches))} | ${Math.round(r.scheduleMs)} / ${Math.round(r.persistMs)} / ${Math.round(r.applyMs)} | ${f1(r.clientLoopP99)} / ${f1(r.clientLoopMax)} |`,
  );
  return [
    '| workers | claims/s asked / measured | claims | granted | refused/errors | p50 ms | p90 ms | p99 ms | max ms | grants/s | in-relay p50 / p99 ms | batches | claims/batch | schedule / persist / apply ms | load generator loop delay p99 / max ms |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}
