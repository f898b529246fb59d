/**
 * Preloaded into the benchmark's relay (`OWP_BENCH_LOOPMON=1`): measures event-loop delay
 * and GC pauses in the relay process and prints them when it exits, so the benchmark can tell
 * relay stalls from client-side or machine noise.
 *
 * Invariants: observes only; changes nothing in the relay.
 */
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';

const h = monitorEventLoopDelay({ resolution: 5 });
h.enable();
const gc: number[] = [];
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gc.push(e.duration);
});
obs.observe({ entryTypes: ['gc'] });

function report(): void {
  h.disable();
  gc.sort((a, b) => a - b);
  const ms = (n: number) => (n / 1e6).toFixed(1);
  const total = gc.reduce((a, b) => a + b, 0);
  process.stderr.write(
    `loop-monitor: event-loop delay p50 ${ms(h.percentile(50))} ms, p99 ${ms(h.percentile(99))} ms, max ${ms(h.max)} ms; ` +
      `gc ${gc.length} pauses, total ${total.toFixed(0)} ms, max ${(gc[gc.length - 1] ?? 0).toFixed(1)} ms\n`,
  );
}
process.on('exit', report);
