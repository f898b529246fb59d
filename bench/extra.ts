/**
 * Also measured (issue 16 item 3), against the relay as `npm start` starts it, each with its
 * target, the median of `runs` runs (the 100,000 lifecycles: one run), the load beside it:
 * - relay memory (RSS) with N connected read-only WebSocket (Yjs) clients on `owp/ledger`;
 * - one ledger change reaching all N clients: from the claim's HTTP answer (the relay applies
 *   the change to the document just before answering) to the change arriving in each
 *   client's copy, p50 / p99 / max over every (change, client); N stock clients in one
 *   process, and beside it (bench/fanout-wire.ts) the relay's delivery at the wire and the stock
 *   clients spread over two processes;
 * - the plugin's claim path (bench/plugin-path.ts), the state after many lifecycles
 *   (bench/lifecycles.ts), the vault mirror (bench/vault-mirror.ts);
 * - the plugin bundle's size (`npm run build`, main.js).
 *
 * Standalone: `node --import tsx bench/extra.ts [--quick]`.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { ADMIN, BENCH_LIMITS, agent, call, pct, startRelay } from './harness.js';
import { runLifecycles, type LifecycleResult } from './lifecycles.js';
import { runClaimPath, type ClaimPathResult } from './plugin-path.js';
import { runVaultMirror, type VaultMirrorResult } from './vault-mirror.js';

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
    // Close codes the clients saw, to say why if they do not all sync.
    const closes = new Map<number, number>();
    class Socket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        this.on('close', (code: number) => closes.set(code, (closes.get(code) ?? 0) + 1));
      }
    }
    for (let i = 0; i < clients; i++) {
      const doc = new Y.Doc();
      docs.push(doc);
      providers.push(new WebsocketProvider(wsUrl, 'owp/ledger', doc, { WebSocketPolyfill: Socket as unknown as typeof globalThis.WebSocket, disableBc: true, params: { token: viewers[Math.floor(i / 60)]! } }));
      if (i % 50 === 49) await sleep(10);
    }
    for (let waited = 0; providers.some((p) => !p.synced); waited += 50) {
      if (waited > 300_000) throw new Error(`only ${providers.filter((p) => p.synced).length} of ${clients} clients synced; close codes seen: ${JSON.stringify([...closes])}`);
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

/** One run of bench/fanout-wire.ts (its own relay, 1,000 tasks, 10 changes): p50 / p99 / max ms. */
export interface FanoutLine {
  p50: number;
  p99: number;
  max: number;
}

/**
 * The same change measured by bench/fanout-wire.ts in a child process: `[]` at the wire (raw
 * sockets, the relay's delivery alone), `['--stock', '--procs=2']` the stock clients spread over
 * two processes (each half the `Y.Doc`s), so the load generator's own Yjs work is split in two.
 */
export async function runFanoutScript(clients: number, args: string[]): Promise<FanoutLine> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/fanout-wire.ts'), String(clients), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += String(d)));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  const m = /p50 ([\d.]+) p99 ([\d.]+) max ([\d.]+) ms/.exec(out);
  if (code !== 0 || !m) throw new Error(`bench/fanout-wire.ts ${args.join(' ')} exited ${code}: ${out.slice(-2000)}`);
  console.log(`  ${out.trim().split('\n').pop()}`);
  return { p50: Number(m[1]), p99: Number(m[2]), max: Number(m[3]) };
}

/** The plugin bundle (`npm run build` -> main.js), in KiB. */
export async function bundleKiB(): Promise<number> {
  execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'ignore' });
  return (await stat(join(ROOT, 'main.js'))).size / 1024;
}

export interface ExtraOptions {
  clients: number;
  changes: number;
  claims: number;
  vaultTasks: number;
  lifecycles: number;
  wave: number;
  runs: number;
}

export const EXTRA_FULL: ExtraOptions = { clients: 1000, changes: 10, claims: 200, vaultTasks: 10_000, lifecycles: 100_000, wave: 10_000, runs: 3 };
export const EXTRA_QUICK: ExtraOptions = { clients: 50, changes: 2, claims: 20, vaultTasks: 300, lifecycles: 1000, wave: 500, runs: 1 };

/** Every run of every measure, and the load average when each measure started. */
export interface ExtraFigures {
  o: ExtraOptions;
  fanout: ExtraResult[];
  /** bench/fanout-wire.ts: at the wire (raw sockets), and stock clients over two processes. */
  fanoutWire?: FanoutLine[];
  fanoutSpread?: FanoutLine[];
  path: ClaimPathResult[];
  vault: VaultMirrorResult[];
  life: LifecycleResult;
  bundleKiB: number;
  load: Record<'fanout' | 'path' | 'vault' | 'life', string>;
}

const load = () => loadavg().map((l) => l.toFixed(1)).join(' / ');

export async function runExtra(o: ExtraOptions): Promise<ExtraFigures> {
  const loads = { fanout: load(), path: '', vault: '', life: '' };
  const fanout: ExtraResult[] = [];
  const fanoutWire: FanoutLine[] = [];
  const fanoutSpread: FanoutLine[] = [];
  // Alternating, so the three figures of one round share the machine's load.
  for (let i = 0; i < o.runs; i++) {
    fanout.push(await runFanout(o.clients, o.changes));
    fanoutWire.push(await runFanoutScript(o.clients, []));
    fanoutSpread.push(await runFanoutScript(o.clients, ['--stock', '--procs=2']));
  }
  loads.path = load();
  const path: ClaimPathResult[] = [];
  for (let i = 0; i < o.runs; i++) {
    path.push(await runClaimPath(o.claims));
    console.log(`  plugin claim path: p50 ${path[i]!.p50.toFixed(1)} ms, p99 ${path[i]!.p99.toFixed(1)} ms`);
  }
  loads.vault = load();
  const vault: VaultMirrorResult[] = [];
  for (let i = 0; i < o.runs; i++) {
    vault.push(await runVaultMirror(o.vaultTasks));
    console.log(`  vault mirror: first sync of ${o.vaultTasks} tasks ${(vault[i]!.firstSyncMs / 1000).toFixed(1)} s, one change ${vault[i]!.writesForOneChange} write(s)`);
  }
  loads.life = load();
  const life = await runLifecycles(o.lifecycles, o.wave);
  return { o, fanout, fanoutWire, fanoutSpread, path, vault, life, bundleKiB: await bundleKiB(), load: loads };
}

/** The median of the numbers (the lower middle for an even count, so it is a measured value). */
export function med(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] ?? NaN;
}

/** A fan-out row from bench/fanout-wire.ts runs (none when they were not measured). */
function fanoutRows(f: ExtraFigures, key: 'fanoutWire' | 'fanoutSpread', what: string): string[] {
  const xs = f[key];
  if (!xs?.length) return [];
  const f1 = (n: number) => n.toFixed(1);
  const p99 = med(xs.map((r) => r.p99));
  return [`| ${what}, 10 changes: p50 / p99 / max | ${f1(med(xs.map((r) => r.p50)))} / ${f1(p99)} / ${f1(med(xs.map((r) => r.max)))} ms | p99 ${xs.map((r) => f1(r.p99)).join(', ')} | p99 <= 100 ms | ${p99 <= 100 ? 'yes' : '**no**'} | ${f.load.fanout} |`];
}

export function extraTable(f: ExtraFigures): string {
  const f1 = (n: number) => n.toFixed(1);
  const runs = (xs: number[], fmt = f1) => xs.map(fmt).join(', ');
  const mib = (b: number) => b / 1024 / 1024;
  const met = (ok: boolean) => (ok ? 'yes' : '**no**');
  const fo = f.fanout;
  const rss = med(fo.map((r) => r.rssWithClientsMiB));
  const fanP99 = med(fo.map((r) => r.fanoutP99));
  const life = f.life;
  const docs = life.docBytes.board + life.docBytes.ledger;
  const beyond = docs - life.liveTasks * life.bytesPerLiveTask;
  const sync = med(f.vault.map((v) => v.firstSyncMs));
  const writes = f.vault.map((v) => v.writesForOneChange);
  const n = f.o.runs;
  return [
    `Each figure: the median of ${n} run(s) (all runs listed), except the lifecycles (one run). Load average (1/5/15 min) when the measure started.`,
    '',
    '| measure | figure (median) | runs | target | met? | load average |',
    '|---|---:|---|---:|---|---|',
    `| plugin claim path (intent appended to the inbox doc -> lease in the client's ledger doc), ${f.path[0]?.claims} claims: p50 / p99 | ${f1(med(f.path.map((r) => r.p50)))} / ${f1(med(f.path.map((r) => r.p99)))} ms | p99 ${runs(f.path.map((r) => r.p99))} | - | - | ${f.load.path} |`,
    `| one ledger change to ${f.o.clients} read-only Yjs clients (claim answered -> change in each copy), ${f.o.changes} changes: p50 / p99 / max | ${f1(med(fo.map((r) => r.fanoutP50)))} / ${f1(fanP99)} / ${f1(med(fo.map((r) => r.fanoutMax)))} ms | p99 ${runs(fo.map((r) => r.fanoutP99))} | p99 <= 100 ms | ${met(fanP99 <= 100)} | ${f.load.fanout} |`,
    ...fanoutRows(f, 'fanoutWire', `the same at the wire: ${f.o.clients} raw sockets in one process (the update's bytes arrived; no Yjs applied: the relay's delivery)`),
    ...fanoutRows(f, 'fanoutSpread', `the same, the ${f.o.clients} stock clients spread over 2 load-generator processes (change applied in each copy)`),
    `| ${f.o.clients} clients connected and synced (1,000 tasks in the ledger) | ${f1(med(fo.map((r) => r.connectMs)) / 1000)} s | ${runs(fo.map((r) => r.connectMs / 1000))} | - | - | ${f.load.fanout} |`,
    `| relay RSS: idle with 1,000 tasks / with ${f.o.clients} WebSocket clients | ${f1(med(fo.map((r) => r.rssBeforeMiB)))} / ${f1(rss)} MiB | ${runs(fo.map((r) => r.rssWithClientsMiB))} | <= 256 MB (244 MiB) | ${met(rss * 1024 * 1024 <= 256e6)} | ${f.load.fanout} |`,
    `| after ${life.lifecycles} completed lifecycles (${life.liveTasks} tasks live): owp/board + owp/ledger encoded, once the finished tasks are past retention (archived) | ${f1(mib(life.docBytes.board))} + ${f1(mib(life.docBytes.ledger))} MiB; beyond the live tasks ${f1(mib(beyond))} MiB | 1 | <= 1 MB beyond the live tasks | ${met(beyond <= 1e6)} | ${f.load.life} |`,
    `| the same, right after the last completion (${life.ledgerTasks} finished tasks still in the retention window) | ${f1(mib(life.docBytesInRetention.board))} + ${f1(mib(life.docBytesInRetention.ledger))} MiB | 1 | - | - | ${f.load.life} |`,
    `| the same: relay cold start (spawn -> /readyz 200) | ${Math.round(life.coldStartMs)} ms | 1 | <= 1 s | ${met(life.coldStartMs <= 1000)} | ${f.load.life} |`,
    `| the same: database size (data folder, archive included) | ${f1(mib(life.dbBytes))} MiB | 1 | - | - | ${f.load.life} |`,
    `| vault mirror of ${f.o.vaultTasks} tasks (the plugin on the Obsidian double): first sync | ${f1(sync / 1000)} s | ${runs(f.vault.map((v) => v.firstSyncMs / 1000))} | <= 10 s | ${met(sync <= 10_000)} | ${f.load.vault} |`,
    `| the same: vault writes for one task change | ${med(writes)} | ${writes.join(', ')} | 1 | ${met(writes.every((w) => w === 1))} | ${f.load.vault} |`,
    `| plugin bundle (main.js, production build) | ${f1(f.bundleKiB)} KiB | 1 | - | - | - |`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const f = await runExtra(process.argv.includes('--quick') ? EXTRA_QUICK : EXTRA_FULL);
  console.log(extraTable(f));
  agent.destroy();
  process.exit(0);
}
