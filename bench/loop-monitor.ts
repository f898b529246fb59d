/**
 * Preloaded into the benchmark's relay (`OWP_BENCH_LOOPMON=1`): measures event-loop delay
 * and GC pauses in the relay process and prints them when it exits, so the benchmark can tell
 * relay stalls from client-side or machine noise. GC is split into scavenges (young
 * generation) and mark-compacts (old space), with the bytes old space grew by across
 * scavenges (what they promoted, less what a concurrent sweep freed meanwhile). The first
 * SIGUSR2 restarts the counts (the measured window starts; bench/steady.ts, bench/cpu-cycles.ts
 * send it), the second freezes them (the window ends).
 *
 * Invariants: observes only; changes nothing in the relay.
 */
import { PerformanceObserver, constants, monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

const h = monitorEventLoopDelay({ resolution: 5 });
h.enable();
interface Kind {
  n: number;
  total: number;
  max: number;
}
const fresh = (): Kind => ({ n: 0, total: 0, max: 0 });
let minor = fresh();
let major = fresh();
let other = fresh();
let promoted = 0;
let heapMax = 0;
let window: 'all' | 'open' | 'closed' = 'all';
const oldSpace = (): number => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')?.space_used_size ?? 0;
let lastOld = oldSpace();

const obs = new PerformanceObserver((list) => {
  if (window === 'closed') return;
  for (const e of list.getEntries()) {
    const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
    const k = kind === constants.NODE_PERFORMANCE_GC_MINOR ? minor : kind === constants.NODE_PERFORMANCE_GC_MAJOR ? major : other;
    k.n++;
    k.total += e.duration;
    k.max = Math.max(k.max, e.duration);
  }
  const now = oldSpace();
  // Old space grows only by promotion (and large objects, not counted here); it shrinks when swept.
  if (now > lastOld) promoted += now - lastOld;
  lastOld = now;
  heapMax = Math.max(heapMax, getHeapStatistics().used_heap_size);
});
obs.observe({ entryTypes: ['gc'] });

process.on('SIGUSR2', () => {
  if (window === 'all') {
    window = 'open';
    minor = fresh();
    major = fresh();
    other = fresh();
    promoted = 0;
    heapMax = 0;
    lastOld = oldSpace();
    h.reset();
  } else if (window === 'open') {
    window = 'closed';
    h.disable();
  }
});

function report(): void {
  h.disable();
  const ms = (n: number) => (n / 1e6).toFixed(1);
  const k = (name: string, x: Kind) => `${name} ${x.n} (total ${x.total.toFixed(0)} ms, max ${x.max.toFixed(1)} ms)`;
  process.stderr.write(
    `loop-monitor: ${window === 'all' ? 'whole run' : 'measured window'}: event-loop delay p50 ${ms(h.percentile(50))} ms, p99 ${ms(h.percentile(99))} ms, max ${ms(h.max)} ms; ` +
      `gc ${k('scavenges', minor)}, ${k('mark-compacts', major)}, ${k('other', other)}; old space grew ${(promoted / 2 ** 20).toFixed(1)} MiB across collections; ` +
      `heap max ${(heapMax / 2 ** 20).toFixed(0)} MiB; RSS at exit ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB\n`,
  );
}
process.on('exit', report);
