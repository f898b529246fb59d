/**
 * Preloaded into the benchmark's relay (`OWP_BENCH_ALLOC=dir`): the first SIGUSR2 starts V8's
 * sampling heap profiler (objects the collector already freed included, so the samples add
 * up to what was allocated, not what is still alive), the second stops it, prints
 * `bench-alloc: <bytes>` (the sampled total) and writes the profile to dir as a .heapprofile
 * (Chrome DevTools opens it; bench/alloc-summary.ts sums it by function). bench/cpu-cycles.ts
 * sends the two signals around its measured cycles.
 *
 * Invariants: observes only; changes nothing in the relay's behaviour.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';

interface SampleNode {
  selfSize: number;
  children: SampleNode[];
}

const dir = process.env.OWP_BENCH_ALLOC ?? '.';
const session = new Session();
session.connect();
let sampling = false;

function total(n: SampleNode): number {
  let sum = n.selfSize;
  for (const c of n.children) sum += total(c);
  return sum;
}

process.on('SIGUSR2', () => {
  void (async () => {
    if (!sampling) {
      sampling = true;
      await session.post('HeapProfiler.startSampling', { samplingInterval: 16_384, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
      return;
    }
    sampling = false;
    const { profile } = (await session.post('HeapProfiler.stopSampling')) as { profile: { head: SampleNode } };
    const file = join(dir, `relay-${process.pid}-${Date.now()}.heapprofile`);
    writeFileSync(file, JSON.stringify(profile));
    process.stderr.write(`bench-alloc: ${total(profile.head)} bytes sampled, profile ${file}\n`);
  })();
});
