/**
 * What rotation costs with two relays on one PostgreSQL database (docs/ROTATION.md, "Several
 * relays"): two relays in this process (A arbitrates, B follows) over a private PostgreSQL 15
 * run durable (test/helpers/postgres.ts), and one relay on LevelDB for reference.
 *
 * 1. Board update latency on the follower: B writes one board update at a time, each awaited
 *    until persisted (the shared advisory lock and generation check are in this path): p50/p99.
 * 2. Rotation: the board holds TASKS tasks whose titles B rewrote REWRITES times; A compacts it
 *    (the check, then under the lock the log read, rebuild, swap and write): A's time, and the
 *    time until B serves the new generation. Median of ROUNDS, churned again before each.
 *
 * `node --import tsx bench/ha-rotation.ts [--quick] [--appends-only]` prints Markdown with the
 * load average beside each figure (--appends-only: part 1 alone, which also runs on a relay
 * without rotation across relays, for a before/after).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Y from 'yjs';
import { startRelay, type RunningRelay } from '../server/relay.js';
import { BOARD_DOC, LEDGER_DOC } from '../shared/protocol.js';
import { startPostgres } from '../test/helpers/postgres.js';
import type { Logger } from '../server/ports.js';
import { quietLogger, waitFor } from '../test/helpers/relay.js';

const quick = process.argv.includes('--quick');
const appendsOnly = process.argv.includes('--appends-only');
const TASKS = quick ? 1000 : 5000;
const REWRITES = 3;
const APPENDS = 300;
const ROUNDS = 3;
const ADMIN = 'owp_bench_rotation_admin_0123456789';
const ALWAYS = { docs: [BOARD_DOC, LEDGER_DOC], minGarbageBytes: 0, garbageFactor: 0 };

const load = () => loadavg().map((l) => l.toFixed(1)).join(' / ');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const dirs: string[] = [];
/** Under the lock: from the rotation's rebuild (after its log read) to its commit (the relay logs it). */
const buildMs: number[] = [];
const logger: Logger = {
  ...quietLogger,
  info: (msg, fields) => void (msg === 'rotated a document' && fields?.doc === BOARD_DOC && typeof fields.buildMs === 'number' && buildMs.push(fields.buildMs)),
};

async function relay(extra: { databaseUrl?: string; relayId?: string }): Promise<RunningRelay> {
  const dataDir = await mkdtemp(join(tmpdir(), 'owp-bench-rot-'));
  dirs.push(dataDir);
  return startRelay({ host: '127.0.0.1', port: 0, dataDir, adminToken: ADMIN, log: logger, electionLeaseMs: 15_000, rateLimit: { ratePerSec: 1e6, burst: 1e6 }, rotation: ALWAYS, ...extra });
}

async function seed(r: RunningRelay): Promise<void> {
  const maint = (await r.tokens.create({ role: 'maintainer', name: 'bench' })).token;
  const post = (path: string, method: string, body: unknown) =>
    fetch(r.url + path, { method, headers: { authorization: `Bearer ${maint}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const repo = await post('/api/repos/o/r', 'PUT', { reviewBudget: 1000, dailyQuota: 10000 });
  if (repo.status !== 200) throw new Error(`repo: ${repo.status} ${await repo.text()}`);
  for (let i = 0; i < TASKS; i += 500) {
    const tasks = Array.from({ length: Math.min(500, TASKS - i) }, (_, j) => ({ id: `o/r#${i + j + 1}`, repo: 'o/r', title: `T${i + j + 1}` }));
    const res = await post('/api/tasks', 'POST', { tasks });
    if (res.status !== 200) throw new Error(`seeding failed: ${res.status} ${await res.text()}`);
  }
}

/** Every title rewritten REWRITES times (100 tasks a transaction), persisted. */
async function churn(r: RunningRelay, round: number): Promise<void> {
  const doc: Y.Doc = await r.docs.get(BOARD_DOC);
  const tasks = doc.getMap<Y.Map<unknown>>('tasks');
  for (let k = 0; k < REWRITES; k++) {
    for (let i = 1; i <= TASKS; i += 100) {
      doc.transact(() => {
        for (let j = i; j < i + 100 && j <= TASKS; j++) tasks.get(`o/r#${j}`)?.set('title', `T${j} r${round}.${k}`);
      });
    }
  }
  await r.docs.whenPersisted(BOARD_DOC);
}

async function appends(writer: RunningRelay): Promise<number[]> {
  const doc: Y.Doc = await writer.docs.get(BOARD_DOC);
  const tasks = doc.getMap<Y.Map<unknown>>('tasks');
  const out: number[] = [];
  for (let i = 0; i < APPENDS; i++) {
    const t0 = performance.now();
    tasks.get(`o/r#${(i % TASKS) + 1}`)?.set('title', `append ${i}`);
    await writer.docs.whenPersisted(BOARD_DOC);
    out.push(performance.now() - t0);
  }
  return out;
}

async function rotations(arbiter: RunningRelay, follower: RunningRelay | undefined): Promise<{ arbiter: number[]; follower: number[]; before: number; after: number }> {
  const res = { arbiter: [] as number[], follower: [] as number[], before: 0, after: 0 };
  const writer = follower ?? arbiter;
  for (let round = 0; round < ROUNDS; round++) {
    await churn(writer, round);
    if (follower) await waitFor(() => (arbiter.docs.peek(BOARD_DOC)?.getMap<Y.Map<unknown>>('tasks').get(`o/r#${TASKS}`)?.get('title') as string | undefined)?.endsWith(`r${round}.${REWRITES - 1}`), 60_000, 'the churn at the arbiter');
    const gen = arbiter.docs.generation(BOARD_DOC);
    res.before = (await import('yjs')).encodeStateAsUpdate(arbiter.docs.peek(BOARD_DOC)!).byteLength;
    const t0 = performance.now();
    await arbiter.docs.compact(BOARD_DOC);
    res.arbiter.push(performance.now() - t0);
    if (arbiter.docs.generation(BOARD_DOC) !== gen + 1) throw new Error('the arbiter did not rotate');
    if (follower) {
      await waitFor(() => follower.docs.generation(BOARD_DOC) === gen + 1, 60_000, 'the follower on the new generation');
      res.follower.push(performance.now() - t0);
    }
    res.after = (await import('yjs')).encodeStateAsUpdate(arbiter.docs.peek(BOARD_DOC)!).byteLength;
  }
  return res;
}

const pg = await startPostgres({ durable: true });
const opened: RunningRelay[] = [];
try {
  const url = await pg.database();
  const a = await relay({ databaseUrl: url, relayId: 'a' });
  opened.push(a);
  await waitFor(async () => ((await (await fetch(a.url + '/api/cluster')).json()) as { role: string }).role === 'arbiter', 30_000, 'a arbitrates');
  const b = await relay({ databaseUrl: url, relayId: 'b' });
  opened.push(b);
  await seed(a);
  await waitFor(async () => (await b.docs.get(BOARD_DOC)).getMap('tasks').size === TASKS, 60_000, 'the board on b');
  console.log(`## Rotation with two relays on PostgreSQL (${TASKS} tasks on the board)\n`);
  const lat = await appends(b);
  console.log(`- board update on the follower, one at a time until persisted: p50 ${median(lat).toFixed(2)} ms, p99 ${pct(lat, 99).toFixed(2)} ms (${APPENDS} updates; load ${load()})`);
  if (!appendsOnly) {
    const r = await rotations(a, b);
    const held = buildMs.splice(0);
    console.log(`- rotation of the board (${(r.before / 1024).toFixed(0)} KiB before, ${(r.after / 1024).toFixed(0)} KiB after): arbiter ${median(r.arbiter).toFixed(0)} ms (${r.arbiter.map((x) => x.toFixed(0)).join(', ')}), of which under the lock ${median(held)} ms (${held.join(', ')}); until the follower serves it ${median(r.follower).toFixed(0)} ms (${r.follower.map((x) => x.toFixed(0)).join(', ')}) (load ${load()})`);
    const single = await relay({});
    opened.push(single);
    await seed(single);
    const s = await rotations(single, undefined);
    console.log(`- the same on one relay over LevelDB: ${median(s.arbiter).toFixed(0)} ms (${s.arbiter.map((x) => x.toFixed(0)).join(', ')}) (load ${load()})`);
  }
} finally {
  for (const r of opened.reverse()) await r.close().catch(() => undefined);
  await pg.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
}
