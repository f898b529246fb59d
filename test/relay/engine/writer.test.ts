/**
 * The engine's writer (server/engine/writer.ts) on the real audit log and a LevelDB store:
 * one write at a time, the batches handed in meanwhile written together in order (the same
 * audit chain as one by one), and a failed write fails the batches of its epoch waiting
 * behind it, and those handed in later in that epoch, without writing them. The store's
 * writes are held and released by the test; nothing waits for time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../shared/model.js';
import { openAuditLog, type AuditLog } from '../../../server/audit/index.js';
import { GroupWriter } from '../../../server/engine/writer.js';
import { openStore, type Store, type StoreOp } from '../../../server/store/index.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup(): Promise<{ store: Store; audit: AuditLog; writer: GroupWriter; held: { ops: StoreOp[]; go: () => void; fail: (e: Error) => void }[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'owp-writer-'));
  const store = await openStore(dir);
  cleanup.push(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const audit = await openAuditLog(store);
  const real = store.batch.bind(store);
  const held: { ops: StoreOp[]; go: () => void; fail: (e: Error) => void }[] = [];
  store.batch = (ops) => new Promise<void>((resolve, reject) => held.push({ ops, go: () => void real(ops).then(resolve, reject), fail: reject }));
  return { store, audit, held, writer: new GroupWriter((events, ops) => audit.appendWith(events, ops)) };
}

const ev = (batch: number): AuditEvent[] => [{ kind: 'task-queued', at: 1, batch, actor: 'relay', taskId: `o/r#${batch}` }];
const op = (batch: number): StoreOp[] => [{ type: 'put', key: 'ledger/meta/x', value: batch }];

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}

describe('the engine writer', () => {
  it('writes the batches handed in during a write together, in order, after it, each told its own audit position', async () => {
    const { store, audit, writer, held } = await setup();
    const w1 = writer.write(0, ev(1), op(1));
    await until(() => held.length === 1);
    const w2 = writer.write(0, ev(2), op(2));
    // A batch with no events (heartbeats only) sits at the position of the entry before it.
    const quiet = writer.write(0, [], op(2));
    const w3 = writer.write(0, ev(3), op(3));
    held[0]!.go();
    const r1 = await w1;
    await until(() => held.length === 2);
    held[1]!.go();
    const [r2, rq, r3] = await Promise.all([w2, quiet, w3]);
    expect(held).toHaveLength(2);
    expect(writer.stats).toEqual({ batches: 4, writes: 2 });
    // The later batch's value wins, and the chain holds the events in batch order.
    expect(await store.get('ledger/meta/x')).toBe(3);
    expect(audit.head().seq).toBe(3);
    const entries = await audit.query({ since: 0 });
    expect(entries.map((e) => e.taskId)).toEqual(['o/r#1', 'o/r#2', 'o/r#3']);
    // Written together with batch 3, batch 2 is told its own last entry, not the head.
    const at = (i: number) => ({ audit: { seq: entries[i]!.seq, hash: entries[i]!.hash } });
    expect([r1, r2, rq, r3]).toEqual([at(0), at(1), at(1), at(2)]);
    expect((await audit.verify()).ok).toBe(true);
  });

  it('fails the batches of a failed write`s epoch without writing them; a later epoch writes', async () => {
    const { store, audit, writer, held } = await setup();
    const w1 = writer.write(0, ev(1), op(1));
    await until(() => held.length === 1);
    const w2 = writer.write(0, ev(2), op(2));
    held[0]!.fail(new Error('disk full'));
    await expect(w1).resolves.toMatchObject({ error: { message: 'disk full' } });
    await expect(w2).resolves.toMatchObject({ error: { message: 'disk full' } });
    // Decided on the failed state before the engine rolled back: refused too.
    await expect(writer.write(0, ev(3), op(3))).resolves.toMatchObject({ error: { message: 'disk full' } });
    expect(held).toHaveLength(1);
    const w4 = writer.write(1, ev(4), op(4));
    await until(() => held.length === 2);
    held[1]!.go();
    const r4 = await w4;
    expect(r4).toEqual({ audit: { seq: 1, hash: audit.head().hash } });
    expect(await store.get('ledger/meta/x')).toBe(4);
    expect((await audit.query({ since: 0 })).map((e) => e.taskId)).toEqual(['o/r#4']);
    expect((await audit.verify()).ok).toBe(true);
  });
});
