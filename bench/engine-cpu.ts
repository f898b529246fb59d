/**
 * The engine's own CPU per claim+complete cycle, in one process, at a fixed batch size: the
 * real Engine on a real LevelDB store (fsync per batch), audit log, board and ledger Y.Doc
 * (with an `update` listener, as the sync server has), `--workers` workers (inboxes, three
 * skills each) over `--tasks` queued tasks shaped as bench/side.ts seeds them. Each round
 * submits one claim-next per worker, flushes, then the completes of the grants, flushes.
 *
 * Why: on a machine shared with other work, cycles per second follow the CPU share a process
 * gets, and even CPU per cycle of a relay under a load generator moves with its batch sizes.
 * Here the batches are fixed, so two builds compare on their hot path alone (no HTTP, no
 * sockets: bench/cpu-cycles.ts measures those). Prints process CPU ms per cycle and the
 * engine's batch timings.
 *
 * `node --import tsx bench/engine-cpu.ts [--workers=200] [--tasks=12000] [--rounds=20] [--runs=3]`
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as Y from 'yjs';
import { openAuditLog } from '../server/audit/index.js';
import { BoardView } from '../server/engine/board.js';
import { Engine } from '../server/engine/engine.js';
import type { Logger } from '../server/ports.js';
import { openStore } from '../server/store/index.js';
import type { Outcome } from '../shared/model.js';
import { SKILLS } from './bullmq.js';

const arg = (n: string, d: number) => Number(process.argv.find((a) => a.startsWith(`--${n}=`))?.slice(n.length + 3) ?? d);
const workers = arg('workers', 200);
const tasks = arg('tasks', 12_000);
const rounds = arg('rounds', 20);
const runs = arg('runs', 3);
const log: Logger = { info: () => undefined, warn: () => undefined, error: (m) => console.error(m) };

async function run(): Promise<{ cpuMs: number; wallMs: number; cycles: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'owp-engine-cpu-'));
  const store = await openStore(dir);
  const audit = await openAuditLog(store);
  const board = new BoardView(new Y.Doc());
  for (let r = 0; r < 10; r++) board.putRepo({ repo: `bench/pool${r}`, reviewBudget: 1000, dailyQuota: 10_000 }, false);
  const now = Date.now();
  for (let start = 0; start < tasks; start += 2500) {
    const batch = Array.from({ length: Math.min(2500, tasks - start) }, (_, i) => {
      const n = start + i + 1;
      return { id: `bench/pool${n % 10}#${n}`, repo: `bench/pool${n % 10}`, title: `Task ${n}`, skills: [SKILLS[n % SKILLS.length]!], priority: n % 7 };
    });
    board.upsertTasks(batch, now);
  }
  const ledgerDoc = new Y.Doc();
  let updateBytes = 0;
  ledgerDoc.on('update', (u: Uint8Array) => (updateBytes += u.byteLength));
  const engine = await Engine.open({ store, audit, board, ledgerDoc, now: Date.now, log, tickMs: 3_600_000 });
  const ids = Array.from({ length: workers }, (_, i) => `bw${i}`);
  for (const [i, id] of ids.entries()) {
    const inbox = new Y.Doc();
    const p = inbox.getMap('profile');
    p.set('name', id);
    p.set('skills', [0, 1, 2].map((k) => SKILLS[(i + k) % SKILLS.length]!));
    p.set('capacity', 100);
    p.set('maxConcurrent', 50);
    engine.attachInbox(id, inbox);
  }
  await engine.flush();
  let cycles = 0;
  let seq = 0;
  const round = async () => {
    const claims = ids.map((w) => engine.submit({ kind: 'claim-next', id: `c${++seq}`, workerId: w }));
    await engine.flush();
    const answered = await Promise.all(claims);
    const granted = answered.filter((o: Outcome) => o.status === 'granted');
    if (granted.length === 0) throw new Error(`no grant: ${JSON.stringify(answered[0])}`);
    const done = granted.map((o) => engine.submit({ kind: 'complete', id: `d${++seq}`, workerId: o.workerId, taskId: o.taskId!, fencingToken: o.fencingToken! }));
    await engine.flush();
    cycles += (await Promise.all(done)).filter((o) => o.status !== 'rejected').length;
  };
  for (let i = 0; i < 3; i++) await round(); // warm-up
  cycles = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) await round();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  await engine.stop();
  await store.close();
  await rm(dir, { recursive: true, force: true });
  if (updateBytes === 0) throw new Error('the ledger document sent no update');
  return { cpuMs: (c.user + c.system) / 1000, wallMs, cycles };
}

for (let r = 0; r < runs; r++) {
  const x = await run();
  console.log(`engine ${workers} workers, ${tasks} tasks: ${(x.cpuMs / x.cycles).toFixed(3)} ms CPU/cycle (${x.cycles} cycles, batches of ${workers}), wall ${(x.wallMs / x.cycles).toFixed(3)} ms/cycle | load ${loadavg()[0]!.toFixed(1)}`);
}
