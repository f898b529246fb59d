/**
 * The archive sweep in bounded slices (server/engine/plan.ts planArchive, ARCHIVE_SLICE): one
 * batch takes at most `archiveSlice` finished tasks (and twice as many shown outcomes) out of
 * the live state, the next batches take the rest, and the sweep converges to the live tasks
 * alone. Before, one batch archived every finished task past the window at once, holding the
 * relay for minutes after 100,000 lifecycles. Real relay, real LevelDB in a temp folder, real
 * sync clients; the clock is moved by hand and every step waits for a state, never a time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { openAuditLog } from '../../../server/audit/index.js';
import { BoardView } from '../../../server/engine/board.js';
import { Engine } from '../../../server/engine/engine.js';
import { openStore } from '../../../server/store/index.js';
import { TERMINAL_STATES, type Outcome, type TaskRuntime } from '../../../shared/model.js';
import { ArchiveQueue } from '../../../server/engine/archive.js';
import { planArchive } from '../../../server/engine/plan.js';
import { startTestRelay, waitFor, type TestRelay } from '../../helpers/relay.js';
import { connectDoc, type YClient } from '../../helpers/yclient.js';

const enc = encodeURIComponent;
let relays: TestRelay[] = [];
let clients: YClient[] = [];
let cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
  for (const c of clients) c.destroy();
  clients = [];
  for (const r of relays.reverse()) await r.close();
  relays = [];
});

const runtime = (state: TaskRuntime['state'], updatedAt: number): TaskRuntime => ({ state, updatedAt }) as TaskRuntime;

describe('planArchive', () => {
  it('takes at most `max` finished tasks and 2 x max outcomes, oldest first, and says when more are due', () => {
    const tasks: Record<string, TaskRuntime> = {};
    for (let i = 0; i < 25; i++) tasks[`o/r#${i}`] = runtime(i % 5 === 0 ? 'queued' : 'done', 1000 + i);
    tasks['o/r#recent'] = runtime('done', 60_000);
    const outcomes: [string, Outcome][] = Array.from({ length: 45 }, (_, i) => [`i${i}`, { intentId: `i${i}`, at: 1000 + i } as Outcome]);
    let left = tasks;
    const shown = new Map(outcomes);
    const rounds: number[] = [];
    for (let more = true; more; ) {
      const plan = planArchive(left, shown.entries(), () => undefined, 61_000, 10_000, 8);
      for (const id of plan.pruned) shown.delete(id);
      expect(plan.archived.length).toBeLessThanOrEqual(8);
      expect(plan.pruned.length).toBeLessThanOrEqual(16);
      for (const id of plan.archived) expect(TERMINAL_STATES).toContain(left[id]!.state);
      rounds.push(plan.archived.length);
      left = plan.tasks;
      more = plan.more;
      if (rounds.length > 10) throw new Error('the sweep does not converge');
    }
    // 20 finished and old: 8 + 8 + 4; 45 outcomes: 16 + 16 + 13; the queued and the recent task stay.
    expect(rounds).toEqual([8, 8, 4]);
    expect(shown.size).toBe(0);
    expect(Object.keys(left).sort()).toEqual([...Array.from({ length: 5 }, (_, i) => `o/r#${i * 5}`), 'o/r#recent'].sort());
    const first = planArchive(tasks, outcomes, () => undefined, 61_000, 10_000, 8);
    expect(first.archived).toEqual(['o/r#1', 'o/r#2', 'o/r#3', 'o/r#4', 'o/r#6', 'o/r#7', 'o/r#8', 'o/r#9']);
    expect(first.pruned).toEqual(outcomes.slice(0, 16).map(([id]) => id));
    expect(first.more).toBe(true);
  });
});

describe('ArchiveQueue', () => {
  it('yields finished tasks and outcomes in the order they became due, checked against the current state', () => {
    const q = new ArchiveQueue();
    const tasks: Record<string, TaskRuntime> = { a: runtime('done', 30), b: runtime('queued', 5), c: runtime('cancelled', 10) };
    const outcomes: Record<string, Outcome> = { x: { intentId: 'x', at: 20 } as Outcome, y: { intentId: 'y', at: 10 } as Outcome };
    q.reset({ batch: 1, tasks, workers: {}, outcomes });
    q.noteBatch({ d: runtime('done', 40), b: runtime('leased', 41) }, { z: { intentId: 'z', at: 40 } as Outcome });
    tasks.d = runtime('done', 40);
    const task = (id: string) => tasks[id];
    expect([...q.dueTasks(35, task)]).toEqual(['c', 'a']);
    expect([...q.dueTasks(100, task)]).toEqual(['c', 'a', 'd']);
    expect([...q.dueOutcomes(100, (id) => outcomes[id])]).toEqual(['y', 'x']);
    // Not written yet (a failed batch): still candidates. Archived: dropped for good.
    expect([...q.dueTasks(35, task)]).toEqual(['c', 'a']);
    delete tasks.c;
    tasks.a = runtime('queued', 50); // requeued: its entry is stale
    expect([...q.dueTasks(100, task)]).toEqual(['d']);
    expect(q.size.tasks).toBe(1);
    // A repeat noted twice is yielded once per entry; planArchive takes it once.
    q.noteBatch({ d: runtime('done', 40) }, {});
    expect([...q.dueTasks(100, task)]).toEqual(['d', 'd']);
    expect(planArchive(tasks, undefined, () => undefined, 100, 0, 10, q.dueTasks(100, task)).archived).toEqual(['d']);
  });
});

describe('the archive sweep on a relay', () => {
  it('archives at most `archiveSlice` tasks per batch and converges to the live tasks', async () => {
    let now = Date.now();
    const SLICE = 4;
    // The sweeper never starts a check by itself here (archiveEveryMs): engine.sweep() does.
    const r = await startTestRelay({ rateLimit: false, now: () => now, retentionMs: 60_000, archiveEveryMs: 1e12, archiveSlice: SLICE });
    relays.push(r);
    const maint = await r.token('maintainer');
    expect((await r.api(maint, 'PUT', '/api/repos/o/r', {})).status).toBe(200);
    const ids = Array.from({ length: 15 }, (_, i) => `o/r#${i}`);
    expect((await r.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks: ids.map((id) => ({ id, repo: 'o/r', title: id, skills: [] })) })).status).toBe(200);
    const finished = ids.slice(0, 11);
    for (const id of finished) expect((await r.api(maint, 'POST', `/api/tasks/${enc(id)}/cancel`, { reason: 'done', intentId: `cancel-${id}` })).status).toBe(200);
    const viewer = await r.token('viewer');
    const ledger = await connectDoc(r.wsUrl, 'owp/ledger', viewer);
    const board = await connectDoc(r.wsUrl, 'owp/board', viewer);
    clients.push(ledger, board);
    await waitFor(() => finished.every((id) => ledger.doc.getMap('outcomes').has(`cancel-${id}`)), 10_000, 'the cancels shown');

    const removedPerBatch: number[] = [];
    r.relay.engine.onBatch((result) => {
      const removed = Object.values(result.tasks).filter((t) => t === null).length;
      if (removed > 0) removedPerBatch.push(removed);
    });
    now += 61_000;
    await r.relay.engine.sweep();
    // One sweep step: one slice, the rest left for the next batches.
    expect(removedPerBatch[0]).toBe(SLICE);
    await waitFor(() => Object.keys(r.relay.engine.ledger().tasks).length === 4, 10_000, 'the sweep to converge');
    expect(removedPerBatch).toEqual([SLICE, SLICE, 3]);
    const live = ids.slice(11);
    await waitFor(() => Object.keys(board.doc.getMap('tasks').toJSON()).length === 4 && Object.keys(ledger.doc.getMap('tasks').toJSON()).length === 4, 10_000, 'the documents');
    expect(Object.keys(board.doc.getMap('tasks').toJSON()).sort()).toEqual(live.sort());
    expect(Object.keys(ledger.doc.getMap('tasks').toJSON()).sort()).toEqual(live.sort());
    expect(finished.some((id) => ledger.doc.getMap('outcomes').has(`cancel-${id}`))).toBe(false);
    // An archived task is gone from the API; its intent id still gets its outcome.
    expect((await r.api(maint, 'GET', `/api/tasks/${enc(finished[10]!)}`)).status).toBe(404);
    const again = await r.api(maint, 'POST', `/api/tasks/${enc(finished[0]!)}/cancel`, { reason: 'done', intentId: `cancel-${finished[0]}` });
    expect(again.body.outcome).toMatchObject({ intentId: `cancel-${finished[0]}`, status: 'applied' });
    expect((await r.api(maint, 'GET', '/api/audit/verify')).body.ok).toBe(true);
  });
});

describe('the end of a sweep', () => {
  it('tells the relay how much the sweep took out of the live documents, once, when nothing more is due', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'owp-engine-'));
    const store = await openStore(dir);
    cleanup.push(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });
    const board = new BoardView(new Y.Doc());
    const ids = ['o/r#1', 'o/r#2', 'o/r#3', 'o/r#4', 'o/r#5', 'o/r#6'];
    board.upsertTasks(ids.map((id) => ({ id, repo: 'o/r', title: id })), 1);
    const ledgerDoc = new Y.Doc();
    let now = 1_000_000;
    const ended: number[] = [];
    const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
    const engine = await Engine.open({ store, audit: await openAuditLog(store), board, ledgerDoc, now: () => now, log, retentionMs: 1000, archiveEveryMs: 1e12, archiveSlice: 2, onSweepDone: (n) => ended.push(n) });
    cleanup.push(() => engine.stop());
    for (const id of ids.slice(0, 5)) expect((await engine.submit({ kind: 'cancel', id: `c-${id}`, workerId: 'maint', taskId: id })).status).toBe('applied');
    expect(ledgerDoc.getMap('outcomes').size).toBe(5);
    now += 2000;
    await engine.sweep();
    await waitFor(() => ended.length > 0, 10_000, 'the sweep to end');
    // 5 tasks (slices of 2, 2, 1) and their 5 outcomes.
    expect(ended).toEqual([10]);
    expect(Object.keys(engine.ledger().tasks)).toEqual(['o/r#6']);
    expect(ledgerDoc.getMap('outcomes').size).toBe(0);
    expect(Object.keys(board.board().tasks)).toEqual(['o/r#6']);
    await engine.sweep();
    expect(ended).toEqual([10]);
  });
});
