/**
 * The engine on its real parts (LevelDB store, audit log, Y.Docs) with a scheduler that
 * throws on one poisoned intent: the others of its batch are still arbitrated, the poisoned
 * one gets one stored `internal` outcome, and nothing is half-written.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as Y from 'yjs';
import { afterEach, describe, expect, it } from 'vitest';
import { schedule, type ScheduleFn } from '../../../shared/scheduler/index.js';
import { openAuditLog } from '../../../server/audit/index.js';
import { BoardView } from '../../../server/engine/board.js';
import { Engine } from '../../../server/engine/engine.js';
import { openStore, type Store } from '../../../server/store/index.js';
import type { Logger } from '../../../server/ports.js';

const errors: string[] = [];
const log: Logger = { info: () => undefined, warn: () => undefined, error: (m) => void errors.push(m) };

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** A LevelDB store in a temp folder, closed and removed after the test. */
async function tempStore(): Promise<Store> {
  const dir = await mkdtemp(join(tmpdir(), 'owp-engine-'));
  const store = await openStore(dir);
  cleanup.push(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return store;
}

async function setup(sched: ScheduleFn): Promise<{ engine: Engine; store: Store; ledgerDoc: Y.Doc }> {
  const store = await tempStore();
  const audit = await openAuditLog(store);
  const board = new BoardView(new Y.Doc());
  board.upsertTasks(
    ['o/r#1', 'o/r#2', 'o/r#3'].map((id) => ({ id, repo: 'o/r', title: id })),
    1,
  );
  const ledgerDoc = new Y.Doc();
  const engine = await Engine.open({ store, audit, board, ledgerDoc, schedule: sched, now: Date.now, log, tickMs: 20 });
  cleanup.push(() => engine.stop());
  const inbox = new Y.Doc();
  inbox.getMap('profile').set('name', 'w1');
  inbox.getMap('profile').set('skills', []);
  inbox.getMap('profile').set('capacity', 5);
  inbox.getMap('profile').set('maxConcurrent', 5);
  engine.attachInbox('w1', inbox);
  return { engine, store, ledgerDoc };
}

describe('engine isolation of a failing intent', () => {
  it('arbitrates the rest of the batch and stores one internal outcome for the poisoned intent', async () => {
    const poisoned: ScheduleFn = (state, intents, now) => {
      if (intents.some((i) => i.id === 'poison')) throw new Error('boom');
      return schedule(state, intents, now);
    };
    const { engine, store, ledgerDoc } = await setup(poisoned);
    const results = await Promise.allSettled([
      engine.submit({ kind: 'claim', id: 'good-1', workerId: 'w1', taskId: 'o/r#1' }),
      engine.submit({ kind: 'claim', id: 'poison', workerId: 'w1', taskId: 'o/r#2' }),
      engine.submit({ kind: 'claim', id: 'good-2', workerId: 'w1', taskId: 'o/r#3' }),
    ]);
    expect(results[0]).toMatchObject({ status: 'fulfilled', value: { status: 'granted', taskId: 'o/r#1' } });
    expect(results[1]).toMatchObject({ status: 'rejected', reason: { code: 'internal' } });
    expect(results[2]).toMatchObject({ status: 'fulfilled', value: { status: 'granted', taskId: 'o/r#3' } });
    await engine.flush();
    const stored = await store.get<{ status: string; code: string }>('ledger/outcome/poison');
    expect(stored).toMatchObject({ status: 'rejected', code: 'internal' });
    expect(engine.ledger().tasks['o/r#2'].state).toBe('queued');
    expect((ledgerDoc.getMap('outcomes').get('poison') as { code: string }).code).toBe('internal');
    // the same id again: its stored outcome, the scheduler is not asked again
    await expect(engine.submit({ kind: 'claim', id: 'poison', workerId: 'w1', taskId: 'o/r#2' })).resolves.toMatchObject({ code: 'internal' });
    expect(errors).toContain('scheduler failed on a batch');
  });
});

describe('engine cost does not grow with history', () => {
  it('hands the scheduler only the stored outcomes of the batch, and keeps every outcome', async () => {
    const seen: number[] = [];
    const spy: ScheduleFn = (state, intents, now) => {
      seen.push(Object.keys(state.ledger.outcomes).length);
      return schedule(state, intents, now);
    };
    const { engine, store } = await setup(spy);
    for (let i = 0; i < 5; i++) await engine.submit({ kind: 'claim', id: `c${i}`, workerId: 'w1', taskId: 'nope#1' });
    await engine.submit({ kind: 'claim', id: 'c5', workerId: 'w1', taskId: 'o/r#1' });
    expect(seen.every((n) => n === 0)).toBe(true);
    expect(Object.keys(engine.ledger().outcomes).sort()).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5']);
    expect(await store.get('ledger/outcome/c3')).toMatchObject({ status: 'rejected' });
    // a repeat is answered from the ledger without a batch
    const before = seen.length;
    await expect(engine.submit({ kind: 'claim', id: 'c5', workerId: 'w1', taskId: 'o/r#1' })).resolves.toMatchObject({ status: 'granted' });
    expect(seen.length).toBe(before);
  });
});

describe('engine when recording a batch throws', () => {
  it('answers the batch with internal instead of hanging, writes nothing, and keeps arbitrating', async () => {
    const store = await tempStore();
    const audit = await openAuditLog(store);
    const realPrepare = audit.prepare.bind(audit);
    let failNext = true;
    audit.prepare = (events) => {
      if (failNext) {
        failNext = false;
        throw new Error('audit boom');
      }
      return realPrepare(events);
    };
    const board = new BoardView(new Y.Doc());
    board.upsertTasks([{ id: 'o/r#1', repo: 'o/r', title: 'one' }], 1);
    const ledgerDoc = new Y.Doc();
    const engine = await Engine.open({ store, audit, board, ledgerDoc, schedule, now: Date.now, log, tickMs: 20 });
    cleanup.push(() => engine.stop());
    const inbox = new Y.Doc();
    for (const [k, v] of Object.entries({ name: 'w1', skills: [], capacity: 5, maxConcurrent: 5 })) inbox.getMap('profile').set(k, v);
    engine.attachInbox('w1', inbox);
    await engine.flush();

    await expect(engine.submit({ kind: 'claim', id: 'c1', workerId: 'w1', taskId: 'o/r#1' })).rejects.toMatchObject({ code: 'internal' });
    expect(errors).toContain('batch failed after arbitration');
    expect(await store.get('ledger/outcome/c1')).toBeUndefined();
    expect(engine.ledger().tasks['o/r#1']?.lease).toBeUndefined();
    // nothing was recorded, so the same id is arbitrated afresh and the engine still works
    await expect(engine.submit({ kind: 'claim', id: 'c1', workerId: 'w1', taskId: 'o/r#1' })).resolves.toMatchObject({ status: 'granted', fencingToken: 1 });
    expect((ledgerDoc.getMap('tasks').get('o/r#1') as { state: string }).state).toBe('leased');
    expect((await audit.verify()).ok).toBe(true);
  });
});
