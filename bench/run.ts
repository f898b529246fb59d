/**
 * `npm run bench`: every benchmark of the project, one after the other, results written to
 * docs/BENCHMARKS.md (and the curves to docs/bench/*.svg). About 15 minutes on a quiet
 * 2-core machine. Each part is also runnable alone (see its file).
 *
 * Flags: `--only=side,steady,burst,curves,extra` (default all), `--quick` (small sizes, one run:
 * a check that everything runs, not figures to publish), `--no-write`.
 */
import { loadavg } from 'node:os';
import { agent } from './harness.js';
import { machineInfo, runRelayBench, writeBlock } from './relay.js';
import { curveTable, runCurves } from './curves.js';
import { runSide, sideTable } from './side.js';
import { EXTRA_FULL, EXTRA_QUICK, extraTable, runExtra } from './extra.js';

const argv = process.argv.slice(2);
const write = !argv.includes('--no-write');
const quick = argv.includes('--quick');
const only = new Set((argv.find((a) => a.startsWith('--only='))?.slice(7) ?? 'side,steady,burst,curves,extra').split(','));
const started = Date.now();

if (only.has('side')) {
  const machine = machineInfo();
  console.log('side by side: bare HTTP limit, BullMQ on redis-server, OWP over HTTP and over its intent channel (claim+complete cycles)...');
  const rows = await runSide(quick ? { workers: [20], tasks: 2000, cycles: 400, runs: 1, systems: ['bare', 'bullmq', 'owp', 'owp-ws'] } : { workers: [200, 1000], tasks: 40_000, cycles: 3000, runs: 3, systems: ['bare', 'bullmq', 'owp', 'owp-ws'] });
  const t = sideTable(rows);
  console.log('\n' + t + '\n');
  if (write) await writeBlock('side-by-side', t, machine);
}
if (only.has('steady') || only.has('burst')) {
  process.env.OWP_BENCH_STEADY ??= only.has('steady') ? (quick ? '20:50' : '100:300,1000:300') : '';
  process.env.OWP_BENCH_SCENARIOS ??= only.has('burst') ? (quick ? '20:claim-next' : '100:claim-next,500:claim-next,500:claim') : '';
  if (quick) process.env.OWP_BENCH_STEADY_MS ??= '3000';
  await runRelayBench(write);
}
if (only.has('curves')) {
  const machine = machineInfo();
  console.log('scaling curves (OWP): workers, then queued tasks...');
  const r = await runCurves(quick ? { workers: [10, 40], queued: [400, 800], cycles: 200 } : { workers: [100, 500, 1000, 2000, 5000], queued: [1000, 10_000, 40_000, 100_000], cycles: 2000 }, write);
  const t = curveTable([...r.byWorkers, ...r.byQueued]);
  console.log('\n' + t + '\n');
  if (write) await writeBlock('curves', t, machine);
}
if (only.has('extra')) {
  const machine = machineInfo();
  console.log('also measured: 1,000 Yjs clients (fan-out, RSS), the plugin claim path, the vault mirror, 100,000 lifecycles, the bundle...');
  const t = extraTable(await runExtra(quick ? EXTRA_QUICK : EXTRA_FULL));
  console.log('\n' + t + '\n');
  if (write) await writeBlock('extra', t, machine);
}
console.log(`bench done in ${((Date.now() - started) / 60_000).toFixed(1)} min (load average ${loadavg().map((l) => l.toFixed(1)).join(' / ')})`);
agent.destroy();
process.exit(0);
