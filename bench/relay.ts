/**
 * Relay benchmark: claim-to-lease latency (p50/p99) and grants per second with 100 and
 * 500 workers over 10,000 queued tasks. Two scenarios:
 * - steady state (bench/steady.ts): claims spread out at a few hundred per second, the
 *   latency target's scenario;
 * - burst (this file): every worker claims at once, eight times in a row, for claim-next
 *   and for named claims: a throughput / stress figure.
 *
 * The relay runs as a child process exactly as `npm start` runs it (real LevelDB in a temp
 * folder, default tick); the workers are HTTP clients in this process, each with its own
 * worker token, all claiming at once (`POST /api/claim`, claim-next). Latency is measured
 * from sending the claim to receiving the answer, which the relay sends only after the
 * grant is persisted and broadcast.
 *
 * Standalone: `node --import tsx bench/relay.ts [--write]` (--write updates docs/BENCHMARKS.md).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem, tmpdir, type as osType, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BENCH_LIMITS, REPOS, TASKS, agent, call, claimFigures, seedPool, startRelay, type ClaimFigures } from './harness.js';
import { runSteady, steadyTable, type SteadyResult } from './steady.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CLAIMS_PER_WORKER = 8;

export interface ScenarioResult extends ClaimFigures {
  workers: number;
  mode: Mode;
  claims: number;
  granted: number;
  rejected: number;
  errors: number;
  grantsPerSec: number;
  wallMs: number;
}

/** `claim-next`: the relay picks the best task (scans the pool); `claim`: a named task id (what the plugin sends from a note). */
export type Mode = 'claim-next' | 'claim';

export async function runScenario(workers: number, mode: Mode = 'claim-next'): Promise<ScenarioResult> {
  const dataDir = await mkdtemp(join(tmpdir(), 'owp-bench-'));
  const relay = await startRelay(dataDir, BENCH_LIMITS);
  try {
    const base = relay.url;
    const { maint, tokens } = await seedPool(base, workers);
    // Warm-up: one claim per worker, not measured (JIT, first batch reconciles 10,000 tasks).
    // Named claims: worker k claims its own distinct tasks, so every claim can be granted.
    let nextTask = 1;
    const body = (): Record<string, unknown> => {
      if (mode === 'claim-next') return {};
      const n = nextTask++;
      return { taskId: `bench/pool${n % REPOS}#${n}` };
    };
    await Promise.all(tokens.map((t) => call(base, t, 'POST', '/api/claim', body())));
    const before = (await call(base, maint, 'GET', '/api/status')).body.engine;

    const latencies: number[] = [];
    let granted = 0;
    let rejected = 0;
    let errors = 0;
    const t0 = performance.now();
    await Promise.all(
      tokens.map(async (t) => {
        for (let i = 0; i < CLAIMS_PER_WORKER; i++) {
          const s = performance.now();
          try {
            const r = await call(base, t, 'POST', '/api/claim', body());
            latencies.push(performance.now() - s);
            if (r.status === 200) granted++;
            else rejected++;
          } catch {
            errors++;
          }
        }
      }),
    );
    const wallMs = performance.now() - t0;
    const after = (await call(base, maint, 'GET', `/api/status?latencySince=${before.latency.total}`)).body.engine;
    latencies.sort((a, b) => a - b);
    return {
      workers,
      mode,
      claims: latencies.length,
      granted,
      rejected,
      errors,
      grantsPerSec: (granted / wallMs) * 1000,
      wallMs,
      ...claimFigures(latencies, before, after),
    };
  } finally {
    await relay.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

const f1 = (n: number) => n.toFixed(1);

export function machineInfo(): string {
  const c = cpus();
  return `${c.length} x ${c[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${osType()} ${release()}, Node ${process.version}, load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ')} when the run started`;
}

export function markdownTable(results: ScenarioResult[]): string {
  const rows = results.map(
    (r) =>
      `| ${r.workers} | ${r.mode} | ${r.claims} | ${r.granted} | ${r.rejected + r.errors} | ${f1(r.p50)} | ${f1(r.p90)} | ${f1(r.p99)} | ${f1(r.max)} | ${Math.round(r.grantsPerSec)} | ${f1(r.relayP50)} / ${f1(r.relayP99)} | ${r.batches} | ${f1(r.claims / Math.max(1, r.batches))} | ${f1(r.maxBatchMs)} | ${Math.round(r.scheduleMs)} / ${Math.round(r.persistMs)} / ${Math.round(r.applyMs)} |`,
  );
  return [
    '| workers | intent | claims | granted | refused/errors | p50 ms | p90 ms | p99 ms | max ms | grants/s | in-relay p50 / p99 ms | batches | claims/batch | slowest batch ms | schedule / persist / apply ms |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

export async function runRelayBench(write: boolean): Promise<ScenarioResult[]> {
  const steady: SteadyResult[] = [];
  const machine = machineInfo();
  const durationMs = Number(process.env.OWP_BENCH_STEADY_MS ?? 20_000);
  for (const spec of (process.env.OWP_BENCH_STEADY ?? '100:300,500:300').split(',').filter(Boolean)) {
    const [n, rate] = spec.split(':').map(Number);
    console.log(`relay bench (steady state): ${n} connected workers, ${TASKS} queued tasks, about ${rate} claims/s for ${durationMs / 1000} s...`);
    const r = await runSteady(n!, rate!, durationMs);
    console.log(`  p50 ${f1(r.p50)} ms  p90 ${f1(r.p90)} ms  p99 ${f1(r.p99)} ms  max ${f1(r.max)} ms  ${Math.round(r.claimRate)} claims/s, ${Math.round(r.grantsPerSec)} grants/s (${r.refused} refused, ${r.errors} errors, ${r.batches} batches; load generator loop delay p99 ${f1(r.clientLoopP99)} ms, max ${f1(r.clientLoopMax)} ms)`);
    steady.push(r);
  }
  if (steady.length > 0) {
    const t = steadyTable(steady);
    console.log('\n' + t + '\n');
    if (write) await writeBlock('relay-steady', t, machine);
  }
  const results: ScenarioResult[] = [];
  const scenarios: [number, Mode][] = (process.env.OWP_BENCH_SCENARIOS ?? '100:claim-next,500:claim-next,500:claim').split(',').filter(Boolean).map((x) => {
    const [n, m] = x.split(':');
    return [Number(n), (m ?? 'claim-next') as Mode];
  });
  for (const [n, mode] of scenarios) {
    console.log(`relay bench: ${n} concurrent workers, ${TASKS} queued tasks, ${CLAIMS_PER_WORKER} ${mode} each...`);
    const r = await runScenario(n, mode);
    console.log(
      `  p50 ${f1(r.p50)} ms  p99 ${f1(r.p99)} ms (in relay ${f1(r.relayP50)} / ${f1(r.relayP99)})  max ${f1(r.max)} ms  ${Math.round(r.grantsPerSec)} grants/s  (${r.granted} granted, ${r.rejected} refused, ${r.errors} errors, ${r.batches} batches; relay time: schedule ${Math.round(r.scheduleMs)} ms, persist ${Math.round(r.persistMs)} ms, apply ${Math.round(r.applyMs)} ms)`,
    );
    results.push(r);
  }
  if (results.length > 0) {
    const table = markdownTable(results);
    console.log('\n' + table);
    if (write) await writeBlock('relay-bench', table, machine);
  }
  return results;
}

/** Replace the block between `<!-- name:start -->` and `<!-- name:end -->` in docs/BENCHMARKS.md. */
export async function writeBlock(name: string, table: string, machine: string): Promise<void> {
  const START = `<!-- ${name}:start -->`;
  const END = `<!-- ${name}:end -->`;
  const file = join(ROOT, 'docs', 'BENCHMARKS.md');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    text = `# Benchmarks\n\n${START}\n${END}\n`;
  }
  const block = [
    START,
    `Measured ${new Date().toISOString()} on ${machine}; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ')} when this part ended.`,
    '',
    table,
    END,
  ].join('\n');
  text = text.includes(START) && text.includes(END) ? text.slice(0, text.indexOf(START)) + block + text.slice(text.indexOf(END) + END.length) : text + '\n' + block + '\n';
  await writeFile(file, text);
  console.log(`wrote ${file}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runRelayBench(process.argv.includes('--write'));
  agent.destroy();
}
