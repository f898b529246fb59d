/**
 * Rotation with several relays on one PostgreSQL database (docs/ROTATION.md, "Several relays
 * on one PostgreSQL database"): a real PostgreSQL, real relays (in-process, and one as a child
 * process for kill -9), stock y-websocket clients on every relay.
 * - The arbiter rotates; every follower reloads the new generation and closes its own
 *   clients with 4409; fresh clients on every relay get the same content, and edits and the
 *   engine's ledger writes flow on in the new generation.
 * - An edit a follower took while the arbiter's rotation held the document's lock is refused
 *   as of the old generation (never written into the new one's log); the client carries it
 *   over as the plugin does, and it reaches every relay.
 * - The arbiter killed with kill -9 inside its rotation transaction (held there by a row lock
 *   the test takes) commits nothing: every relay stays on the old generation with every edit,
 *   including one written meanwhile on a follower, and the next arbiter rotates.
 * Waits poll for states (locks seen waiting in pg_locks / pg_stat_activity), never for time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { reapplyEdits, retiredOf, ROTATION_ROOT, unsyncedEdits } from '../../shared/doc-rotation.js';
import { BOARD_DOC, CLOSE, LEDGER_DOC } from '../../shared/protocol.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { api, startTestRelay, TEST_ADMIN_TOKEN, waitFor, type TestRelay } from '../helpers/relay.js';
import { connectDoc, type YClient } from '../helpers/yclient.js';

const CHILD = fileURLToPath(new URL('./ha-rotate-child.ts', import.meta.url));
const ALWAYS = { docs: [BOARD_DOC, LEDGER_DOC], minGarbageBytes: 0, garbageFactor: 0 };
const TASKS = 20;

let pgc: TestPostgres;
const cleanup: (() => Promise<unknown>)[] = [];
beforeAll(async () => {
  pgc = await startPostgres();
});
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  await pgc?.stop();
});

interface Client extends YClient {
  closes: number[];
}

async function client(r: { wsUrl: string }, name: string, token: string): Promise<Client> {
  const c = await connectDoc(r.wsUrl, name, token);
  const closes: number[] = [];
  c.provider.on('connection-close', (ev) => void (ev && closes.push(ev.code)));
  cleanup.push(async () => c.destroy());
  return { ...c, closes };
}

const tasksOf = (d: Y.Doc) => d.getMap<Y.Map<unknown>>('tasks');
const titleOf = (d: Y.Doc, id: string) => tasksOf(d).get(id)?.get('title');
const setTitle = (d: Y.Doc, id: string, title: string) => tasksOf(d).get(id)!.set('title', title);
const genOf = (d: Y.Doc) => d.getMap(ROTATION_ROOT).get('generation') ?? 0;
/** History: the titles of o/r#7.. rewritten a few times and back (garbage enough to outweigh the rotation record), then o/r#6 titled `mark`. */
function churn(d: Y.Doc, mark: string): void {
  for (let k = 0; k < 5; k++) for (let i = 7; i <= TASKS; i++) setTitle(d, `o/r#${i}`, k === 4 ? `T${i}` : `T${i} v${k}`);
  setTitle(d, 'o/r#6', mark);
}
const wsOf = (url: string) => ({ wsUrl: url.replace(/^http/, 'ws') + '/yjs' });

async function relay(url: string, relayId: string): Promise<TestRelay> {
  const r = await startTestRelay({ databaseUrl: url, relayId, electionLeaseMs: 15_000, rotation: ALWAYS });
  cleanup.push(() => r.close());
  return r;
}

/** Run `sql` on a connection of its own inside an open transaction, until `release`. */
async function holdLock(url: string, sql: string, values: unknown[]): Promise<{ release(): Promise<void> }> {
  const c = await pgc.session(url);
  await c.query('BEGIN');
  await c.query(sql, values);
  return {
    async release() {
      await c.query('ROLLBACK');
      await c.close();
    },
  };
}

const count = async (url: string, sql: string) => Number(((await pgc.query(sql, [], url))[0] as { n: string }).n);
/** A rotation transaction waiting for the test's row lock on owp_doc_gen. */
const rotationWaiting = (url: string) => count(url, "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO owp_doc_gen%'");
/** A follower's append waiting for the document's lock (held exclusive by the rotation). */
const appendWaiting = (url: string) => count(url, "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
const storedGeneration = async (url: string) => Number(((await pgc.query('SELECT generation FROM owp_doc_gen WHERE name = $1', [BOARD_DOC], url))[0] as { generation: string } | undefined)?.generation ?? 0);

async function seed(base: string, maint: string): Promise<void> {
  expect((await api(base, maint, 'PUT', '/api/repos/o/r', { reviewBudget: 1000, dailyQuota: 10000 })).status).toBe(200);
  const tasks = Array.from({ length: TASKS }, (_, i) => ({ id: `o/r#${i + 1}`, repo: 'o/r', title: `T${i + 1}` }));
  expect((await api(base, maint, 'POST', '/api/tasks', { tasks })).status).toBe(200);
}

describe('rotation with several relays on one database', () => {
  it('the arbiter rotates, every follower reloads and resets its clients, and a refused edit is carried over', async () => {
    const url = await pgc.database();
    const a = await relay(url, 'a');
    await waitFor(async () => (await a.api(undefined, 'GET', '/api/cluster')).body.role === 'arbiter', 10_000, 'a arbitrates');
    const b = await relay(url, 'b');
    const c = await relay(url, 'c');
    const maint = await a.token('maintainer');
    for (const r of [b, c]) await waitFor(async () => (await r.api(maint, 'GET', '/api/me')).status === 200, 10_000, 'the token everywhere');
    await seed(a.url, maint);
    const boards = [await client(a, BOARD_DOC, maint), await client(b, BOARD_DOC, maint), await client(c, BOARD_DOC, maint)];
    const ledgerC = await client(c, LEDGER_DOC, maint);
    for (const x of boards) await waitFor(() => tasksOf(x.doc).size === TASKS, 10_000, 'the tasks on every client');
    // History on two followers (overwritten titles leave garbage), seen by the arbiter.
    churn(boards[1]!.doc, 'm1');
    setTitle(boards[1]!.doc, 'o/r#1', 'from b');
    await waitFor(() => titleOf(boards[2]!.doc, 'o/r#1') === 'from b', 10_000, "b's edits on c");
    setTitle(boards[2]!.doc, 'o/r#2', 'from c');
    await waitFor(() => a.relay.relay.board().tasks['o/r#1']?.title === 'from b' && a.relay.relay.board().tasks['o/r#2']?.title === 'from c', 10_000, 'the edits at the arbiter');

    // History in the ledger: a worker on b claims and completes (each step replaces a runtime).
    const w = await a.token('worker', 'w1');
    await waitFor(async () => (await b.api(w, 'POST', '/api/workers/register', { skills: [], capacity: 10, maxConcurrent: 5, maxOpenPrs: 5 })).status === 200, 10_000, 'w1 registers through b');
    for (let i = 10; i < 16; i++) {
      const claim = await b.api(w, 'POST', '/api/claim', { taskId: `o/r#${i}` });
      expect(claim.status).toBe(200);
      expect((await b.api(w, 'POST', `/api/tasks/${encodeURIComponent(`o/r#${i}`)}/complete`, { fencingToken: claim.body.lease.fencingToken })).status).toBe(200);
    }
    await a.relay.docs.compact(BOARD_DOC);
    await a.relay.docs.compact(LEDGER_DOC);
    expect(a.relay.docs.generation(BOARD_DOC)).toBe(1);
    expect(a.relay.docs.generation(LEDGER_DOC)).toBe(1);
    for (const r of [b, c]) await waitFor(() => r.relay.docs.generation(BOARD_DOC) === 1 && r.relay.docs.generation(LEDGER_DOC) === 1, 10_000, 'followers on generation 1');
    for (const x of [...boards, ledgerC]) await waitFor(() => x.closes.includes(CLOSE.docReset), 10_000, 'doc-reset on every relay');

    const fresh = [await client(b, BOARD_DOC, maint), await client(c, BOARD_DOC, maint)];
    const arbiterView = (await a.relay.docs.get(BOARD_DOC)).getMap('tasks').toJSON();
    for (const x of fresh) {
      expect(genOf(x.doc)).toBe(1);
      expect(x.doc.getMap('tasks').toJSON()).toEqual(arbiterView);
      expect(titleOf(x.doc, 'o/r#1')).toBe('from b');
    }
    // Edits and the engine's ledger writes flow on in the new generation, through every relay.
    setTitle(fresh[1]!.doc, 'o/r#5', 'after the rotation');
    await waitFor(() => titleOf(fresh[0]!.doc, 'o/r#5') === 'after the rotation' && a.relay.relay.board().tasks['o/r#5']?.title === 'after the rotation', 10_000, 'a new edit everywhere');
    expect((await b.api(w, 'POST', '/api/claim', { taskId: 'o/r#7' })).status).toBe(200);
    const ledger = await client(c, LEDGER_DOC, maint);
    expect(genOf(ledger.doc)).toBe(1);
    await waitFor(() => (ledger.doc.getMap('tasks').get('o/r#7') as { state?: string } | undefined)?.state === 'leased', 10_000, 'the lease in the rotated ledger');

    // A rotation holding the document's lock (held there by the test's row lock); an edit on b meanwhile.
    churn(fresh[1]!.doc, 'm2');
    await waitFor(() => a.relay.relay.board().tasks['o/r#6']?.title === 'm2' && titleOf(fresh[0]!.doc, 'o/r#6') === 'm2', 10_000, 'more history');
    const lock = await holdLock(url, 'SELECT 1 FROM owp_doc_gen WHERE name = $1 FOR UPDATE', [BOARD_DOC]);
    const rotating = a.relay.docs.compact(BOARD_DOC);
    await waitFor(async () => (await rotationWaiting(url)) === 1, 10_000, 'the rotation inside its transaction');
    setTitle(fresh[0]!.doc, 'o/r#3', 'late from b');
    await waitFor(async () => (await appendWaiting(url)) >= 1, 10_000, "b's append waiting for the rotation");
    await lock.release();
    await rotating;
    expect(a.relay.docs.generation(BOARD_DOC)).toBe(2);
    await waitFor(() => b.relay.docs.generation(BOARD_DOC) === 2 && fresh[0]!.closes.includes(CLOSE.docReset), 10_000, 'b on generation 2');
    // Refused as of generation 1: nowhere in generation 2 ...
    expect(a.relay.relay.board().tasks['o/r#3']?.title).toBe('T3');
    // ... and carried over by value, as the plugin does.
    const again = await client(b, BOARD_DOC, maint);
    const edits = unsyncedEdits(fresh[0]!.doc, retiredOf(again.doc));
    expect(edits).toContainEqual({ path: ['tasks', 'o/r#3', 'title'], value: 'late from b' });
    reapplyEdits(again.doc, edits, 'carried', (root) => root === 'tasks');
    await waitFor(() => a.relay.relay.board().tasks['o/r#3']?.title === 'late from b', 10_000, 'the carried edit at the arbiter');
    await waitFor(() => c.relay.relay.board().tasks['o/r#3']?.title === 'late from b', 10_000, 'the carried edit on c');
  });

  it('the arbiter killed inside its rotation commits nothing: every edit stays, and the next arbiter rotates', async () => {
    const url = await pgc.database();
    const dir = await mkdtemp(join(tmpdir(), 'owp-ha-rot-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const proc: ChildProcess = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, url, 'k', TEST_ADMIN_TOKEN, '5000'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout!.on('data', (d) => (out += String(d)));
    proc.stderr!.on('data', (d) => (out += String(d)));
    const exited = new Promise<void>((r) => proc.on('exit', () => r()));
    cleanup.push(async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    });
    const kUrl = await waitFor(() => /listening on (http:\/\/\S+)/.exec(out)?.[1], 30_000, 'the child relay');
    await waitFor(async () => (await api(kUrl, undefined, 'GET', '/api/cluster')).body.role === 'arbiter', 10_000, 'k arbitrates');
    const b = await relay(url, 'b');
    const c = await relay(url, 'c');
    const maint = (await api(kUrl, TEST_ADMIN_TOKEN, 'POST', '/api/tokens', { role: 'maintainer' })).body.token as string;
    for (const r of [b, c]) await waitFor(async () => (await r.api(maint, 'GET', '/api/me')).status === 200, 10_000, 'the token everywhere');
    await seed(kUrl, maint);
    const kBoard = await client(wsOf(kUrl), BOARD_DOC, maint);
    const bBoard = await client(b, BOARD_DOC, maint);
    await waitFor(() => tasksOf(bBoard.doc).size === TASKS, 10_000, 'the tasks on b');
    churn(bBoard.doc, 'm1');
    setTitle(bBoard.doc, 'o/r#1', 'from b');
    await waitFor(() => titleOf(kBoard.doc, 'o/r#1') === 'from b', 10_000, 'the edit at the arbiter');
    const compactK = async (gen: number) => {
      proc.stdin!.write(`compact ${BOARD_DOC}\n`);
      await waitFor(() => out.includes(`compacted ${BOARD_DOC} ${gen}\n`), 10_000, `k at generation ${gen}`);
    };
    await compactK(1);
    for (const r of [b, c]) await waitFor(() => r.relay.docs.generation(BOARD_DOC) === 1, 10_000, 'followers on generation 1');
    await waitFor(() => kBoard.closes.includes(CLOSE.docReset) && bBoard.closes.includes(CLOSE.docReset), 10_000, 'doc-reset on k and b');

    const fb = await client(b, BOARD_DOC, maint);
    const fc = await client(c, BOARD_DOC, maint);
    churn(fb.doc, 'm2');
    setTitle(fb.doc, 'o/r#2', 'before the crash');
    await waitFor(() => titleOf(fc.doc, 'o/r#2') === 'before the crash', 10_000, 'the edit on c');
    // k rotates again and is held inside its transaction (snapshot written, not committed) ...
    const lock = await holdLock(url, 'SELECT 1 FROM owp_doc_gen WHERE name = $1 FOR UPDATE', [BOARD_DOC]);
    proc.stdin!.write(`compact ${BOARD_DOC}\n`);
    await waitFor(async () => (await rotationWaiting(url)) === 1, 10_000, "k's rotation inside its transaction");
    setTitle(fb.doc, 'o/r#4', 'during the crash');
    await waitFor(async () => (await appendWaiting(url)) >= 1, 10_000, "b's append waiting for the rotation");
    // ... and killed there.
    proc.kill('SIGKILL');
    await exited;
    await lock.release();

    const arbiter = await waitFor(
      async () => {
        for (const r of [b, c]) if ((await r.api(undefined, 'GET', '/api/cluster')).body.role === 'arbiter') return r;
        return undefined;
      },
      20_000,
      'another arbiter',
    );
    // Nothing of the dead rotation: generation 1 everywhere, every edit kept, no client reset.
    expect(await storedGeneration(url)).toBe(1);
    await waitFor(() => titleOf(fc.doc, 'o/r#4') === 'during the crash', 10_000, "b's edit on c");
    expect(b.relay.docs.generation(BOARD_DOC)).toBe(1);
    expect(c.relay.docs.generation(BOARD_DOC)).toBe(1);
    expect(fb.closes).toEqual([]);
    expect(fc.closes).toEqual([]);
    const late = await client(c, BOARD_DOC, maint);
    expect(genOf(late.doc)).toBe(1);
    expect(late.doc.getMap('tasks').toJSON()).toEqual(fb.doc.getMap('tasks').toJSON());
    expect(titleOf(late.doc, 'o/r#1')).toBe('from b');

    // The next arbiter rotates: generation 2 everywhere, with every edit.
    await arbiter.relay.docs.compact(BOARD_DOC);
    expect(arbiter.relay.docs.generation(BOARD_DOC)).toBe(2);
    for (const r of [b, c]) await waitFor(() => r.relay.docs.generation(BOARD_DOC) === 2, 10_000, 'generation 2 everywhere');
    for (const x of [fb, fc, late]) await waitFor(() => x.closes.includes(CLOSE.docReset), 10_000, 'doc-reset');
    for (const r of [b, c]) {
      const x = await client(r, BOARD_DOC, maint);
      expect(genOf(x.doc)).toBe(2);
      expect([titleOf(x.doc, 'o/r#1'), titleOf(x.doc, 'o/r#2'), titleOf(x.doc, 'o/r#4')]).toEqual(['from b', 'before the crash', 'during the crash']);
      expect(tasksOf(x.doc).size).toBe(TASKS);
    }
    expect(await storedGeneration(url)).toBe(2);
  });
});
