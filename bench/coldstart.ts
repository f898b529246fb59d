/**
 * The relay's cold start on a given data folder (issue 16 item 3: after 100,000 lifecycles,
 * at most 1 s): spawn of `npm start`'s command (bench/harness.ts) until `/readyz` answers
 * 200, `--runs` times on one copy of the folder, then the median. The folder itself is never
 * touched (a copy in a temp folder is started on). `--prime`: start and stop once first,
 * untimed (a relay that ran on the data before this build stopped without writing what this
 * build writes at a stop, e.g. the stats checkpoint). OWP_BENCH_PROF=dir: a CPU profile of
 * each start (bench/profile-summary.ts). Each run prints the relay's own steps (its `relay ready` line).
 *
 * `node --import tsx bench/coldstart.ts --data=DIR [--runs=3] [--prime]` (make DIR with
 * `bench/lifecycles.ts --keep=DIR`).
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { agent } from './harness.js';
import { readyMs } from './lifecycles.js';

const get = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const data = get('data');
if (!data) throw new Error('bench/coldstart.ts: --data=DIR is required');
const runs = Number(get('runs') ?? 3);
const copy = await mkdtemp(join(tmpdir(), 'owp-coldstart-'));
try {
  await cp(data, copy, { recursive: true });
  if (process.argv.includes('--prime')) await (await readyMs(copy)).relay.stop();
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const load = loadavg()[0]!.toFixed(1);
    const r = await readyMs(copy);
    ms.push(r.ms);
    await r.relay.stop();
    const out = r.relay.output();
    // The relay's own account of its start: the ms of each step (server/relay.ts, `relay ready`).
    const line = /^.*"relay ready".*$/m.exec(out)?.[0];
    const phases = line ? (JSON.parse(line) as { phases?: Record<string, number> }).phases : undefined;
    console.log(`  cold start ${i + 1}: ${Math.round(r.ms)} ms (load ${load})${phases ? ` steps ${JSON.stringify(phases)}` : ''}`);
  }
  ms.sort((a, b) => a - b);
  console.log(JSON.stringify({ runs, medianMs: Math.round(ms[Math.floor(ms.length / 2)]!), ms: ms.map(Math.round) }));
} finally {
  await rm(copy, { recursive: true, force: true });
  agent.destroy();
}
