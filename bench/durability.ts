/**
 * What OWP_DURABILITY=fsync costs: claims per second and claim latency (p50/p99) of a relay
 * run as `npm start` runs it (real LevelDB in a temp folder), once with `fsync` (the default:
 * every write synced before anyone is answered) and once with `os` (flushing left to the OS).
 * Two scenarios per mode:
 * - one worker, claim then release, one at a time: every claim is its own tick, so it pays a
 *   whole sync (the worst case per claim);
 * - 100 workers at once in closed loops (20 claims each, each released again): a tick's one
 *   sync is shared by every intent of the batch.
 * Latency is the claim's (sent to answered); claims/s counts claims over the wall time, which
 * includes the releases (so the relay runs twice as many intents).
 *
 * Standalone: `node --import tsx bench/durability.ts` prints a table (Markdown).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { call, pct, seedPool, startRelay } from './harness.js';

type Mode = 'fsync' | 'os';

export interface DurabilityRow {
  mode: Mode;
  scenario: string;
  claims: number;
  claimsPerSec: number;
  p50: number;
  p99: number;
}

async function timed(fn: () => Promise<{ status: number; body: any }>): Promise<{ ms: number; res: { status: number; body: any } }> {
  const t = performance.now();
  const res = await fn();
  return { ms: performance.now() - t, res };
}

function row(mode: Mode, scenario: string, latencies: number[], wallMs: number): DurabilityRow {
  latencies.sort((a, b) => a - b);
  return { mode, scenario, claims: latencies.length, claimsPerSec: Math.round((latencies.length / wallMs) * 1000), p50: pct(latencies, 50), p99: pct(latencies, 99) };
}

async function runMode(mode: Mode): Promise<DurabilityRow[]> {
  const dataDir = await mkdtemp(join(tmpdir(), 'owp-bench-durability-'));
  const relay = await startRelay(dataDir, { OWP_DURABILITY: mode });
  try {
    const base = relay.url;
    const { tokens } = await seedPool(base, 101);
    const [solo, ...crowd] = tokens;
    const release = async (token: string, o: { taskId: string; fencingToken: number }) => {
      const r = await call(base, token, 'POST', `/api/tasks/${encodeURIComponent(o.taskId)}/release`, { fencingToken: o.fencingToken });
      if (r.body?.outcome?.status !== 'applied') throw new Error(`release refused: ${JSON.stringify(r.body)}`);
    };
    // Warm-up (JIT, the first batch reconciles 10,000 tasks): not measured.
    for (let i = 0; i < 20; i++) {
      await release(solo, (await call(base, solo, 'POST', '/api/claim', {})).body.outcome);
    }
    const rows: DurabilityRow[] = [];
    // One worker, one claim at a time (each followed by its release, not measured).
    let lat: number[] = [];
    let start = performance.now();
    for (let i = 0; i < 300; i++) {
      const { ms, res } = await timed(() => call(base, solo, 'POST', '/api/claim', {}));
      if (res.body?.outcome?.status !== 'granted') throw new Error(`claim refused: ${JSON.stringify(res.body)}`);
      lat.push(ms);
      await release(solo, res.body.outcome);
    }
    rows.push(row(mode, '1 worker, claim + release in turn', lat, performance.now() - start));
    // 100 workers at once, closed loops.
    lat = [];
    start = performance.now();
    await Promise.all(
      crowd.map(async (t) => {
        for (let i = 0; i < 20; i++) {
          const { ms, res } = await timed(() => call(base, t, 'POST', '/api/claim', {}));
          if (res.body?.outcome?.status !== 'granted') throw new Error(`claim refused: ${res.status} ${JSON.stringify(res.body)}`);
          lat.push(ms);
          await release(t, res.body.outcome);
        }
      }),
    );
    rows.push(row(mode, '100 workers, claim + release in turn, at once', lat, performance.now() - start));
    return rows;
  } finally {
    await relay.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

export async function runDurabilityBench(): Promise<DurabilityRow[]> {
  const rows: DurabilityRow[] = [];
  for (const mode of ['fsync', 'os'] as const) rows.push(...(await runMode(mode)));
  return rows;
}

export function durabilityTable(rows: DurabilityRow[]): string {
  const lines = ['| OWP_DURABILITY | scenario | claims | claims/s | p50 ms | p99 ms |', '|---|---|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.mode} | ${r.scenario} | ${r.claims} | ${r.claimsPerSec} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} |`);
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`durability bench: Node ${process.version}, ${cpus().length} cores`);
  console.log(durabilityTable(await runDurabilityBench()));
  process.exit(0);
}
