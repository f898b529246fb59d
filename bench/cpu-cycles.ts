/**
 * The side-by-side cycle (bench/cycles.ts) against one system, with the server's own CPU time
 * per cycle: utime + stime of its process (/proc/<pid>/stat, Linux) over the measured cycles.
 * On a machine shared with other work, cycles per second follow the CPU share the server gets;
 * CPU milliseconds per cycle do not, so two builds can be compared run against run
 * (docs/BENCHMARKS.md "Profile"). OWP_BENCH_PROF=dir writes the relay's CPU profile.
 *
 * `--sys=owp-ws`: OWP over its intent channel (bench/intents-ws.ts owpWsDriver).
 *
 * `node --import tsx bench/cpu-cycles.ts [--sys=owp|owp-ws|bare] [--workers=200] [--tasks=8000] [--cycles=2000] [--runs=1]`
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_LIMITS, agent, startRelay, startServer } from './harness.js';
import { seedOwp } from './side.js';
import { bareDriver, owpDriver, runCycles, type CycleDriver } from './cycles.js';
import { owpWsDriver } from './intents-ws.js';

const arg = (n: string, d: string) => process.argv.find((a) => a.startsWith(`--${n}=`))?.slice(n.length + 3) ?? d;
const sys = arg('sys', 'owp');
const workers = Number(arg('workers', '200'));
const tasks = Number(arg('tasks', '8000'));
const cycles = Number(arg('cycles', '2000'));
const runs = Number(arg('runs', '1'));

/** CPU ms (user + system) a process has used so far; clock ticks of 10 ms (CLK_TCK 100). */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

for (let r = 0; r < runs; r++) {
  const owp = sys.startsWith('owp');
  const dataDir = owp ? await mkdtemp(join(tmpdir(), 'owp-cpu-')) : '';
  const s = owp ? await startRelay(dataDir, BENCH_LIMITS) : await startServer(['--import', 'tsx', 'bench/bare-server.ts'], {});
  let driver: CycleDriver & { close?(): void } = bareDriver(s.url, tasks);
  try {
    if (sys === 'owp') driver = owpDriver(s.url, await seedOwp(s.url, workers, tasks));
    if (sys === 'owp-ws') driver = await owpWsDriver(s.url, await seedOwp(s.url, workers, tasks));
    const c0 = cpuMs(s.pid);
    const t0 = performance.now();
    const res = await runCycles(driver, workers, tasks, cycles);
    const wall = performance.now() - t0;
    const cpu = cpuMs(s.pid) - c0;
    console.log(
      `${sys} ${workers} workers: ${Math.round(res.cyclesPerSec)} cycles/s, claim p50 ${res.p50.toFixed(1)} ms p99 ${res.p99.toFixed(1)} ms, ${res.errors} errors | server CPU ${(cpu / res.tasks).toFixed(3)} ms/cycle, CPU share ${(cpu / wall).toFixed(2)} | load ${loadavg()[0]!.toFixed(1)}`,
    );
  } finally {
    driver.close?.();
    await s.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }
}
agent.destroy();
process.exit(0);
