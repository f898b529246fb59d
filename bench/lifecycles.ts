/**
 * After many completed task lifecycles (issue 16 item 3: 100,000): the live documents'
 * encoded size, the relay's cold start and the database size. The relay as `npm start`
 * starts it; tasks are queued in waves (`--wave`, ten repos) and `--workers` workers run the
 * side-by-side cycle (claim-next, complete; bench/cycles.ts) until each wave is done, so few
 * tasks are live at any time, as in a pool that lives for months.
 *
 * - documents: `owp/board` and `owp/ledger` synced into fresh Y.Docs over y-websocket,
 *   `Y.encodeStateAsUpdate` size; "per live task" is measured after the first wave is queued
 *   (its size over its tasks), so "beyond the live tasks" = size - live tasks x that.
 * - cold start: SIGTERM, then spawn of `npm start`'s command on the same data folder until
 *   `/readyz` answers 200.
 * - database: the bytes of every file under the data folder, once the finished tasks are
 *   archived (the archive is in it).
 *
 * Standalone: `node --import tsx bench/lifecycles.ts [--lifecycles=100000] [--wave=10000] [--workers=100] [--keep=DIR]`
 * (`--keep`: a copy of the data folder, as the cold start finds it, is left in DIR: bench/coldstart.ts starts on it).
 */
import { cp, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { TERMINAL_STATES } from '../shared/ledger.js';
import type { TaskState } from '../shared/model.js';
import { owpDriver, runCycles } from './cycles.js';
import { ADMIN, BENCH_LIMITS, agent, call, startRelay } from './harness.js';

export interface LifecycleResult {
  lifecycles: number;
  cyclesPerSec: number;
  liveTasks: number;
  /** Tasks the ledger still holds, finished ones included. */
  ledgerTasks: number;
  /** Encoded size of owp/board + owp/ledger (bytes) right after the last completion, finished tasks still in retention. */
  docBytesInRetention: { board: number; ledger: number };
  /** The same once the retention window has passed (finished tasks archived). */
  docBytes: { board: number; ledger: number };
  /** Encoded bytes per live task, measured with the first wave queued. */
  bytesPerLiveTask: number;
  coldStartMs: number;
  dbBytes: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? await folderBytes(p) : (await stat(p)).size;
  }
  return total;
}

/** Encoded size of each document, as a fresh client syncs it. */
async function docSizes(base: string): Promise<{ board: number; ledger: number }> {
  const one = async (name: string) => {
    const doc = new Y.Doc();
    const p = new WebsocketProvider(base.replace(/^http/, 'ws') + '/yjs', name, doc, { WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket, disableBc: true, params: { token: ADMIN } });
    try {
      for (let waited = 0; !p.synced; waited += 20) {
        if (waited > 120_000) throw new Error(`bench: ${name} never synced`);
        await sleep(20);
      }
      return Y.encodeStateAsUpdate(doc).byteLength;
    } finally {
      p.destroy();
      doc.destroy();
    }
  };
  return { board: await one('owp/board'), ledger: await one('owp/ledger') };
}

export async function readyMs(dataDir: string): Promise<{ ms: number; relay: Awaited<ReturnType<typeof startRelay>> }> {
  const t0 = performance.now();
  const relay = await startRelay(dataDir, ENV);
  for (let waited = 0; ; waited += 5) {
    const r = await fetch(`${relay.url}/readyz`).catch(() => undefined);
    if (r?.status === 200) break;
    if (waited > 120_000) throw new Error('bench: the relay never became ready');
    await sleep(5);
  }
  return { ms: performance.now() - t0, relay };
}

/**
 * Finished tasks stay in the documents for the retention window (`engine.retention`, default
 * 7 days), then the relay archives them out of the board and the ledger. The bench sets the
 * window to its minimum, 1 minute, and measures the documents both before and after it has
 * passed: "after" is what a pool shows once its finished tasks are a week old.
 */
const RETENTION_MS = 60_000;
const ENV = { ...BENCH_LIMITS, OWP_ENGINE_RETENTION: `${RETENTION_MS}ms` };

/** Tasks live (not done or cancelled) and tasks in the ledger, from GET /api/status. */
async function taskCounts(base: string): Promise<{ live: number; inLedger: number }> {
  // A kept-alive socket the relay closes just as it is reused fails with ECONNRESET: ask again.
  const get = async (tries: number): Promise<{ body: unknown }> => call(base, ADMIN, 'GET', '/api/status').catch((e: unknown) => (tries > 1 ? sleep(100).then(() => get(tries - 1)) : Promise.reject(e)));
  const status = (await get(5)).body as { queue: Record<string, Record<string, number>> };
  let live = 0;
  let inLedger = 0;
  for (const byState of Object.values(status.queue)) {
    for (const [state, count] of Object.entries(byState)) {
      inLedger += count;
      if (!TERMINAL_STATES.includes(state as TaskState)) live += count;
    }
  }
  return { live, inLedger };
}

export async function runLifecycles(lifecycles: number, wave = 10_000, workers = 100, keep?: string): Promise<LifecycleResult> {
  const dataDir = await mkdtemp(join(tmpdir(), 'owp-bench-'));
  let relay = await startRelay(dataDir, ENV);
  try {
    const base = () => relay.url;
    const maint = (await call(base(), ADMIN, 'POST', '/api/tokens', { role: 'maintainer' })).body.token as string;
    for (let r = 0; r < 10; r++) {
      const p = await call(base(), maint, 'PUT', `/api/repos/bench/life${r}`, { reviewBudget: 1000, dailyQuota: 10_000 });
      if (p.status !== 200) throw new Error(`repo policy failed: ${JSON.stringify(p.body)}`);
    }
    const tokens: string[] = [];
    for (let i = 0; i < workers; i++) {
      const t = (await call(base(), ADMIN, 'POST', '/api/tokens', { role: 'worker', workerId: `lw${i}` })).body.token as string;
      const reg = await call(base(), t, 'POST', '/api/workers/register', { skills: [], capacity: 100, maxConcurrent: 50, maxOpenPrs: 50 });
      if (reg.status !== 200) throw new Error(`register failed: ${JSON.stringify(reg.body)}`);
      tokens.push(t);
    }
    let done = 0;
    let bytesPerLiveTask = NaN;
    let busyMs = 0;
    for (let n = 1; done < lifecycles; ) {
      const size = Math.min(wave, lifecycles - done);
      for (let start = 0; start < size; start += 2500) {
        const batch = Array.from({ length: Math.min(2500, size - start) }, (_, i) => {
          const k = n + start + i;
          return { id: `bench/life${k % 10}#${k}`, repo: `bench/life${k % 10}`, title: `Task ${k}`, body: `Brief of task ${k}.`, priority: k % 7 };
        });
        const r = await call(base(), maint, 'POST', '/api/tasks', { createRepo: true, tasks: batch });
        if (r.status !== 200) throw new Error(`seeding failed: ${JSON.stringify(r.body)}`);
      }
      if (Number.isNaN(bytesPerLiveTask)) {
        const s = await docSizes(base());
        bytesPerLiveTask = (s.board + s.ledger) / size;
      }
      n += size;
      const r = await runCycles(owpDriver(base(), tokens), workers, size);
      done += r.tasks;
      busyMs += r.wallMs;
      console.log(`  lifecycles: ${done} of ${lifecycles} completed (${Math.round(r.cyclesPerSec)} cycles/s, ${r.errors} errors)`);
      if (r.tasks === 0) throw new Error('bench: a wave completed nothing');
    }
    const finished = await taskCounts(base());
    const docBytesInRetention = await docSizes(base());
    // Wait out the retention window (and the archive sweep, every 60 s) until only live tasks are left.
    for (let waited = 0; (await taskCounts(base())).inLedger > finished.live; waited += 2000) {
      if (waited > RETENTION_MS + 180_000) throw new Error('bench: finished tasks never left the ledger');
      await sleep(2000);
    }
    const docBytes = await docSizes(base());
    await relay.stop();
    const dbBytes = await folderBytes(dataDir);
    if (keep) await cp(dataDir, keep, { recursive: true });
    const cold = await readyMs(dataDir);
    const liveTasks = finished.live;
    const ledgerTasks = finished.inLedger;
    relay = cold.relay;
    return { lifecycles: done, cyclesPerSec: (done / busyMs) * 1000, liveTasks, ledgerTasks, docBytesInRetention, docBytes, bytesPerLiveTask, coldStartMs: cold.ms, dbBytes };
  } finally {
    await relay.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const get = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const r = await runLifecycles(Number(get('lifecycles') ?? 100_000), Number(get('wave') ?? 10_000), Number(get('workers') ?? 100), get('keep'));
  console.log(JSON.stringify(r, null, 2));
  agent.destroy();
  process.exit(0);
}
