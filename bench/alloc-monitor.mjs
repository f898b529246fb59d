/**
 * Preloaded into the benchmark's relay (`OWP_BENCH_ALLOC=dir`): the first SIGUSR2 starts V8's
 * sampling heap profiler (objects the collector already freed included, so the samples add
 * up to what was allocated, not what is still alive), the second stops it, prints
 * `bench-alloc: <bytes>` (the sampled total) and writes the profile to dir as a .heapprofile
 * (Chrome DevTools opens it; bench/alloc-summary.ts sums it by function). bench/cpu-cycles.ts
 * sends the two signals around its measured cycles.
 *
 * Invariants: observes only; changes nothing in the relay's behaviour. Plain JavaScript, not
 * TypeScript: worker threads inherit the relay's `--import` flags, and a .ts import (tsx does
 * not load there) fails the snapshot worker, which moves its encoding onto the event loop. In a
 * worker thread this module does nothing. OWP_BENCH_ALLOC_PROMOTED=1 samples only what outlived
 * the young generation.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';

const dir = process.env.OWP_BENCH_ALLOC ?? '.';
let sampling = false;
// OWP_BENCH_ALLOC_PROMOTED=1: leave out what scavenges freed, so the profile holds what was
// promoted to old space (or allocated there) and what is still alive: the mark-compacts' work.
const promotedOnly = process.env.OWP_BENCH_ALLOC_PROMOTED === '1';

/** @param {{ selfSize: number, children: any[] }} n */
function total(n) {
  let sum = n.selfSize;
  for (const c of n.children) sum += total(c);
  return sum;
}

/** First call: start sampling; second: stop, write the profile, print its total. */
/** @param {Session} session */
async function toggle(session) {
  if (!sampling) {
    sampling = true;
    await session.post('HeapProfiler.startSampling', { samplingInterval: 16_384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: !promotedOnly });
    return;
  }
  sampling = false;
  const { profile } = await session.post('HeapProfiler.stopSampling');
  const file = join(dir, `relay-${process.pid}-${Date.now()}.heapprofile`);
  writeFileSync(file, JSON.stringify(profile));
  process.stderr.write(`bench-alloc: ${total(profile.head)} bytes sampled, profile ${file}\n`);
}

if (isMainThread) {
  const session = new Session();
  session.connect();
  process.on('SIGUSR2', () => void toggle(session));
}
