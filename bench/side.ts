/**
 * Side by side (issue 16): the same take-then-complete cycle against
 *  (a) the limit: a bare Node HTTP server answering with a constant (bench/bare-server.ts),
 *  (b) BullMQ on a Redis this script starts (bench/bullmq.ts),
 *  (c) OWP, the relay started as `npm start` starts it (bench/harness.ts startRelay),
 * at several worker counts over the same number of tasks (skills, seven priorities, ten
 * repos). Each figure is the median of `--runs` runs; the systems alternate within a round
 * so a change in the machine's load hits all three alike.
 *
 * Each run queues `--tasks` tasks and measures `--cycles` cycles (at most a quarter of the
 * queue, so the pool stays large all along).
 *
 * Standalone: `node --import tsx bench/side.ts [--workers=200,1000] [--tasks=40000]
 * [--cycles=10000] [--runs=3] [--systems=bare,bullmq,owp]`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ADMIN, BENCH_LIMITS, agent, call } from './harness.js';
import { startRelay, startServer } from './harness.js';
import { bareDriver, owpDriver, runCycles, type CycleResult } from './cycles.js';
import { owpWsDriver } from './intents-ws.js';
import { bullmqSystem, SKILLS, startRedis } from './bullmq.js';

/** `owp-ws`: OWP with the same cycle over the intent channel (one WebSocket per worker) instead of HTTP. */
export type System = 'bare' | 'bullmq' | 'owp' | 'owp-ws';
export const SYSTEMS: System[] = ['bare', 'bullmq', 'owp', 'owp-ws'];

export interface SideOptions {
  workers: number[];
  tasks: number;
  /** Cycles measured per run (of the `tasks` queued); the queue stays at least 3/4 full. */
  cycles: number;
  runs: number;
  systems: System[];
}

export function parseSideArgs(argv: string[]): SideOptions {
  const get = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const nums = (v: string | undefined, d: number[]) => (v ? v.split(',').map(Number) : d);
  return {
    workers: nums(get('workers'), [200, 1000]),
    tasks: Number(get('tasks') ?? 40_000),
    cycles: Number(get('cycles') ?? 10_000),
    runs: Number(get('runs') ?? 3),
    systems: (get('systems')?.split(',') as System[] | undefined) ?? SYSTEMS,
  };
}

/** Seed an OWP relay: `tasks` queued tasks (ten repos, seven priorities, one of five skills each), `workers` workers with three skills each. */
export async function seedOwp(base: string, workers: number, tasks: number): Promise<string[]> {
  const maint = (await call(base, ADMIN, 'POST', '/api/tokens', { role: 'maintainer' })).body.token as string;
  for (let r = 0; r < 10; r++) {
    const p = await call(base, maint, 'PUT', `/api/repos/bench/pool${r}`, { reviewBudget: 1000, dailyQuota: 10_000 });
    if (p.status !== 200) throw new Error(`repo policy failed: ${JSON.stringify(p.body)}`);
  }
  for (let start = 0; start < tasks; start += 2500) {
    const batch = Array.from({ length: Math.min(2500, tasks - start) }, (_, i) => {
      const n = start + i + 1;
      return { id: `bench/pool${n % 10}#${n}`, repo: `bench/pool${n % 10}`, title: `Task ${n}`, skills: [SKILLS[n % SKILLS.length]], priority: n % 7 };
    });
    const r = await call(base, maint, 'POST', '/api/tasks', { createRepo: true, tasks: batch });
    if (r.status !== 200) throw new Error(`seeding failed: ${JSON.stringify(r.body)}`);
  }
  const tokens: string[] = new Array(workers);
  const one = async (i: number) => {
    const t = (await call(base, ADMIN, 'POST', '/api/tokens', { role: 'worker', workerId: `bw${i}` })).body.token as string;
    const skills = [0, 1, 2].map((k) => SKILLS[(i + k) % SKILLS.length]);
    const reg = await call(base, t, 'POST', '/api/workers/register', { skills, capacity: 100, maxConcurrent: 50, maxOpenPrs: 50 });
    if (reg.status !== 200) throw new Error(`register failed: ${JSON.stringify(reg.body)}`);
    tokens[i] = t;
  };
  for (let i = 0; i < workers; i += 50) await Promise.all(Array.from({ length: Math.min(50, workers - i) }, (_, k) => one(i + k)));
  return tokens;
}

export async function runSystem(system: System, workers: number, tasks: number, cycles = Infinity): Promise<CycleResult> {
  if (system === 'bare') {
    const s = await startServer(['--import', 'tsx', 'bench/bare-server.ts'], {});
    try {
      return await runCycles(bareDriver(s.url, tasks), workers, tasks, cycles);
    } finally {
      await s.stop();
    }
  }
  if (system === 'bullmq') {
    const redis = await startRedis();
    try {
      const b = await bullmqSystem(redis.port, workers, tasks);
      try {
        return await runCycles(b.driver, workers, tasks, cycles);
      } finally {
        await b.close();
      }
    } finally {
      await redis.stop();
    }
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'owp-bench-'));
  const relay = await startRelay(dataDir, BENCH_LIMITS);
  try {
    const tokens = await seedOwp(relay.url, workers, tasks);
    if (system === 'owp') return await runCycles(owpDriver(relay.url, tokens), workers, tasks, cycles);
    const d = await owpWsDriver(relay.url, tokens);
    try {
      return await runCycles(d, workers, tasks, cycles);
    } finally {
      d.close();
    }
  } finally {
    await relay.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export interface SideRow {
  system: System;
  workers: number;
  runs: CycleResult[];
  median: CycleResult;
  load: string;
}

function median(rs: CycleResult[]): CycleResult {
  const mid = <K extends keyof CycleResult>(k: K) => {
    const v = rs.map((r) => r[k] as number).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)]!;
  };
  return { ...rs[0]!, cyclesPerSec: mid('cyclesPerSec'), p50: mid('p50'), p99: mid('p99'), max: mid('max'), errors: mid('errors'), wallMs: mid('wallMs') };
}

const load = () => loadavg().map((l) => l.toFixed(1)).join(' / ');

export async function runSide(o: SideOptions): Promise<SideRow[]> {
  const rows: SideRow[] = [];
  for (const workers of o.workers) {
    const got = new Map<System, CycleResult[]>(o.systems.map((s) => [s, []]));
    const loads: string[] = [];
    for (let run = 0; run < o.runs; run++) {
      for (const system of o.systems) {
        loads.push(load());
        const r = await runSystem(system, workers, o.tasks, Math.min(o.cycles, Math.floor(o.tasks / 4)));
        console.log(`  ${system} ${workers} workers run ${run + 1}: ${Math.round(r.cyclesPerSec)} cycles/s, claim p50 ${r.p50.toFixed(1)} ms p99 ${r.p99.toFixed(1)} ms, ${r.tasks} completed, ${r.errors} errors (load ${load()})`);
        got.get(system)!.push(r);
      }
    }
    for (const system of o.systems) rows.push({ system, workers, runs: got.get(system)!, median: median(got.get(system)!), load: `${loads[0]} -> ${load()}` });
  }
  return rows;
}

export function sideTable(rows: SideRow[]): string {
  const f1 = (n: number) => n.toFixed(1);
  const lines = ['| workers | system | cycles/s (median) | runs, cycles/s | claim p50 ms | claim p99 ms | OWP / limit | OWP / BullMQ | load average (1/5/15 min) |', '|---:|---|---:|---|---:|---:|---:|---:|---|'];
  for (const r of rows) {
    const of = (s: System) => rows.find((x) => x.workers === r.workers && x.system === s)?.median.cyclesPerSec;
    const owp = r.system === 'owp' || r.system === 'owp-ws' ? r.median.cyclesPerSec : undefined;
    const ratio = (d: number | undefined) => (owp && d ? (owp / d).toFixed(2) : '');
    lines.push(
      `| ${r.workers} | ${r.system} | ${Math.round(r.median.cyclesPerSec)} | ${r.runs.map((x) => Math.round(x.cyclesPerSec)).join(', ')} | ${f1(r.median.p50)} | ${f1(r.median.p99)} | ${ratio(of('bare'))} | ${ratio(of('bullmq'))} | ${r.load} |`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = parseSideArgs(process.argv.slice(2));
  const rows = await runSide(o);
  console.log('\n' + sideTable(rows));
  agent.destroy();
  process.exit(0);
}
