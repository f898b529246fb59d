/**
 * The stats index restored from its checkpoint (server/stats/checkpoint.ts) plus the audit
 * entries after it holds exactly what an index folded from scratch over the same entries
 * holds: the same facts (every field, in order), the same per-task memory, the same position.
 * And a checkpoint that is missing, malformed or does not fit the log is not used (the index
 * folds from scratch and says why), never trusted.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { auditKey, type AuditEntry } from '../../server/audit/index.js';
import { ARCHIVE_PREFIX } from '../../server/engine/plan.js';
import { STATS_CHECKPOINT_KEY, decodeCheckpoint, packCheckpoint, unpackCheckpoint } from '../../server/stats/checkpoint.js';
import { StatsIndex } from '../../server/stats/index.js';
import { openMemoryStore, type Store } from '../../server/store/index.js';
import type { AuditEvent, Board, Ledger } from '../../shared/model.js';
import { PR_CLOSED_REASON } from '../../shared/scheduler/leases.js';
import { fcOptions } from '../helpers/fc.js';

const NOW = Date.UTC(2026, 10, 27);
const RETENTION = 10_000_000;
const TASKS = ['a/b#1', 'a/b#2', 'a/c:x', 'a/c:y', 'old/one#5', 'old/two#6', 'gone/x#7'];
// On the board: the first four; archived: the next two; the last is known only by its id.
const board: Board = {
  tasks: Object.fromEntries(TASKS.slice(0, 4).map((id, i) => [id, { id, repo: id.slice(0, 3), title: id, points: i + 1, tier: (i % 4) as 0, createdAt: NOW - RETENTION + 5, priority: 0 }])) as never,
  repos: {},
  trust: {},
};
const ledger: Ledger = { batch: 0, tasks: {}, workers: {}, outcomes: {} };
const src = { board: () => board, ledger: () => ledger, now: () => NOW };

const event = fc.record({
  kind: fc.constantFrom('task-queued', 'lease-granted', 'lease-expired', 'pr-submitted', 'task-done', 'task-requeued', 'lease-released', 'task-failed', 'task-cancelled', 'worker-registered'),
  task: fc.option(fc.constantFrom(...TASKS), { nil: undefined, freq: 8 }),
  worker: fc.option(fc.constantFrom('w1', 'w2', 'w3'), { nil: undefined }),
  actor: fc.constantFrom('w1', 'maint'),
  from: fc.option(fc.constantFrom('queued', 'leased', 'pr_open'), { nil: undefined }),
  closed: fc.boolean(),
  step: fc.integer({ min: 0, max: 50_000 }),
});

/** Audit entries (seq from 1, a distinct hash each) of the generated events, `at` growing from `start`. */
function entriesOf(events: Array<typeof event extends fc.Arbitrary<infer T> ? T : never>, start: number): AuditEntry[] {
  let at = start;
  return events.map((e, i) => {
    at += e.step;
    const ev: AuditEvent = { kind: e.kind as AuditEvent['kind'], at, batch: i, actor: e.actor };
    if (e.task) ev.taskId = e.task;
    if (e.worker) ev.workerId = e.worker;
    if (e.from) ev.from = e.from as AuditEvent['from'];
    if (e.kind === 'task-requeued' && e.closed) ev.reason = PR_CLOSED_REASON;
    return { ...ev, seq: i + 1, prevHash: `h${i}`, hash: `h${i + 1}` };
  });
}

async function storeWith(entries: AuditEntry[]): Promise<Store> {
  const store = openMemoryStore();
  await store.batch([
    { type: 'put', key: ARCHIVE_PREFIX + 'old/one#5', value: { task: { repo: 'old/one', points: 8, tier: 2 } } },
    { type: 'put', key: ARCHIVE_PREFIX + 'old/two#6', value: { task: null, runtime: { repo: 'old/two' } } },
  ]);
  await append(store, entries);
  return store;
}

const append = (store: Store, entries: AuditEntry[]) => (entries.length ? store.batch(entries.map((e) => ({ type: 'put' as const, key: auditKey(e.seq), value: e }))) : Promise.resolve());

/** Everything the index holds, comparable: facts in order, memory by task, position. */
function contents(index: StatsIndex) {
  const cp = index.checkpoint()!;
  const state = decodeCheckpoint(JSON.parse(JSON.stringify(cp)) as unknown);
  if ('error' in state) throw new Error(state.error);
  const memory = Object.fromEntries([...state.state.memory].sort(([a], [b]) => (a < b ? -1 : 1)));
  return { facts: index.since(-Infinity), memory, seq: cp.seq, hash: cp.hash };
}

describe('stats index checkpoint', () => {
  it('restored from a checkpoint at any entry, then the later entries folded, equals the index folded from scratch', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(event, { maxLength: 60 }), fc.nat(), async (events, cut) => {
        const all = entriesOf(events, NOW - RETENTION + 1);
        const k = all.length === 0 ? 0 : cut % (all.length + 1);
        const scratch = await StatsIndex.open(await storeWith(all), src, { retentionMs: RETENTION });
        // The relay that wrote the checkpoint had folded the first k entries.
        const store = await storeWith(all.slice(0, k));
        const before = await StatsIndex.open(store, src, { retentionMs: RETENTION });
        // Stored packed, as the relay stores it (the next test stores JSON, as older relays did).
        await store.batch([{ type: 'put', key: STATS_CHECKPOINT_KEY, value: packCheckpoint(before.checkpoint()!), encoding: 'binary' }]);
        await append(store, all.slice(k));
        const warnings: string[] = [];
        const restored = await StatsIndex.open(store, src, { retentionMs: RETENTION, log: { info() {}, warn: (m) => warnings.push(m), error() {} } });
        expect(warnings).toEqual([]);
        expect(contents(restored)).toEqual(contents(scratch));
        // Encoding is lossless: every fact field, in order.
        expect(decodeCheckpoint(JSON.parse(JSON.stringify(scratch.checkpoint())) as unknown)).toMatchObject({ state: { facts: scratch.since(-Infinity) } });
        const packed = decodeCheckpoint(unpackCheckpoint(packCheckpoint(scratch.checkpoint()!)));
        expect(packed).toMatchObject({ state: { facts: scratch.since(-Infinity) } });
        if ('state' in packed) expect(Object.fromEntries(packed.state.memory)).toEqual(contents(scratch).memory);
      }),
      fcOptions(150),
    );
  });

  it('restored across the retention cutoff, equals the index that never restarted', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(event, { maxLength: 60 }), fc.nat(), async (events, cut) => {
        // The entries span about twice the window: the cutoff falls among them.
        // A live relay folds a task's events while it is on the board (archived tasks left it
        // later): the archive lookup of a start has no live counterpart, so no archived tasks here.
        const all = entriesOf(events.filter((e) => !e.task?.startsWith('old/')), NOW - 2 * RETENTION + 1).map((e, i, a) => ({ ...e, at: NOW - 2 * RETENTION + Math.floor((2 * RETENTION * (i + 1)) / (a.length + 1)) }));
        const k = cut % (all.length + 1);
        const store = await storeWith(all.slice(0, k));
        const live = await StatsIndex.open(store, src, { retentionMs: RETENTION });
        await store.put(STATS_CHECKPOINT_KEY, live.checkpoint());
        await append(store, all.slice(k));
        live.ingest(all.slice(k), { seq: all.length, hash: `h${all.length}` });
        const restored = await StatsIndex.open(store, src, { retentionMs: RETENTION });
        expect(restored.since(NOW - RETENTION)).toEqual(live.since(NOW - RETENTION));
        expect(contents(restored).seq).toBe(all.length);
        for (const id of TASKS) expect(restored.prOpenedAt(id)).toBe(live.prOpenedAt(id));
      }),
      fcOptions(100),
    );
  });

  it('is not used when missing, malformed, of another window or not matching the log: the index folds from scratch and says why', async () => {
    const all = entriesOf(
      Array.from({ length: 20 }, (_, i) => ({ kind: i % 2 ? 'task-done' : 'lease-granted', task: TASKS[i % TASKS.length], worker: 'w1', actor: 'w1', from: 'leased', closed: false, step: 1000 })),
      NOW - 100_000,
    );
    const store = await storeWith(all);
    const scratch = await StatsIndex.open(store, src, { retentionMs: RETENTION });
    const good = scratch.checkpoint()!;
    const cases: Array<[unknown, RegExp]> = [
      ['garbage', /not an object/],
      [{ ...good, v: 99 }, /version/],
      [{ ...good, facts: good.facts.slice(1) }, /truncated/],
      [{ ...good, facts: good.facts.map((n, i) => (i === 2 ? 1e9 : n)) }, /bad reference/],
      [{ ...good, retentionMs: RETENTION + 1 }, /window/],
      [{ ...good, hash: 'another log' }, /not the one it covers/],
      [{ ...good, seq: all.length + 5 }, /not the one it covers/],
    ];
    const packed = packCheckpoint(good);
    const binary: Array<[Uint8Array, RegExp]> = [
      [packed.subarray(0, packed.length - 8), /wrong length/],
      [packCheckpoint({ ...good, seq: all.length + 5 }), /not the one it covers/],
      [new Uint8Array([1, 2]), /unreadable|JSON/],
    ];
    for (const [value, reason] of [...cases, ...binary]) {
      if (value instanceof Uint8Array) await store.batch([{ type: 'put', key: STATS_CHECKPOINT_KEY, value, encoding: 'binary' }]);
      else await store.put(STATS_CHECKPOINT_KEY, value);
      const warnings: Array<{ m: string; reason: unknown }> = [];
      const index = await StatsIndex.open(store, src, { retentionMs: RETENTION, log: { info() {}, warn: (m, f) => warnings.push({ m, reason: f?.reason }), error() {} } });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.m).toMatch(/folding the audit window from scratch/);
      expect(String(warnings[0]!.reason)).toMatch(reason);
      expect(contents(index)).toEqual(contents(scratch));
    }
    await store.del(STATS_CHECKPOINT_KEY);
    const warnings: string[] = [];
    const index = await StatsIndex.open(store, src, { retentionMs: RETENTION, log: { info() {}, warn: (m) => warnings.push(m), error() {} } });
    expect(warnings).toEqual([]);
    expect(contents(index)).toEqual(contents(scratch));
  });
});
