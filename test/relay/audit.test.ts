/**
 * The audit log: hash-chained append, query filters, prepare/commit inside a caller's atomic
 * batch, and verify() catching an edited, removed, reordered or truncated log in LevelDB.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUDIT_HEAD_KEY, AuditLog, auditKey, GENESIS_HASH, hashEntry, type AuditEntry } from '../../server/audit/index.js';
import { openStore, type Store } from '../../server/store/index.js';
import type { AuditEvent } from '../../shared/model.js';
import { closeTempStore, openTempStore } from '../helpers/sync-harness.js';

let dir: string;
let store: Store;
let log: AuditLog;

beforeEach(async () => {
  ({ dir, store } = await openTempStore());
  log = await AuditLog.open(store);
});
afterEach(() => closeTempStore(dir, store));

const ev = (i: number, over: Partial<AuditEvent> = {}): AuditEvent => ({
  kind: 'lease-granted',
  at: 1_000 + i,
  batch: i,
  actor: 'relay',
  taskId: `acme/app#${i % 3}`,
  workerId: i % 2 ? 'w1' : 'w2',
  fencingToken: i,
  ...over,
});

async function fill(n: number) {
  for (let i = 1; i <= n; i++) await log.append([ev(i)]);
}

describe('audit log', () => {
  it('chains entries: seq from 1, each hash covering the one before', async () => {
    const [a, b] = await log.append([ev(1), ev(2, { kind: 'claim-rejected', code: 'capacity-exceeded', reason: 'full' })]);
    expect(a).toMatchObject({ seq: 1, prevHash: GENESIS_HASH, kind: 'lease-granted', taskId: 'acme/app#1', fencingToken: 1 });
    expect(b).toMatchObject({ seq: 2, prevHash: a.hash, code: 'capacity-exceeded', reason: 'full' });
    expect(hashEntry(b)).toBe(b.hash);
    expect(b.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await store.get(auditKey(2))).toEqual(b);
    expect(await log.verify()).toEqual({ ok: true, entries: 2 });
  });

  it('every field an event may carry, nested values included, hashes as the verifier hashes it', () => {
    const full: AuditEvent = {
      ...ev(7),
      intentId: 'i-1',
      from: 'queued',
      to: 'leased',
      code: 'conflict',
      reason: 'why "quoted" \u00e9',
      before: { b: [1, { z: null, a: 'x' }], a: true } as unknown as AuditEvent['before'],
      after: { priority: 3 } as unknown as AuditEvent['after'],
      repo: 'acme/app',
    };
    const { entries } = log.prepare([full, ev(8), { kind: 'lease-expired', at: 5, batch: 2 } as AuditEvent]);
    for (const e of entries) expect(e.hash).toBe(hashEntry(e));
    expect(Object.keys(entries[0]!)).toEqual(['seq', 'prevHash', 'kind', 'at', 'batch', 'actor', 'taskId', 'workerId', 'intentId', 'from', 'to', 'code', 'reason', 'fencingToken', 'before', 'after', 'repo', 'hash']);
  });

  it('prepare does no I/O and moves nothing until commit; a failed batch leaves the head alone', async () => {
    await fill(2);
    const head = log.head();
    const { ops, entries } = log.prepare([ev(3)]);
    expect(await store.get(auditKey(3))).toBeUndefined();
    expect(log.head()).toEqual(head);
    // The engine's batch fails (one bad op): nothing lands, the head stays.
    await expect(store.batch([...ops, { type: 'put', key: 'ledger/meta' }])).rejects.toThrow();
    expect(await store.get(auditKey(3))).toBeUndefined();
    // Retry with the ledger op fixed.
    const again = log.prepare([ev(3)]);
    expect(again.entries).toEqual(entries);
    await store.batch([...again.ops, { type: 'put', key: 'ledger/meta', value: { batch: 3 } }]);
    log.commit(again.entries);
    expect(log.head()).toEqual({ seq: 3, hash: again.entries[0].hash });
    expect(() => log.commit(again.entries)).toThrow(/out of order/);
    expect(await log.verify()).toEqual({ ok: true, entries: 3 });
  });

  it('continues the chain after a reopen', async () => {
    await fill(3);
    await store.close();
    store = await openStore(join(dir, 'db'));
    log = await AuditLog.open(store);
    const [e] = await log.append([ev(4)]);
    expect(e.seq).toBe(4);
    expect(await log.verify()).toEqual({ ok: true, entries: 4 });
  });

  it('queries by task, worker, seq and time, newest window by default, oldest first', async () => {
    await fill(10);
    expect((await log.query()).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect((await log.query({ limit: 3 })).map((e) => e.seq)).toEqual([8, 9, 10]);
    expect((await log.query({ since: 7 })).map((e) => e.seq)).toEqual([8, 9, 10]);
    expect((await log.query({ since: 2, limit: 2 })).map((e) => e.seq)).toEqual([3, 4]);
    expect((await log.query({ task: 'acme/app#0' })).map((e) => e.seq)).toEqual([3, 6, 9]);
    expect((await log.query({ worker: 'w1', limit: 2 })).map((e) => e.seq)).toEqual([7, 9]);
    expect((await log.query({ sinceAt: 1_009 })).map((e) => e.seq)).toEqual([9, 10]);
    expect((await log.query({ task: 'acme/app#1', since: 4 })).map((e) => e.seq)).toEqual([7, 10]);
  });

  describe('verify detects tampering in LevelDB', () => {
    beforeEach(() => fill(5));

    it('an edited entry (hash left as it was)', async () => {
      const e = (await store.get<AuditEntry>(auditKey(3)))!;
      await store.put(auditKey(3), { ...e, workerId: 'mallory' });
      expect(await log.verify()).toMatchObject({ ok: false, brokenAt: 3 });
    });

    it('an edited entry with its own hash recomputed (the next link breaks)', async () => {
      const e = (await store.get<AuditEntry>(auditKey(3)))!;
      const forged = { ...e, reason: 'nothing to see' };
      forged.hash = hashEntry(forged);
      await store.put(auditKey(3), forged);
      expect(await log.verify()).toMatchObject({ ok: false, brokenAt: 4 });
    });

    it('a removed entry', async () => {
      await store.del(auditKey(2));
      expect(await log.verify()).toMatchObject({ ok: false, brokenAt: 2 });
    });

    it('a removed last entry', async () => {
      await store.del(auditKey(5));
      expect(await log.verify()).toMatchObject({ ok: false, brokenAt: 5 });
    });

    it('two entries swapped', async () => {
      const a = await store.get<AuditEntry>(auditKey(2));
      const b = await store.get<AuditEntry>(auditKey(4));
      await store.batch([
        { type: 'put', key: auditKey(2), value: b },
        { type: 'put', key: auditKey(4), value: a },
      ]);
      expect(await log.verify()).toMatchObject({ ok: false, brokenAt: 2 });
    });

    it('an entry moved to another key and renumbered', async () => {
      const e = (await store.get<AuditEntry>(auditKey(4)))!;
      await store.batch([
        { type: 'del', key: auditKey(4) },
        { type: 'put', key: auditKey(6), value: { ...e, seq: 6 } },
        { type: 'put', key: AUDIT_HEAD_KEY, value: { seq: 6, hash: e.hash } },
      ]);
      expect(await log.verify()).toMatchObject({ ok: false, brokenAt: 4 });
    });

    it('an untouched log verifies', async () => {
      expect(await log.verify()).toEqual({ ok: true, entries: 5 });
    });
  });
});

describe('audit indexes', () => {
  it('are only a lookup aid: a bent index entry does not make a query return the wrong entry', async () => {
    await fill(6);
    // point the index of task acme/app#0 at seq 1 (which is about acme/app#1)
    await store.put(`audit-idx/task/${encodeURIComponent('acme/app#0')}/${'0'.repeat(11)}1`, 1);
    expect((await log.query({ task: 'acme/app#0' })).map((e) => e.seq)).toEqual([3, 6]);
    expect(await log.verify()).toEqual({ ok: true, entries: 6 });
  });
});

describe('audit index keys', () => {
  it('a task id with a lone surrogate (refused by the model) cannot throw inside a batch', async () => {
    const [e] = await log.append([ev(1, { taskId: 'bad\ud800' })]);
    expect(e.seq).toBe(1);
    expect((await log.query({ task: 'bad\ud800' })).map((x) => x.seq)).toEqual([1]);
    expect((await log.verify()).ok).toBe(true);
  });
});
