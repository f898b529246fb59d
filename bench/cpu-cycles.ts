/**
 * The side-by-side cycle (bench/cycles.ts) against one system, with the server's own CPU time
 * per cycle: utime + stime of its process (/proc/<pid>/stat, Linux) over the measured cycles.
 * On a machine shared with other work, cycles per second follow the CPU share the server gets;
 * CPU milliseconds per cycle do not, so two builds can be compared run against run
 * (docs/BENCHMARKS.md "Profile"). OWP_BENCH_PROF=dir writes the relay's CPU profile;
 * OWP_BENCH_ALLOC=dir samples what the relay allocates over the measured cycles
 * (bench/alloc-monitor.mjs) and prints it per cycle. For OWP it also prints the engine's
 * batches over the measured cycles (/api/status): how many intents one batch carried.
 *
 * `--sys=owp-ws`: OWP over its intent channel (bench/intents-ws.ts owpWsDriver).
 *
 * `node --import tsx bench/cpu-cycles.ts [--sys=owp|owp-ws|bare] [--workers=200] [--tasks=8000] [--cycles=2000] [--runs=1]`
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN, BENCH_LIMITS, agent, call, startRelay, startServer } from './harness.js';
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
function cpuMs(pid: number, thread?: number): number {
  const f = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

interface SampleNode {
  selfSize: number;
  children: SampleNode[];
}
const sampled = (n: SampleNode): number => n.children.reduce((sum, c) => sum + sampled(c), n.selfSize);

/** The relay's allocation profile written after the second SIGUSR2 (bench/alloc-monitor.mjs): its sampled bytes. */
async function allocated(dir: string, before: Set<string>): Promise<number> {
  for (let i = 0; i < 600; i++) {
    const f = (await readdir(dir)).find((x) => x.endsWith('.heapprofile') && !before.has(x));
    if (f) {
      await new Promise((r) => setTimeout(r, 200));
      return sampled((JSON.parse(readFileSync(join(dir, f), 'utf8')) as { head: SampleNode }).head);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no allocation profile from the relay');
}

interface EngineStats {
  batches: number;
  intents: number;
  scheduleMs: number;
  persistMs: number;
  applyMs: number;
}
const engineStats = async (url: string) => (await call(url, ADMIN, 'GET', '/api/status')).body.engine as EngineStats;

/** Batches between two /api/status reads: how many, intents each, and the mean ms of each phase. */
function batchLine(e0: EngineStats, e1: EngineStats): string {
  const n = e1.batches - e0.batches;
  const per = (k: 'scheduleMs' | 'persistMs' | 'applyMs') => ((e1[k] - e0[k]) / n).toFixed(1);
  return ` | ${n} batches, ${((e1.intents - e0.intents) / n).toFixed(1)} intents each, ms each: schedule ${per('scheduleMs')} persist ${per('persistMs')} show+answer ${per('applyMs')}`;
}
const allocDir = process.env.OWP_BENCH_ALLOC;

for (let r = 0; r < runs; r++) {
  const owp = sys.startsWith('owp');
  const dataDir = owp ? await mkdtemp(join(tmpdir(), 'owp-cpu-')) : '';
  const s = owp ? await startRelay(dataDir, BENCH_LIMITS) : await startServer(['--import', 'tsx', 'bench/bare-server.ts'], {});
  let driver: CycleDriver & { close?(): void } = bareDriver(s.url, tasks);
  try {
    if (sys === 'owp') driver = owpDriver(s.url, await seedOwp(s.url, workers, tasks));
    if (sys === 'owp-ws') driver = await owpWsDriver(s.url, await seedOwp(s.url, workers, tasks));
    const profiles = allocDir && owp ? new Set(await readdir(allocDir)) : undefined;
    const e0 = owp ? await engineStats(s.url) : undefined;
    if (profiles) process.kill(s.pid, 'SIGUSR2');
    const c0 = cpuMs(s.pid);
    // The event loop's own thread (its thread id is the process id): without the snapshot
    // worker's and LevelDB's threads, whose share moves with when a compaction falls.
    const l0 = cpuMs(s.pid, s.pid);
    const t0 = performance.now();
    const res = await runCycles(driver, workers, tasks, cycles);
    const wall = performance.now() - t0;
    const cpu = cpuMs(s.pid) - c0;
    const loop = cpuMs(s.pid, s.pid) - l0;
    if (profiles) process.kill(s.pid, 'SIGUSR2');
    const e1 = owp ? await engineStats(s.url) : undefined;
    const batches = e0 && e1 ? batchLine(e0, e1) : '';
    const alloc = profiles ? ` | allocated ${((await allocated(allocDir!, profiles)) / res.tasks / 1024).toFixed(1)} KB/cycle` : '';
    console.log(
      `${sys} ${workers} workers: ${Math.round(res.cyclesPerSec)} cycles/s, claim p50 ${res.p50.toFixed(1)} ms p99 ${res.p99.toFixed(1)} ms, ${res.errors} errors | server CPU ${(cpu / res.tasks).toFixed(3)} ms/cycle (event loop thread ${(loop / res.tasks).toFixed(3)}), CPU share ${(cpu / wall).toFixed(2)}${batches}${alloc} | load ${loadavg()[0]!.toFixed(1)}`,
    );
  } finally {
    driver.close?.();
    await s.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }
}
agent.destroy();
process.exit(0);
