/**
 * The plugin's claim path (issue 16 item 3): the plugin's own sync client (plugin/sync/client.ts
 * `PoolClient`, real y-websocket over `ws`, its y-indexeddb cache over fake-indexeddb as in the
 * tests) appends a claim intent to its inbox document; timed until the lease is visible in
 * the client's own copy of the ledger document. One claim at a time, each for a different
 * task (released again, untimed, so the worker holds one lease at a time), against the relay
 * as `npm start` starts it.
 *
 * Standalone: `node --import tsx bench/plugin-path.ts [--claims=200] [--tasks=1000]`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import WebSocket from 'ws';
import { PoolClient } from '../plugin/sync/client.js';
import { configurePlatform } from '../plugin/sync/platform.js';
import type { TaskRuntime } from '../shared/model.js';
import { ADMIN, BENCH_LIMITS, agent, call, pct, startRelay } from './harness.js';

export interface ClaimPathResult {
  claims: number;
  p50: number;
  p99: number;
  max: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  for (let waited = 0; !cond(); waited += 5) {
    if (waited > ms) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(5);
  }
}

export async function runClaimPath(claims: number, tasks = 1000): Promise<ClaimPathResult> {
  const dataDir = await mkdtemp(join(tmpdir(), 'owp-bench-'));
  const relay = await startRelay(dataDir, BENCH_LIMITS);
  Object.assign(globalThis, { indexedDB: new IDBFactory(), IDBKeyRange });
  configurePlatform({ WebSocket, disableBc: true, now: () => Date.now() });
  let client: PoolClient | undefined;
  try {
    const base = relay.url;
    const maint = (await call(base, ADMIN, 'POST', '/api/tokens', { role: 'maintainer' })).body.token as string;
    const policy = await call(base, maint, 'PUT', '/api/repos/bench/path', { reviewBudget: 1000, dailyQuota: 10_000 });
    if (policy.status !== 200) throw new Error(`repo policy failed: ${JSON.stringify(policy.body)}`);
    const list = Array.from({ length: tasks }, (_, i) => ({ id: `bench/path#${i + 1}`, repo: 'bench/path', title: `Task ${i + 1}`, priority: i % 7 }));
    const seeded = await call(base, maint, 'POST', '/api/tasks', { createRepo: true, tasks: list });
    if (seeded.status !== 200) throw new Error(`seeding failed: ${JSON.stringify(seeded.body)}`);
    const workerId = 'plugin-w';
    const token = (await call(base, ADMIN, 'POST', '/api/tokens', { role: 'worker', workerId })).body.token as string;
    const reg = await call(base, token, 'POST', '/api/workers/register', { skills: [], capacity: 10, maxConcurrent: 2, maxOpenPrs: 2 });
    if (reg.status !== 200) throw new Error(`register failed: ${JSON.stringify(reg.body)}`);
    const c = (client = new PoolClient({ relayUrl: base, token, vaultId: 'bench', role: 'worker', workerId }));
    await c.start();
    await until(() => c.status === 'connected', 60_000, 'the plugin client to sync');
    const ledgerTasks = c.ledger.getMap('tasks');
    const lat: number[] = [];
    for (let i = 0; i < Math.min(claims, tasks); i++) {
      const taskId = `bench/path#${i + 1}`;
      let seenAt = 0;
      const leased = () => (ledgerTasks.get(taskId) as TaskRuntime | undefined)?.lease?.workerId === workerId;
      const watch = () => {
        if (!seenAt && leased()) seenAt = performance.now();
      };
      ledgerTasks.observe(watch);
      const t0 = performance.now();
      c.appendIntent({ kind: 'claim', id: `bench-${i}`, workerId, taskId });
      await until(() => seenAt > 0 || c.outcome(`bench-${i}`)?.status === 'rejected', 60_000, `the lease of ${taskId}`);
      const refused = c.outcome(`bench-${i}`);
      if (!seenAt) throw new Error(`bench: claim ${taskId} refused: ${refused?.code} ${refused?.message}`);
      ledgerTasks.unobserve(watch);
      lat.push(seenAt - t0);
      // Hand it back the same way (not timed), so the worker holds one lease at a time.
      const fencingToken = (ledgerTasks.get(taskId) as TaskRuntime).lease!.fencingToken;
      c.appendIntent({ kind: 'release', id: `bench-r${i}`, workerId, taskId, fencingToken });
      await until(() => !leased(), 60_000, `the release of ${taskId}`);
    }
    lat.sort((a, b) => a - b);
    return { claims: lat.length, p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1] ?? NaN };
  } finally {
    await client?.destroy();
    configurePlatform();
    await relay.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const get = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const r = await runClaimPath(Number(get('claims') ?? 200), Number(get('tasks') ?? 1000));
  console.log(`plugin claim path: ${r.claims} claims, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, max ${r.max.toFixed(1)} ms`);
  agent.destroy();
  process.exit(0);
}
