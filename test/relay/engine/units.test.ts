/**
 * The engine's pure parts on real Y.Docs: ledger diff/persist/doc helpers and the board view.
 */
import fc from 'fast-check';
import * as Y from 'yjs';
import { describe, expect, it } from 'vitest';
import { fcOptions } from '../../helpers/fc.js';
import type { AuditEvent, Ledger, TaskRuntime } from '../../../shared/model.js';
import { BoardView } from '../../../server/engine/board.js';
import { applyToLedgerDoc, diffLedger, ledgerFromEntries, ledgerOps, resetLedgerDoc, RECENT_MAX, sameJson } from '../../../server/engine/ledger-diff.js';

const rt = (id: string, state: TaskRuntime['state'] = 'queued'): TaskRuntime => ({
  taskId: id,
  repo: 'o/r',
  state,
  attempt: 0,
  fencingToken: 0,
  queuedAt: 1,
  updatedAt: 1,
});

/** JSON text with object keys sorted: equal exactly when the values are equal as JSON. */
const sortedJson = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x));

describe('sameJson (the ledger doc writes an entry only when it changed)', () => {
  it('says equal exactly when the values are equal as JSON, whatever the key order; undefined fields count as absent', () => {
    const leaf = fc.oneof(fc.constantFrom('a', 'b', ''), fc.integer({ min: -2, max: 2 }), fc.boolean(), fc.constant(null), fc.constant(undefined));
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(fc.constantFrom('x', 'y', 'z'), tie('v'), { maxKeys: 3 })),
    })).v;
    const shuffled = (v: unknown): unknown => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, shuffled(x)])) : Array.isArray(v) ? v.map(shuffled) : v);
    fc.assert(
      fc.property(value, value, (a, b) => {
        // Inside objects; a top-level undefined is not a ledger entry.
        const x = { e: a };
        const y = { e: b };
        expect(sameJson(x, y)).toBe(sortedJson(x) === sortedJson(y));
        expect(sameJson(x, shuffled(x))).toBe(true);
      }),
      fcOptions(400),
    );
    expect(sameJson({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(sameJson({ a: [1, 2] }, { a: { 0: 1, 1: 2 } })).toBe(false);
    expect(sameJson({ a: [undefined] }, { a: [null] })).toBe(true);
  });
});

describe('ledger sync', () => {
  it('diffs by reference (copy-on-write), persists as ops, and reads back the same ledger', () => {
    const t0 = rt('t0');
    const a: Ledger = { batch: 1, tasks: { t0, t1: rt('t1'), t2: rt('t2') }, workers: {}, outcomes: {} };
    const b: Ledger = { batch: 2, tasks: { t0, t1: { ...rt('t1'), attempt: 1 }, t3: rt('t3', 'leased') }, workers: {}, outcomes: {} };
    const d = diffLedger(a, b);
    expect(d.tasks).toEqual({ t1: b.tasks.t1, t2: null, t3: b.tasks.t3 });
    const ops = ledgerOps(d, 2, 99);
    expect(ops.map((o) => `${o.type} ${o.key}`).sort()).toEqual(['del ledger/task/t2', 'put ledger/meta', 'put ledger/task/t1', 'put ledger/task/t3']);
    const stored = new Map<string, unknown>([
      ['ledger/task/t0', t0],
      ['ledger/task/t1', a.tasks.t1],
      ['ledger/task/t2', a.tasks.t2],
    ]);
    for (const o of ops) if (o.type === 'put') stored.set(o.key, o.value);
    else stored.delete(o.key);
    expect(ledgerFromEntries(stored)).toEqual({ batch: 2, tasks: b.tasks, workers: {}, outcomes: {} });
  });

  it('applies a batch in one transaction and keeps only the last 100 recent events', () => {
    const doc = new Y.Doc();
    let updates = 0;
    doc.on('update', () => updates++);
    const events: AuditEvent[] = Array.from({ length: 150 }, (_, i) => ({ kind: 'task-queued', at: i, batch: 1, actor: 'scheduler', taskId: `t${i}` }));
    applyToLedgerDoc(doc, { tasks: { t1: rt('t1') }, workers: {}, outcomes: {} }, 1, 5, events);
    expect(updates).toBe(1);
    const recent = doc.getArray('recent').toArray() as AuditEvent[];
    expect(recent).toHaveLength(RECENT_MAX);
    expect(recent[RECENT_MAX - 1].taskId).toBe('t149');
    expect(doc.getMap('meta').get('batch')).toBe(1);
    // the same values again change nothing in the document
    const before = Y.encodeStateVector(doc);
    applyToLedgerDoc(doc, { tasks: { t1: rt('t1') }, workers: {}, outcomes: {} }, 1, 6, []);
    expect(Y.encodeStateVector(doc)).toEqual(before);
  });

  it('reset makes the doc match the ledger exactly', () => {
    const doc = new Y.Doc();
    doc.getMap('tasks').set('stale', rt('stale'));
    resetLedgerDoc(doc, { batch: 7, tasks: { t1: rt('t1') }, workers: {}, outcomes: {} }, 1);
    expect([...doc.getMap('tasks').keys()]).toEqual(['t1']);
    expect(doc.getMap('meta').get('batch')).toBe(7);
  });
});

describe('board view', () => {
  it('upserts idempotently, keeps fields an upsert does not state, and lists invalid tasks without deleting them', () => {
    const doc = new Y.Doc();
    const board = new BoardView(doc);
    const r1 = board.upsertTasks([{ id: 'o/r#1', repo: 'o/r', title: 'One', createdAt: 5 }], 10);
    expect(r1.added).toEqual(['o/r#1']);
    board.patchTask('o/r#1', { held: true, priority: 3 });
    let updates = 0;
    doc.on('update', () => updates++);
    const r2 = board.upsertTasks([{ id: 'o/r#1', repo: 'o/r', title: 'One' }], 20);
    expect(r2.unchanged).toEqual(['o/r#1']);
    expect(updates).toBe(0); // a re-import writes and broadcasts nothing
    expect(board.board().tasks['o/r#1']).toMatchObject({ held: true, priority: 3, createdAt: 5 });
    // a client writes a broken field: the task leaves the board view, the map stays
    (doc.getMap('tasks').get('o/r#1') as Y.Map<unknown>).set('points', -4);
    expect(board.board().tasks['o/r#1']).toBeUndefined();
    expect(board.invalidTasks()).toEqual([expect.objectContaining({ taskId: 'o/r#1', field: 'points' })]);
    expect(doc.getMap('tasks').has('o/r#1')).toBe(true);
    // all or nothing: one bad input writes none
    expect(() => board.upsertTasks([{ id: 'o/r#2', repo: 'o/r', title: 'Two' }, { id: 'o/r#3', repo: 'bad', title: 'x' }], 1)).toThrow(/repo/);
    expect(doc.getMap('tasks').has('o/r#2')).toBe(false);
  });

  it('tells listeners which tasks changed', () => {
    const board = new BoardView(new Y.Doc());
    const seen: string[] = [];
    board.onChange((d) => seen.push(...Object.keys(d.tasks)));
    board.upsertTasks([{ id: 'a/b#1', repo: 'a/b', title: 'x' }], 1);
    board.patchTask('a/b#1', { title: 'y' });
    expect(seen).toEqual(['a/b#1', 'a/b#1']);
    expect(() => board.patchTask('nope', { title: 'z' })).toThrow(/No task nope/);
  });
});
