/**
 * The ledger's change log (server/store/postgres-ledger-log.ts) read by the follower's real
 * code (readFollowed with a feed, server/engine/follow.ts), on a private PostgreSQL: over
 * random histories of batches, a follower that reads after some batches and not others
 * (missed notes) always holds exactly the stored ledger, is told exactly what changed, and
 * reads only the entries the batches since its cursor touched. A follower behind the pruned
 * end of the log, or without a cursor, reads the whole ledger and is right again.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ledger } from '../../../shared/model.js';
import { AuditLog } from '../../../server/audit/index.js';
import { loadLedger, readFollowed, type LedgerFeed } from '../../../server/engine/follow.js';
import { ledgerOps, type LedgerDiff } from '../../../server/engine/ledger-diff.js';
import { createStore, decodeJson } from '../../../server/store/index.js';
import { openPostgresBackend, type PostgresBackend } from '../../../server/store/postgres.js';
import { ensureLedgerLog, logLedgerKeys, readLedgerChanges } from '../../../server/store/postgres-ledger-log.js';
import { toRawOp } from '../../../server/store/store.js';
import { fcOptions } from '../../helpers/fc.js';
import { startPostgres, type TestPostgres } from '../../helpers/postgres.js';

let pgc: TestPostgres;
let url = '';
let backend: PostgresBackend;
beforeAll(async () => {
  pgc = await startPostgres();
  url = await pgc.database();
  backend = await openPostgresBackend(url, { max: 4 });
  await ensureLedgerLog(backend.pool);
});
afterAll(async () => {
  await backend?.close();
  await pgc?.stop();
});

const empty = (): Ledger => ({ batch: 0, tasks: {}, workers: {}, outcomes: {} });

type Step = { read: true } | { tasks: Array<[string, number | null]>; workers: Array<[string, number | null]>; outcomes: string[] };

const ids = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h');
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.constant({ read: true as const }),
  fc.record({
    tasks: fc.array(fc.tuple(ids, fc.option(fc.nat(3), { nil: null })), { maxLength: 4 }),
    workers: fc.array(fc.tuple(ids, fc.option(fc.nat(3), { nil: null })), { maxLength: 2 }),
    outcomes: fc.array(fc.string({ minLength: 1, maxLength: 6 }), { maxLength: 3 }),
  }),
);

/** What a follower is told changed: every entry whose JSON differs (null: removed). */
function expectedDiff(prev: Ledger, next: Ledger): LedgerDiff {
  const d: LedgerDiff = { tasks: {}, workers: {}, outcomes: {} };
  const cmp = (a: Record<string, unknown>, b: Record<string, unknown>, out: Record<string, unknown>) => {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) out[k] = k in b ? b[k] : null;
    }
  };
  cmp(prev.tasks, next.tasks, d.tasks);
  cmp(prev.workers, next.workers, d.workers);
  cmp(prev.outcomes, next.outcomes, d.outcomes);
  return d;
}

const plain = (l: Ledger) => JSON.parse(JSON.stringify(l)) as Ledger;

/** A follower as the engine runs one: readFollowed with a feed over the change log, counting what it reads. */
function follower(keep: number) {
  const store = createStore(backend);
  const reads = { whole: 0, entries: [] as number[] };
  const feed: LedgerFeed = {
    async read(since) {
      const r = await readLedgerChanges(backend.pool, since);
      if (!r.entries) reads.whole += 1;
      else reads.entries.push(r.entries.length);
      return { cursor: r.cursor, entries: r.entries?.map(([k, v]): [string, unknown] => [k, v === undefined ? undefined : decodeJson(k, v)]) };
    },
  };
  let ledger = empty();
  let cursor: number | undefined;
  let batch = 0;
  let batches = 0;
  const touched = new Set<string>();
  return {
    reads,
    /** The arbiter's side: one fenced-like batch with its log row. */
    async write(s: Exclude<Step, { read: true }>) {
      batch += 1;
      batches += 1;
      const d: LedgerDiff = { tasks: {}, workers: {}, outcomes: {} };
      for (const [id, v] of s.tasks) d.tasks[id] = v === null ? null : ({ taskId: id, state: 'queued', fencingToken: v } as never);
      for (const [id, v] of s.workers) d.workers[id] = v === null ? null : ({ workerId: id, load: v } as never);
      for (const id of s.outcomes) d.outcomes[id] = { intentId: id, status: 'applied', batch } as never;
      const ops = ledgerOps(d, batch, batch * 1000).map(toRawOp);
      for (const op of ops) if (op.key !== 'ledger/meta') touched.add(op.key);
      await backend.batchChecked(ops, (c) => logLedgerKeys(c, ops, keep));
    },
    /** One follow; `entries`: how many entries it read (undefined: it read the whole ledger). */
    async read() {
      const prev = plain(ledger);
      const wholeBefore = reads.whole;
      const f = await readFollowed(store, await AuditLog.open(store), ledger, 0, { feed, cursor });
      ledger = f.ledger;
      cursor = f.cursor;
      expect(plain(ledger)).toEqual(plain(await loadLedger(store)));
      const entries = reads.whole === wholeBefore ? reads.entries.at(-1) : undefined;
      // What a read since the last one may read: the keys touched since, and ledger/meta if any batch ran.
      const out = { prev, next: plain(ledger), diff: f.diff, entries, expected: batches === 0 ? 0 : touched.size + 1 };
      touched.clear();
      batches = 0;
      return out;
    },
  };
}

async function clear(): Promise<void> {
  await backend.pool.query('DELETE FROM owp_kv');
  await backend.pool.query('TRUNCATE owp_ledger_log RESTART IDENTITY');
}

describe('the ledger change log', () => {
  it('a follower reading at any points holds the stored ledger, is told what changed, and reads only what changed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), async (steps) => {
        await clear();
        const f = follower(10_000);
        for (const s of [...steps, { read: true as const }]) {
          if (!('read' in s)) {
            await f.write(s);
            continue;
          }
          const r = await f.read();
          if (r.entries !== undefined) {
            // Told exactly what changed, having read the keys touched since and ledger/meta, no more.
            expect(r.diff).toEqual(expectedDiff(r.prev, r.next));
            expect(r.entries).toBe(r.expected);
          }
        }
        // Only the very first read (no cursor yet) was whole.
        expect(f.reads.whole).toBe(1);
      }),
      fcOptions(15),
    );
  });

  it('a follower behind the pruned end of the log reads the whole ledger, then only changes again', async () => {
    await clear();
    const f = follower(8);
    await f.write({ tasks: [['a', 1]], workers: [], outcomes: [] });
    expect((await f.read()).entries).toBeUndefined();
    for (let i = 0; i < 3; i++) await f.write({ tasks: [['b', i]], workers: [], outcomes: [`o${i}`] });
    const r = await f.read();
    expect(r.entries).toBe(5); // task b, three outcomes, meta
    expect(Object.keys(r.diff.outcomes).sort()).toEqual(['o0', 'o1', 'o2']);
    // Thirty batches while it reads nothing: the log keeps the last 8, so its cursor is gone.
    for (let i = 0; i < 30; i++) await f.write({ tasks: [[`t${i}`, i]], workers: [['w', i]], outcomes: [] });
    expect((await f.read()).entries).toBeUndefined();
    expect(f.reads.whole).toBe(2);
    await f.write({ tasks: [['t3', null]], workers: [], outcomes: ['late'] });
    const after = await f.read();
    expect(after.entries).toBe(3);
    expect(after.diff.tasks).toEqual({ t3: null });
    const rows = (await pgc.query('SELECT count(*)::int AS n FROM owp_ledger_log', [], url)) as { n: number }[];
    expect(rows[0]!.n).toBeLessThanOrEqual(8 + 1);
  });
});
