/**
 * Pipelined batches (server/engine/batch.ts) on the engine's real parts (LevelDB store, audit
 * log, Y.Docs): a batch is decided on the one ahead while that one's write is held, nothing
 * of either reaches a reader, the ledger document or a listener before its write is durable,
 * answers come in batch order, and when the write ahead fails (or throws) both batches are
 * failed as a single batch is and the engine goes on from the durable state. The writes are
 * held and released by the test: every step waits for a state, never for time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as Y from 'yjs';
import { afterEach, describe, expect, it } from 'vitest';
import { openAuditLog, type AuditLog } from '../../../server/audit/index.js';
import { BoardView } from '../../../server/engine/board.js';
import { Engine } from '../../../server/engine/engine.js';
import { openStore, type Store } from '../../../server/store/index.js';
import type { Logger } from '../../../server/ports.js';

let errors: string[] = [];
const log: Logger = { info: () => undefined, warn: () => undefined, error: (m) => void errors.push(m) };

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
  errors = [];
});

/** Wait (turn by turn of the event loop) until `cond` holds. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}

/** Writes to `store` held while `hold` is set: each waits until the test lets it go or fails it. */
function holdWrites(store: Store) {
  const real = store.batch.bind(store);
  const held: { go: () => void; fail: (e: Error) => void }[] = [];
  const gate = { hold: false, held };
  store.batch = (ops) => {
    if (!gate.hold) return real(ops);
    return new Promise<void>((resolve, reject) => {
      held.push({ go: () => void real(ops).then(resolve, reject), fail: reject });
    });
  };
  return gate;
}

async function setup(): Promise<{ engine: Engine; store: Store; audit: AuditLog; ledgerDoc: Y.Doc }> {
  const dir = await mkdtemp(join(tmpdir(), 'owp-pipeline-'));
  const store = await openStore(dir);
  cleanup.push(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const audit = await openAuditLog(store);
  const board = new BoardView(new Y.Doc());
  board.upsertTasks(
    ['o/r#1', 'o/r#2'].map((id) => ({ id, repo: 'o/r', title: id })),
    1,
  );
  const ledgerDoc = new Y.Doc();
  const engine = await Engine.open({ store, audit, board, ledgerDoc, now: Date.now, log });
  cleanup.push(() => engine.stop());
  for (const w of ['w1', 'w2']) {
    const inbox = new Y.Doc();
    for (const [k, v] of Object.entries({ name: w, skills: [], capacity: 5, maxConcurrent: 5 })) inbox.getMap('profile').set(k, v);
    engine.attachInbox(w, inbox);
  }
  // The archive check due at start runs alone (an archiving batch is never pipelined): done here.
  await engine.sweep();
  return { engine, store, audit, ledgerDoc };
}

/** What a reader, the ledger document and the listeners could have learnt since `watch` was called. */
function watch(engine: Engine, ledgerDoc: Y.Doc) {
  const seen = { docUpdates: 0, batches: 0, order: [] as string[] };
  ledgerDoc.on('update', () => void (seen.docUpdates += 1));
  engine.onBatch(() => void (seen.batches += 1));
  return seen;
}

/** Two batches in flight: c1 (w1 claims o/r#1) with its write held, then c2 (w2 claims o/r#1, c3 w2 claims o/r#2) decided on it. */
async function twoInFlight(engine: Engine, gate: ReturnType<typeof holdWrites>, order: string[]) {
  gate.hold = true;
  const settled = (id: string, p: Promise<unknown>) => p.then(
    (v) => (order.push(id), v),
    (e: unknown) => {
      order.push(id);
      throw e;
    },
  );
  const c1 = settled('c1', engine.submit({ kind: 'claim', id: 'c1', workerId: 'w1', taskId: 'o/r#1' }));
  await until(() => gate.held.length === 1);
  const c2 = settled('c2', engine.submit({ kind: 'claim', id: 'c2', workerId: 'w2', taskId: 'o/r#1' }));
  const c3 = settled('c3', engine.submit({ kind: 'claim', id: 'c3', workerId: 'w2', taskId: 'o/r#2' }));
  await until(() => engine.pipeline().inFlight === 2 && !engine.pipeline().deciding);
  // Only the first write reached the store; the second waits for it.
  expect(gate.held.length).toBe(1);
  return { c1, c2, c3 };
}

/** Nothing of the two batches reached a reader, the store, the ledger document or a listener. */
async function nothingShown(engine: Engine, store: Store, seen: ReturnType<typeof watch>) {
  for (const id of ['o/r#1', 'o/r#2']) {
    expect(engine.runtime(id)?.state).toBe('queued');
    expect(engine.ledger().tasks[id]?.lease).toBeUndefined();
  }
  for (const id of ['c1', 'c2', 'c3']) {
    expect(engine.ledger().outcomes[id]).toBeUndefined();
    expect(await store.get(`ledger/outcome/${id}`)).toBeUndefined();
  }
  expect(seen.docUpdates).toBe(0);
  expect(seen.batches).toBe(0);
}

describe('pipelined batches', () => {
  it('decide the next batch on the one ahead, and show and answer both in order once written', async () => {
    const { engine, store, audit, ledgerDoc } = await setup();
    const gate = holdWrites(store);
    const seen = watch(engine, ledgerDoc);
    const { c1, c2, c3 } = await twoInFlight(engine, gate, seen.order);
    await nothingShown(engine, store, seen);
    gate.hold = false;
    gate.held[0]!.go();
    await expect(c1).resolves.toMatchObject({ status: 'granted', taskId: 'o/r#1', fencingToken: 1 });
    // Decided on c1's batch before it was written: o/r#1 was already leased to w1.
    await expect(c2).resolves.toMatchObject({ status: 'rejected', taskId: 'o/r#1' });
    await expect(c3).resolves.toMatchObject({ status: 'granted', taskId: 'o/r#2' });
    expect(seen.order).toEqual(['c1', 'c2', 'c3']);
    expect(seen.batches).toBe(2);
    expect((ledgerDoc.getMap('tasks').get('o/r#1') as { lease: { workerId: string } }).lease.workerId).toBe('w1');
    expect((ledgerDoc.getMap('tasks').get('o/r#2') as { lease: { workerId: string } }).lease.workerId).toBe('w2');
    expect(await store.get('ledger/outcome/c2')).toMatchObject({ status: 'rejected' });
    expect((await audit.verify()).ok).toBe(true);
  });

  it('fail both batches when the write ahead fails: nothing shown, nothing stored, the engine goes on', async () => {
    const { engine, store, audit, ledgerDoc } = await setup();
    const gate = holdWrites(store);
    const head = audit.head();
    const seen = watch(engine, ledgerDoc);
    const { c1, c2, c3 } = await twoInFlight(engine, gate, seen.order);
    gate.hold = false;
    gate.held[0]!.fail(new Error('disk full'));
    const internal = { code: 'internal', message: 'The relay could not write to its database; nothing was changed. Retry.' };
    await expect(c1).rejects.toMatchObject(internal);
    await expect(c2).rejects.toMatchObject(internal);
    await expect(c3).rejects.toMatchObject(internal);
    expect(seen.order).toEqual(['c1', 'c2', 'c3']);
    expect(errors.filter((e) => e === 'ledger write failed; batch dropped')).toHaveLength(2);
    await nothingShown(engine, store, seen);
    expect(audit.head()).toEqual(head);
    expect(gate.held).toHaveLength(1);
    // Nothing was recorded: the same ids are arbitrated afresh, on the durable state.
    await expect(engine.submit({ kind: 'claim', id: 'c2', workerId: 'w2', taskId: 'o/r#1' })).resolves.toMatchObject({ status: 'granted', fencingToken: 1 });
    await expect(engine.submit({ kind: 'claim', id: 'c1', workerId: 'w1', taskId: 'o/r#1' })).resolves.toMatchObject({ status: 'rejected' });
    expect((ledgerDoc.getMap('tasks').get('o/r#1') as { lease: { workerId: string } }).lease.workerId).toBe('w2');
    expect((await audit.verify()).ok).toBe(true);
  });

  it('fail both batches when recording the one ahead throws, and rebuild from the durable state', async () => {
    const { engine, store, audit, ledgerDoc } = await setup();
    const gate = holdWrites(store);
    const realPrepare = audit.prepare.bind(audit);
    const seen = watch(engine, ledgerDoc);
    // The write ahead is held in the store; when let go, its audit entries fail to build first.
    let throwNext = false;
    audit.prepare = (events) => {
      if (throwNext) {
        throwNext = false;
        throw new Error('audit boom');
      }
      return realPrepare(events);
    };
    const realAppend = audit.appendWith.bind(audit);
    const appends: (() => void)[] = [];
    audit.appendWith = (events, ops) =>
      new Promise((resolve, reject) => {
        appends.push(() => void realAppend(events, ops).then(resolve, reject));
        gate.held.push({ go: () => undefined, fail: () => undefined });
      });
    const { c1, c2, c3 } = await twoInFlight(engine, gate, seen.order);
    await nothingShown(engine, store, seen);
    audit.appendWith = realAppend;
    gate.hold = false;
    throwNext = true;
    appends[0]!();
    const internal = { code: 'internal', message: 'The relay failed while recording this batch; retry with the same intent id. The relay log has details.' };
    await expect(c1).rejects.toMatchObject(internal);
    await expect(c2).rejects.toMatchObject(internal);
    await expect(c3).rejects.toMatchObject(internal);
    expect(errors.filter((e) => e === 'batch failed after arbitration')).toHaveLength(2);
    expect(seen.batches).toBe(0);
    expect(engine.runtime('o/r#1')?.state).toBe('queued');
    await expect(engine.submit({ kind: 'claim', id: 'c1', workerId: 'w1', taskId: 'o/r#1' })).resolves.toMatchObject({ status: 'granted', fencingToken: 1 });
    expect((await audit.verify()).ok).toBe(true);
  });
});
