/**
 * Properties of a rotation (fast-check, fixed seed): for any history of sets, replacements and
 * deletions (plain values and task-like nested maps), the rebuilt document's content equals
 * the original's, it carries no client id of the retired generation, it is never larger than
 * the original; and edits made on a stale copy after the rotation are exactly what
 * `unsyncedEdits` carries over. For the ledger: a rotated document still equals the engine's
 * projection written by resetLedgerDoc.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { reapplyEdits, retiredOf, ROTATION_ROOT, unsyncedEdits } from '../../../shared/doc-rotation.js';
import type { Ledger, TaskRuntime } from '../../../shared/model.js';
import { resetLedgerDoc } from '../../../server/engine/ledger-diff.js';
import { GENESIS, rebuildDoc, retire, staleClients } from '../../../server/sync/rotation.js';
import { fcOptions } from '../../helpers/fc.js';

type Op = { kind: 'set'; key: number; value: number } | { kind: 'nested'; key: number; field: number; value: number } | { kind: 'del'; key: number } | { kind: 'push'; value: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), key: fc.nat(12), value: fc.integer() }),
  fc.record({ kind: fc.constant('nested' as const), key: fc.nat(12), field: fc.nat(4), value: fc.integer() }),
  fc.record({ kind: fc.constant('del' as const), key: fc.nat(12) }),
  fc.record({ kind: fc.constant('push' as const), value: fc.integer() }),
);

function play(doc: Y.Doc, ops: readonly Op[]): void {
  const plain = doc.getMap<unknown>('plain');
  const tasks = doc.getMap<unknown>('tasks');
  const recent = doc.getArray<unknown>('recent');
  for (const o of ops) {
    doc.transact(() => {
      if (o.kind === 'set') plain.set(`p${o.key}`, { v: o.value });
      else if (o.kind === 'del') {
        plain.delete(`p${o.key}`);
        tasks.delete(`t${o.key}`);
      } else if (o.kind === 'push') recent.push([o.value]);
      else {
        let m = tasks.get(`t${o.key}`);
        if (!(m instanceof Y.Map)) tasks.set(`t${o.key}`, (m = new Y.Map<unknown>()));
        (m as Y.Map<unknown>).set(`f${o.field}`, o.value);
      }
    });
  }
}

const content = (doc: Y.Doc) => ({ plain: doc.getMap('plain').toJSON(), tasks: doc.getMap('tasks').toJSON(), recent: doc.getArray('recent').toJSON() });

describe('rotation properties', () => {
  it('a rebuilt document has the same content, no retired client id, and is no larger', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const doc = new Y.Doc();
        play(doc, ops);
        const next = { generation: 1, retired: retire(GENESIS.retired, doc) };
        // Loaded from bytes, as the relay loads it: root types nobody asked for yet.
        const loaded = new Y.Doc();
        Y.applyUpdate(loaded, Y.encodeStateAsUpdate(doc));
        const fresh = rebuildDoc(loaded, next);
        expect(content(fresh)).toEqual(content(doc));
        expect(fresh.getMap(ROTATION_ROOT).get('generation')).toBe(1);
        expect(staleClients(Y.encodeStateVector(fresh), retiredOf(fresh))).toEqual([]);
        expect(staleClients(Y.encodeStateVector(doc), retiredOf(fresh)).length).toBe(Y.decodeStateVector(Y.encodeStateVector(doc)).size);
        // The rotation root costs a few dozen bytes; the history it drops is usually far more.
        expect(Y.encodeStateAsUpdate(fresh).byteLength).toBeLessThanOrEqual(Y.encodeStateAsUpdate(doc).byteLength + 64);
      }),
      fcOptions(150),
    );
  });

  it('edits made on a stale copy after the rotation are carried over exactly (deletions aside)', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), fc.array(op, { maxLength: 20 }), (before, offline) => {
        const relay = new Y.Doc();
        play(relay, before);
        const client = new Y.Doc();
        Y.applyUpdate(client, Y.encodeStateAsUpdate(relay));
        const fresh = rebuildDoc(relay, { generation: 1, retired: retire(GENESIS.retired, relay) });
        const edits = offline.filter((o) => o.kind === 'set' || o.kind === 'nested');
        play(client, edits);
        const copy = new Y.Doc();
        Y.applyUpdate(copy, Y.encodeStateAsUpdate(fresh));
        reapplyEdits(copy, unsyncedEdits(client, retiredOf(copy)), 'test', (root) => root === 'tasks');
        expect(content(copy)).toEqual(content(client));
      }),
      fcOptions(150),
    );
  });

  it('a rotated ledger equals the projection resetLedgerDoc wrote', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(20), fc.constantFrom('queued', 'leased', 'done')), { maxLength: 60 }), (steps) => {
        const doc = new Y.Doc();
        const ledger: Ledger = { batch: 0, tasks: {}, workers: {}, outcomes: {} };
        for (const [i, state] of steps) {
          ledger.batch++;
          if (state === 'done' && i % 3 === 0) delete ledger.tasks[`t${i}`];
          else ledger.tasks[`t${i}`] = { taskId: `t${i}`, state, attempt: 1, fencingToken: ledger.batch } as unknown as TaskRuntime;
          resetLedgerDoc(doc, ledger, ledger.batch);
        }
        const fresh = rebuildDoc(doc, { generation: 1, retired: retire(GENESIS.retired, doc) });
        expect(fresh.getMap('tasks').toJSON()).toEqual(ledger.tasks);
        expect(fresh.getMap('meta').get('batch') ?? 0).toBe(ledger.batch);
      }),
      fcOptions(100),
    );
  });
});
