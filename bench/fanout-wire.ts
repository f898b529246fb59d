/**
 * One ledger change reaching N read-only clients, at the wire: N raw WebSockets on
 * `owp/ledger` (each sends a y-protocols sync step 1 and waits for its step 2), then ten
 * claims over HTTP; each socket's arrival time of the sync update that follows a claim,
 * from the claim's answer. No Yjs document is applied in the client, so unlike
 * bench/extra.ts's stock y-websocket clients (1,000 Y.Docs in one process, applying each
 * change one after the other) this times the relay's delivery, not the load generator.
 *
 * `--procs=K` spreads the sockets over K child processes (default 1: all in this one), to
 * tell the load generator's own reading time from the relay's: arrival times are absolute
 * (`performance.timeOrigin + performance.now()`, one clock for every process on the machine).
 * `--stock`: stock y-websocket clients instead (each its own `Y.Doc`, as bench/extra.ts),
 * timed when the change is applied in each client's copy.
 *
 * Standalone: `node --import tsx bench/fanout-wire.ts [clients=1000] [--procs=K] [--stock]`.
 */
import { fork } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { ADMIN, BENCH_LIMITS, agent, call, pct, startRelay } from './harness.js';

// Every y-websocket provider adds a process 'exit' listener.
process.setMaxListeners(0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

/** N raw sockets on the ledger: when each last received a sync update (absolute ms). */
interface Group {
  synced(): Promise<void>;
  /** Arrival times of the first update each socket got after `after` (absolute ms). */
  arrivals(after: number): Promise<number[]>;
  close(): void;
}

/** N stock y-websocket clients: when each last applied an update from the relay. */
function openStockGroup(wsBase: string, tokens: string[], n: number, first: number): Group {
  const lastUpdate = new Array<number>(n).fill(0);
  const providers: WebsocketProvider[] = [];
  const opening = (async () => {
    for (let i = 0; i < n; i++) {
      const doc = new Y.Doc();
      const p = new WebsocketProvider(`${wsBase}/yjs`, 'owp/ledger', doc, { WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket, disableBc: true, params: { token: tokens[Math.floor((first + i) / 60)]! } });
      doc.on('update', (_u: Uint8Array, origin: unknown) => {
        if (origin === p) lastUpdate[i] = now();
      });
      providers.push(p);
      if (i % 50 === 49) await sleep(10);
    }
  })();
  return {
    async synced() {
      await opening;
      for (let waited = 0; providers.some((p) => !p.synced); waited += 50) {
        if (waited % 60_000 === 0 && waited > 0) console.error(`  ${providers.filter((p) => p.synced).length} of ${n} stock clients synced after ${waited / 1000} s`);
        await sleep(50);
      }
    },
    async arrivals(after) {
      while (lastUpdate.some((t) => t < after)) await sleep(2);
      return [...lastUpdate];
    },
    close: () => providers.forEach((p) => p.destroy()),
  };
}

function openGroup(wsBase: string, tokens: string[], n: number, first: number): Group {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 0);
  syncProtocol.writeSyncStep1(e, new Y.Doc());
  const step1 = encoding.toUint8Array(e);
  const synced = new Array<boolean>(n).fill(false);
  const lastUpdate = new Array<number>(n).fill(0);
  const sockets: WebSocket[] = [];
  const opening = (async () => {
    for (let i = 0; i < n; i++) {
      // 60 sockets per viewer token (the relay allows 64 per token).
      const ws = new WebSocket(`${wsBase}/yjs/owp/ledger?token=${tokens[Math.floor((first + i) / 60)]}`);
      ws.on('open', () => ws.send(step1));
      ws.on('message', (d: Buffer) => {
        if (d[0] !== 0) return;
        if (d[1] === 1) synced[i] = true;
        else if (d[1] === 2) lastUpdate[i] = now();
      });
      sockets.push(ws);
      if (i % 50 === 49) await sleep(10);
    }
  })();
  return {
    async synced() {
      await opening;
      while (synced.some((s) => !s)) await sleep(50);
    },
    async arrivals(after) {
      while (lastUpdate.some((t) => t < after)) await sleep(2);
      return [...lastUpdate];
    },
    close: () => sockets.forEach((s) => s.close()),
  };
}

type ToChild = { arrivals: number } | { close: true };

if (process.argv.includes('--child')) {
  // A child: its share of the sockets; answers the parent's questions over IPC.
  const { wsBase, tokens, n, first } = JSON.parse(process.env.OWP_FANOUT_CHILD!) as { wsBase: string; tokens: string[]; n: number; first: number };
  const g = (process.argv.includes('--stock') ? openStockGroup : openGroup)(wsBase, tokens, n, first);
  await g.synced();
  process.send!({ synced: true });
  process.on('message', (m: ToChild) => {
    if ('arrivals' in m) void g.arrivals(m.arrivals).then((times) => process.send!({ times }));
    else {
      g.close();
      setTimeout(() => process.exit(0), 200);
    }
  });
} else {
  const N = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 1000);
  const procs = Math.max(1, Number(process.argv.find((a) => a.startsWith('--procs='))?.slice(8) ?? 1));
  const dataDir = await mkdtemp(join(tmpdir(), 'owp-bench-'));
  const relay = await startRelay(dataDir, BENCH_LIMITS);
  const base = relay.url;
  const maint = (await call(base, ADMIN, 'POST', '/api/tokens', { role: 'maintainer' })).body.token as string;
  await call(base, maint, 'PUT', '/api/repos/bench/fan', { reviewBudget: 1000, dailyQuota: 10_000 });
  await call(base, maint, 'POST', '/api/tasks', { tasks: Array.from({ length: 1000 }, (_, i) => ({ id: `bench/fan#${i + 1}`, repo: 'bench/fan', title: `Task ${i + 1}`, priority: i % 7 })) });
  const worker = (await call(base, ADMIN, 'POST', '/api/tokens', { role: 'worker', workerId: 'fan-w' })).body.token as string;
  await call(base, worker, 'POST', '/api/workers/register', { skills: [], capacity: 100, maxConcurrent: 50, maxOpenPrs: 50 });
  await call(base, worker, 'POST', '/api/claim', {});
  const viewers: string[] = [];
  for (let i = 0; i < Math.ceil(N / 60); i++) viewers.push((await call(base, ADMIN, 'POST', '/api/tokens', { role: 'viewer' })).body.token as string);
  const wsBase = base.replace(/^http/, 'ws');

  let groups: Group[];
  const children: ReturnType<typeof fork>[] = [];
  const stock = process.argv.includes('--stock');
  if (procs === 1) groups = [(stock ? openStockGroup : openGroup)(wsBase, viewers, N, 0)];
  else {
    groups = [];
    const per = Math.ceil(N / procs);
    for (let first = 0; first < N; first += per) {
      const n = Math.min(per, N - first);
      const child = fork(fileURLToPath(import.meta.url), ['--child', ...(stock ? ['--stock'] : [])], {
        execArgv: ['--import', 'tsx'],
        env: { ...process.env, OWP_FANOUT_CHILD: JSON.stringify({ wsBase, tokens: viewers, n, first }) },
      });
      children.push(child);
      const ready = new Promise<void>((r) => child.once('message', () => r()));
      groups.push({
        synced: () => ready,
        arrivals: (after) =>
          new Promise((r) => {
            child.once('message', (m: { times: number[] }) => r(m.times));
            child.send({ arrivals: after } satisfies ToChild);
          }),
        close: () => child.send({ close: true } satisfies ToChild),
      });
    }
  }
  await Promise.all(groups.map((g) => g.synced()));
  const lat: number[] = [];
  for (let c = 0; c < 10; c++) {
    await sleep(300);
    const sent = now();
    await call(base, worker, 'POST', '/api/claim', {});
    const answered = now();
    const times = (await Promise.all(groups.map((g) => g.arrivals(sent)))).flat();
    for (const t of times) lat.push(Math.max(0, t - answered));
  }
  lat.sort((a, b) => a - b);
  const rssMiB = Number(/VmRSS:\s+(\d+)/.exec(await readFile(`/proc/${relay.pid}/status`, 'utf8'))?.[1]) / 1024;
  console.log(
    `${stock ? 'stock y-websocket fan-out' : 'wire fan-out'} to ${N} ${stock ? 'clients' : 'raw sockets'} in ${procs} process(es), 10 changes: p50 ${pct(lat, 50).toFixed(1)} p99 ${pct(lat, 99).toFixed(1)} max ${lat[lat.length - 1]!.toFixed(1)} ms, relay RSS ${rssMiB.toFixed(0)} MiB (load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ')})`,
  );
  for (const g of groups) g.close();
  await Promise.all(children.map((ch) => new Promise((r) => ch.once('exit', r))));
  await relay.stop();
  await rm(dataDir, { recursive: true, force: true });
  agent.destroy();
  process.exit(0);
}
