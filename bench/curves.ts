/**
 * Scaling curves (issue 16 item 5): OWP's claim+complete cycles per second and claim p99
 * against the number of workers (default 100..5,000, 40,000 queued tasks) and against the
 * number of queued tasks (default 1,000..100,000, 200 workers), one run per point (the
 * side-by-side bench's cycle, bench/side.ts runSystem). Writes two SVG charts
 * (docs/bench/*.svg, bench/svg.ts) and returns the table.
 *
 * Standalone: `node --import tsx bench/curves.ts [--workers=100,500,1000,2000,5000]
 * [--queued=1000,10000,40000,100000] [--cycles=10000] [--write]`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CycleResult } from './cycles.js';
import { agent } from './harness.js';
import { runSystem } from './side.js';
import { lineChart } from './svg.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface CurveOptions {
  workers: number[];
  queued: number[];
  cycles: number;
}

export function parseCurveArgs(argv: string[]): CurveOptions {
  const get = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const nums = (v: string | undefined, d: number[]) => (v ? v.split(',').filter(Boolean).map(Number) : d);
  return { workers: nums(get('workers'), [100, 500, 1000, 2000, 5000]), queued: nums(get('queued'), [1000, 10_000, 40_000, 100_000]), cycles: Number(get('cycles') ?? 10_000) };
}

export interface CurvePoint extends CycleResult {
  queued: number;
  load: string;
}

const load = () => loadavg().map((l) => l.toFixed(1)).join(' / ');

/**
 * One point: `workers` workers, `queued` tasks, `cycles` cycles but at least three per worker
 * (5,000 workers doing 1,500 cycles would measure the ramp-up, not the rate), and at most a
 * quarter of the queue (the pool stays large all along).
 */
async function point(workers: number, queued: number, cycles: number): Promise<CurvePoint> {
  const l = load();
  const r = await runSystem('owp', workers, queued, Math.min(Math.max(cycles, 3 * workers), Math.floor(queued / 4)));
  console.log(`  curve: ${workers} workers, ${queued} queued: ${Math.round(r.cyclesPerSec)} cycles/s, claim p99 ${r.p99.toFixed(1)} ms (load ${l})`);
  return { ...r, queued, load: l };
}

export async function runCurves(o: CurveOptions, write: boolean): Promise<{ byWorkers: CurvePoint[]; byQueued: CurvePoint[] }> {
  const byWorkers: CurvePoint[] = [];
  for (const w of o.workers) byWorkers.push(await point(w, 40_000, o.cycles));
  const byQueued: CurvePoint[] = [];
  for (const q of o.queued) byQueued.push(await point(200, q, o.cycles));
  if (write) {
    const dir = join(ROOT, 'docs', 'bench');
    await mkdir(dir, { recursive: true });
    const chart = (title: string, xLabel: string, pts: CurvePoint[], xs: number[]) =>
      lineChart({
        title,
        xLabel,
        xs,
        leftLabel: 'claim+complete cycles per second',
        rightLabel: 'claim p99 (ms)',
        series: [
          { name: 'cycles/s (left)', ys: pts.map((p) => p.cyclesPerSec), axis: 'left', color: '#1f77b4' },
          { name: 'claim p99 ms (right, dashed)', ys: pts.map((p) => p.p99), axis: 'right', color: '#d62728' },
        ],
      });
    if (byWorkers.length > 0) await writeFile(join(dir, 'curve-workers.svg'), chart('OWP: 40,000 queued tasks, N workers', 'workers', byWorkers, byWorkers.map((p) => p.workers)));
    if (byQueued.length > 0) await writeFile(join(dir, 'curve-queued.svg'), chart('OWP: 200 workers, N queued tasks', 'queued tasks', byQueued, byQueued.map((p) => p.queued)));
  }
  return { byWorkers, byQueued };
}

export function curveTable(pts: CurvePoint[]): string {
  return [
    '| workers | queued tasks | cycles measured | cycles/s | claim p50 ms | claim p99 ms | load average at start |',
    '|---:|---:|---:|---:|---:|---:|---|',
    ...pts.map((p) => `| ${p.workers} | ${p.queued} | ${p.tasks} | ${Math.round(p.cyclesPerSec)} | ${p.p50.toFixed(1)} | ${p.p99.toFixed(1)} | ${p.load} |`),
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await runCurves(parseCurveArgs(process.argv.slice(2)), process.argv.includes('--write'));
  console.log('\n' + curveTable([...r.byWorkers, ...r.byQueued]));
  agent.destroy();
  process.exit(0);
}
