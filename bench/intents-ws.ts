/**
 * HTTP vs the intent channel (docs/PROTOCOL.md, "Intent channel"): the side-by-side cycle of
 * bench/side.ts (claim-next, then complete) against the relay started as `npm start` starts
 * it, once over HTTP (bench/cycles.ts owpDriver) and once over `/owp/intents`, one socket per
 * worker (owpWsDriver, the CLI's IntentSocket). `--depth=k` runs k cycles per worker at once
 * (k connections per worker over HTTP, k in flight on the worker's one socket).
 *
 * For bench/run.ts: `const d = await owpWsDriver(relay.url, tokens)`, then
 * `runCycles(d, workers, tasks, cycles)` and `d.close()` (more virtual workers than tokens
 * pipeline on the sockets: virtual worker v uses socket v % tokens.length).
 *
 * Standalone: `node --import tsx bench/intents-ws.ts [--workers=200] [--tasks=40000]
 * [--cycles=10000] [--runs=3] [--depth=1]`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { IntentSocket } from '../server/cli/intent-channel.js';
import { owpDriver, runCycles, type CycleDriver, type CycleResult } from './cycles.js';
import { agent, BENCH_LIMITS, startRelay } from './harness.js';
import { seedOwp } from './side.js';

type Taken = { taskId: string; fencingToken: number };

/** The OWP cycle over the intent channel: worker w's cycles go on socket w % tokens.length. */
export async function owpWsDriver(base: string, tokens: string[]): Promise<CycleDriver & { close(): void }> {
  const sockets: IntentSocket[] = [];
  for (let i = 0; i < tokens.length; i += 50) sockets.push(...(await Promise.all(tokens.slice(i, i + 50).map((t) => IntentSocket.connect(base, t)))));
  const on = (w: number) => sockets[w % sockets.length]!;
  return {
    async take(w) {
      const a = await on(w).request('claim', undefined, {});
      const body = a.body as { outcome?: Taken; error?: { code?: string } };
      if (a.status === 200) return body.outcome;
      if (body.error?.code === 'no-matching-task') return undefined;
      throw new Error(`claim: ${a.status} ${JSON.stringify(a.body)}`);
    },
    async complete(w, taken) {
      const t = taken as Taken;
      const a = await on(w).request('complete', t.taskId, { fencingToken: t.fencingToken });
      if (a.status !== 200) throw new Error(`complete: ${a.status} ${JSON.stringify(a.body)}`);
    },
    close: () => sockets.forEach((s) => s.close()),
  };
}

export type Transport = 'http' | 'ws';

export async function runTransport(transport: Transport, workers: number, tasks: number, cycles: number, depth: number): Promise<CycleResult> {
  const dataDir = await mkdtemp(join(tmpdir(), 'owp-bench-'));
  const relay = await startRelay(dataDir, BENCH_LIMITS);
  try {
    const tokens = await seedOwp(relay.url, workers, tasks);
    // `depth` cycles per worker: virtual worker v acts for worker v % workers.
    const spread = Array.from({ length: workers * depth }, (_, v) => tokens[v % workers]!);
    if (transport === 'http') return await runCycles(owpDriver(relay.url, spread), workers * depth, tasks, cycles);
    const d = await owpWsDriver(relay.url, tokens);
    try {
      return await runCycles(d, workers * depth, tasks, cycles);
    } finally {
      d.close();
    }
  } finally {
    await relay.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const load = () => loadavg().map((l) => l.toFixed(1)).join(' / ');

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const get = (name: string, d: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? d);
  const workers = get('workers', 200);
  const tasks = get('tasks', 40_000);
  const cycles = Math.min(get('cycles', 10_000), Math.floor(tasks / 4));
  const runs = get('runs', 3);
  const depth = get('depth', 1);
  const got: Record<Transport, CycleResult[]> = { http: [], ws: [] };
  const startLoad = load();
  for (let run = 0; run < runs; run++) {
    for (const t of ['http', 'ws'] as const) {
      const r = await runTransport(t, workers, tasks, cycles, depth);
      console.log(`  ${t} ${workers} workers x${depth} run ${run + 1}: ${Math.round(r.cyclesPerSec)} cycles/s, claim p50 ${r.p50.toFixed(1)} ms p99 ${r.p99.toFixed(1)} ms, ${r.errors} errors (load ${load()})`);
      got[t].push(r);
    }
  }
  console.log(`\n${workers} workers, ${depth} cycle(s) in flight each, ${tasks} queued tasks, ${cycles} cycles per run, median of ${runs}; load ${startLoad} -> ${load()}`);
  console.log('| transport | cycles/s | runs | claim p50 ms | claim p99 ms |\n|---|---:|---|---:|---:|');
  for (const t of ['http', 'ws'] as const) {
    const rs = got[t];
    console.log(`| ${t === 'http' ? 'HTTP' : 'intent channel'} | ${Math.round(median(rs.map((r) => r.cyclesPerSec)))} | ${rs.map((r) => Math.round(r.cyclesPerSec)).join(', ')} | ${median(rs.map((r) => r.p50)).toFixed(1)} | ${median(rs.map((r) => r.p99)).toFixed(1)} |`);
  }
  agent.destroy();
  process.exit(0);
}
