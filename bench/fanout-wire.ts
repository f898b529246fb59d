/**
 * One ledger change reaching N read-only clients, at the wire: N raw WebSockets on
 * `owp/ledger` (each sends a y-protocols sync step 1 and waits for its step 2), then ten
 * claims over HTTP; each socket's arrival time of the sync update that follows a claim,
 * from the claim's answer. No Yjs document is applied in the client, so unlike
 * bench/extra.ts's stock y-websocket clients (1,000 Y.Docs in one process, applying each
 * change one after the other) this times the relay's delivery, not the load generator.
 *
 * Standalone: `node --import tsx bench/fanout-wire.ts [clients=1000]`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { ADMIN, BENCH_LIMITS, agent, call, pct, startRelay } from './harness.js';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const N = Number(process.argv[2] ?? 1000);
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
const e = encoding.createEncoder();
encoding.writeVarUint(e, 0);
syncProtocol.writeSyncStep1(e, new Y.Doc());
const step1 = encoding.toUint8Array(e);
const synced = new Array<boolean>(N).fill(false);
const lastUpdate = new Array<number>(N).fill(0);
const sockets: WebSocket[] = [];
for (let i = 0; i < N; i++) {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/yjs/owp/ledger?token=${viewers[Math.floor(i / 60)]}`);
  ws.on('open', () => ws.send(step1));
  ws.on('message', (d: Buffer) => {
    if (d[0] !== 0) return;
    if (d[1] === 1) synced[i] = true;
    else if (d[1] === 2) lastUpdate[i] = performance.now();
  });
  sockets.push(ws);
  if (i % 50 === 49) await sleep(10);
}
while (synced.some((s) => !s)) await sleep(50);
const lat: number[] = [];
for (let c = 0; c < 10; c++) {
  await sleep(300);
  const sent = performance.now();
  await call(base, worker, 'POST', '/api/claim', {});
  const answered = performance.now();
  while (lastUpdate.some((t) => t < sent)) await sleep(2);
  for (const t of lastUpdate) lat.push(Math.max(0, t - answered));
}
lat.sort((a, b) => a - b);
console.log(`wire fan-out to ${N} raw sockets, 10 changes: p50 ${pct(lat, 50).toFixed(1)} p99 ${pct(lat, 99).toFixed(1)} max ${lat[lat.length - 1]!.toFixed(1)} ms (load ${loadavg().map((l) => l.toFixed(1)).join(' / ')})`);
for (const s of sockets) s.close();
await relay.stop();
await rm(dataDir, { recursive: true, force: true });
agent.destroy();
process.exit(0);
