/**
 * Also measured (issue 16 item 3), against the relay as `npm start` starts it:
 * - relay memory (RSS) with N connected read-only WebSocket (Yjs) clients on `owp/ledger`;
 * - one ledger change reaching all N clients: from the claim's HTTP answer (the relay applies
 *   the change to the document just before answering) to the change arriving in each
 *   client's copy, p50 / p99 / max over every (change, client);
 * - the plugin bundle's size (`npm run build`, main.js).
 *
 * Standalone: `node --import tsx bench/extra.ts [--clients=1000] [--changes=10]`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { ADMIN, BENCH_LIMITS, agent, call, pct, startRelay } from './harness.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
// Every y-websocket provider adds a process 'exit' listener.
process.setMaxListeners(0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

export interface ExtraResult {
  clients: number;
  tasks: number;
  rssBeforeMiB: number;
  rssWithClientsMiB: number;
  connectMs: number;
  changes: number;
  fanoutP50: number;
  fanoutP99: number;
  fanoutMax: number;
}

export async function runFanout(clients: number, changes: number, tasks = 1000): Promise<ExtraResult> {
  const dataDir = await mkdtemp(join(tmpdir(), 'owp-bench-'));
  const relay = await startRelay(dataDir, BENCH_LIMITS);
  const providers: WebsocketProvider[] = [];
  try {
    const base = relay.url;
    const maint = (await call(base, ADMIN, 'POST', '/api/tokens', { role: 'maintainer' })).body.token as string;
    await call(base, maint, 'PUT', '/api/repos/bench/fan', { reviewBudget: 1000, dailyQuota: 10_000 });
    const batch = Array.from({ length: tasks }, (_, i) => ({ id: `bench/fan#${i + 1}`, repo: 'bench/fan', title: `Task ${i + 1}`, priority: i % 7 }));
    const seeded = await call(base, maint, 'POST', '/api/tasks', { tasks: batch });
    if (seeded.status !== 200) throw new Error(`seeding failed: ${JSON.stringify(seeded.body)}`);
    const worker = (await call(base, ADMIN, 'POST', '/api/tokens', { role: 'worker', workerId: 'fan-w' })).body.token as string;
    await call(base, worker, 'POST', '/api/workers/register', { skills: [], capacity: 100, maxConcurrent: 50, maxOpenPrs: 50 });
    // One warm-up claim so the ledger document holds every task's runtime.
    await call(base, worker, 'POST', '/api/claim', {});
    const viewers: string[] = [];
    for (let i = 0; i < Math.ceil(clients / 60); i++) viewers.push((await call(base, ADMIN, 'POST', '/api/tokens', { role: 'viewer' })).body.token as string);
    const rssBeforeMiB = await rssMiB(relay.pid);
    console.log(`  fan-out: relay RSS ${rssBeforeMiB.toFixed(1)} MiB before clients; connecting ${clients}...`);
    const wsUrl = base.replace(/^http/, 'ws') + '/yjs';
    const t0 = performance.now();
    const docs: Y.Doc[] = [];
    for (let i = 0; i < clients; i++) {
      const doc = new Y.Doc();
      docs.push(doc);
      providers.push(new WebsocketProvider(wsUrl, 'owp/ledger', doc, { WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket, disableBc: true, params: { token: viewers[Math.floor(i / 60)]! } }));
      if (i % 50 === 49) await sleep(10);
    }
    for (let waited = 0; providers.some((p) => !p.synced); waited += 50) {
      if (waited > 300_000) throw new Error(`only ${providers.filter((p) => p.synced).length} of ${clients} clients synced`);
      await sleep(50);
    }
    const connectMs = performance.now() - t0;
    console.log(`  fan-out: ${clients} clients synced in ${(connectMs / 1000).toFixed(1)} s`);
    await sleep(1000);
    const rssWithClientsMiB = await rssMiB(relay.pid);
    const lat: number[] = [];
    for (let c = 0; c < changes; c++) {
      const arrived: number[] = [];
      let want = '';
      let answeredAt = 0;
      const seen = new Set<number>();
      const observers = docs.map((doc, i) => {
        const m = doc.getMap<{ state?: string; lease?: unknown }>('tasks');
        const f = () => {
          if (!seen.has(i) && want && (m.get(want) as { state?: string } | undefined)?.state === 'leased') {
            seen.add(i);
            arrived.push(performance.now());
          }
        };
        m.observe(f);
        return () => m.unobserve(f);
      });
      // The id is known only from the answer: updates that arrive first are checked after it.
      const r = await call(base, worker, 'POST', '/api/claim', {});
      answeredAt = performance.now();
      want = r.body.outcome.taskId as string;
      docs.forEach((doc, i) => {
        if (!seen.has(i) && (doc.getMap('tasks').get(want) as { state?: string } | undefined)?.state === 'leased') {
          seen.add(i);
          arrived.push(answeredAt);
        }
      });
      for (let waited = 0; seen.size < clients; waited += 5) {
        if (waited > 60_000) throw new Error(`change ${c} reached ${seen.size} of ${clients} clients`);
        await sleep(5);
      }
      for (const off of observers) off();
      for (const t of arrived) lat.push(Math.max(0, t - answeredAt));
      await sleep(200);
    }
    lat.sort((a, b) => a - b);
    return { clients, tasks, rssBeforeMiB, rssWithClientsMiB, connectMs, changes, fanoutP50: pct(lat, 50), fanoutP99: pct(lat, 99), fanoutMax: lat[lat.length - 1] ?? NaN };
  } finally {
    for (const p of providers) p.destroy();
    await relay.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** The plugin bundle (`npm run build` -> main.js), in KiB. */
export async function bundleKiB(): Promise<number> {
  execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'ignore' });
  return (await stat(join(ROOT, 'main.js'))).size / 1024;
}

export function extraTable(r: ExtraResult, bundle: number): string {
  const f1 = (n: number) => n.toFixed(1);
  return [
    '| measure | figure | target |',
    '|---|---:|---:|',
    `| relay RSS, idle with ${r.tasks} tasks / with ${r.clients} read-only WebSocket clients on owp/ledger | ${f1(r.rssBeforeMiB)} / ${f1(r.rssWithClientsMiB)} MiB | <= 256 MB |`,
    `| time for ${r.clients} clients to connect and sync | ${(r.connectMs / 1000).toFixed(1)} s | - |`,
    `| one ledger change to ${r.clients} clients (claim answered -> change in each client), ${r.changes} changes: p50 / p99 / max | ${f1(r.fanoutP50)} / ${f1(r.fanoutP99)} / ${f1(r.fanoutMax)} ms | p99 <= 100 ms |`,
    `| plugin bundle (main.js, production build) | ${f1(bundle)} KiB | - |`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const get = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const r = await runFanout(Number(get('clients') ?? 1000), Number(get('changes') ?? 10));
  console.log(extraTable(r, await bundleKiB()));
  agent.destroy();
  process.exit(0);
}
