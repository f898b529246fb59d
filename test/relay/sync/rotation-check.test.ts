/**
 * When the DocStore pays for a rotation check (a fresh rebuild of the whole document): only
 * once the garbage measured at the last check plus what may have been added since passes the
 * floor and the factor times the largest fresh size seen (server/sync/doc-compaction.ts), not
 * for every floor's worth of logged bytes; and rotation still happens when the garbage is due.
 * A real LevelDB; the DocStore's own debug log line tells a check.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { LEDGER_DOC } from '../../../shared/protocol.js';
import type { Logger } from '../../../server/ports.js';
import type { Store } from '../../../server/store/index.js';
import { DocStore } from '../../../server/sync/docstore.js';
import { garbageOf, GENESIS, rebuildDoc, type RotationPolicy } from '../../../server/sync/rotation.js';
import { fcOptions } from '../../helpers/fc.js';
import { closeTempStore, openTempStore } from '../../helpers/sync-harness.js';

let dir: string;
let store: Store;
beforeEach(async () => {
  ({ dir, store } = await openTempStore());
});
afterEach(() => closeTempStore(dir, store));

/** A logger that counts the DocStore's rotation checks. */
function counting(): Logger & { checks: number } {
  const log = { checks: 0, info: () => undefined, warn: () => undefined, error: () => undefined };
  return Object.assign(log, {
    debug(msg: string) {
      if (msg === 'rotation check') log.checks++;
    },
  });
}

const POLICY: RotationPolicy = { docs: [LEDGER_DOC], minGarbageBytes: 4096, garbageFactor: 0.25 };
const encoded = (doc: Y.Doc) => Y.encodeStateAsUpdate(doc).byteLength;
const freshSize = (doc: Y.Doc) => encoded(rebuildDoc(doc, GENESIS));

describe('rotation checks', () => {
  it('a large live document is not rebuilt for every floor of logged bytes, and rotates once its garbage is due', async () => {
    const log = counting();
    const docs = new DocStore(store, { compactEvery: 1e9, log }); // no compaction by count: only the checks
    const doc = await docs.get(LEDGER_DOC);
    const tasks = doc.getMap<unknown>('tasks');
    for (let i = 0; i < 400; i++) doc.transact(() => tasks.set(`t${i}`, { state: 'queued', body: 'x'.repeat(500) }), 'relay');
    await docs.flush();
    docs.enableRotation(POLICY); // checks the loaded doc once: no garbage yet
    await docs.flush();
    expect(log.checks).toBe(1);
    const live = freshSize(doc);
    expect(live).toBeGreaterThan(200_000);

    // New live content: far past the 4 KiB floor, under a quarter of the live size. No rebuild.
    for (let i = 400; i < 460; i++) doc.transact(() => tasks.set(`t${i}`, { state: 'queued', body: 'y'.repeat(500) }), 'relay');
    await docs.flush();
    expect(log.checks).toBe(1);
    expect(docs.generation(LEDGER_DOC)).toBe(0);

    // Garbage: finished tasks come and go (created, then archived) until it is due; the rotation
    // happens and keeps the content.
    const model = tasks.toJSON();
    let rounds = 0;
    for (; rounds < 40 && docs.generation(LEDGER_DOC) === 0; rounds++) {
      const d = docs.peek(LEDGER_DOC)!;
      const live = d.getMap<unknown>('tasks');
      for (let i = 0; i < 200; i++) d.transact(() => live.set(`archived-task-${rounds}-${i}`, 'done'), 'relay');
      for (let i = 0; i < 200; i++) d.transact(() => live.delete(`archived-task-${rounds}-${i}`), 'relay');
      await docs.flush();
    }
    expect(docs.generation(LEDGER_DOC)).toBe(1);
    const rotated = docs.peek(LEDGER_DOC)!;
    expect(rotated.getMap('tasks').toJSON()).toEqual(model);
    // Checked a few times on the way (about once per quarter of the live size), not per 4 KiB
    // logged: each round logs more than 4 KiB, and there were fewer checks than rounds.
    expect(log.checks).toBeGreaterThan(1);
    expect(log.checks).toBeLessThan(rounds);
    await docs.close();
  });

  it('property: the garbage never passes the bound (floor, factor times the peak live size) by more than a floor and a batch', async () => {
    let run = 0;
    const op = fc.record({ kind: fc.constantFrom('set', 'set', 'delete'), key: fc.integer({ min: 0, max: 60 }), size: fc.integer({ min: 10, max: 200 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(op, { minLength: 1, maxLength: 30 }), { minLength: 5, maxLength: 20 }), async (batches) => {
        const name = `owp/ledger-${run++}`; // one document per run, in the same store
        const policy: RotationPolicy = { docs: [name], minGarbageBytes: 2048, garbageFactor: 0.25 };
        const docs = new DocStore(store, { compactEvery: 1e9 });
        docs.enableRotation(policy);
        const model: Record<string, unknown> = {};
        let peak = 0;
        let generation = 0;
        try {
          for (const batch of batches) {
            let batchBytes = 0;
            const doc = await docs.get(name);
            for (const o of batch) {
              const d = docs.peek(name) ?? doc;
              const tasks = d.getMap<unknown>('tasks');
              const before = encoded(d);
              if (o.kind === 'set') {
                model[`t${o.key}`] = 'v'.repeat(o.size);
                d.transact(() => tasks.set(`t${o.key}`, 'v'.repeat(o.size)), 'relay');
              } else if (`t${o.key}` in model) {
                delete model[`t${o.key}`];
                d.transact(() => tasks.delete(`t${o.key}`), 'relay');
              }
              batchBytes += Math.abs(encoded(d) - before) + 64;
            }
            await docs.flush();
            const now = docs.peek(name)!;
            if (docs.generation(name) !== generation) {
              generation = docs.generation(name);
              peak = 0;
            }
            const fresh = freshSize(now);
            peak = Math.max(peak, fresh);
            const garbage = encoded(now) - fresh;
            expect(now.getMap('tasks').toJSON()).toEqual(model);
            expect(garbage).toBeLessThanOrEqual(Math.max(policy.minGarbageBytes, policy.garbageFactor * peak) + policy.minGarbageBytes + batchBytes);
          }
        } finally {
          await docs.close();
        }
      }),
      fcOptions(12),
    );
  });

  it('property: the garbage estimate errs high, and by less than 3 times (plus 64 bytes), on map histories like the board and the ledger', () => {
    // Plain values and nested maps (a board task's fields) set, replaced and deleted, one transaction per batch.
    const op = fc.record({
      kind: fc.constantFrom('plain', 'nested', 'field', 'delete'),
      key: fc.integer({ min: 0, max: 40 }),
      field: fc.constantFrom('state', 'title', 'worker'),
      size: fc.integer({ min: 1, max: 60 }),
    });
    fc.assert(
      fc.property(fc.array(fc.array(op, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 60 }), (batches) => {
        const doc = new Y.Doc();
        const tasks = doc.getMap<unknown>('tasks');
        // The rebuild with the doc's own client id: a random one's varint length would show as garbage.
        const garbage = () => encoded(doc) - encoded(rebuildDoc(doc, GENESIS, doc.clientID));
        tasks.set('seed', 1); // the client's struct group exists in both: no per-client header difference
        const start = garbage();
        let estimate = 0;
        doc.on('update', (u: Uint8Array, _o: unknown, _d: Y.Doc, tr: Y.Transaction) => void (estimate += garbageOf(tr, u)));
        for (const batch of batches) {
          doc.transact(() => {
            for (const o of batch) {
              const key = `o/repo#${o.key}`;
              const cur = tasks.get(key);
              if (o.kind === 'plain') tasks.set(key, { state: 'v'.repeat(o.size) });
              else if (o.kind === 'nested') tasks.set(key, new Y.Map<unknown>([['title', 't'.repeat(o.size)]]));
              else if (o.kind === 'field' && cur instanceof Y.Map) cur.set(o.field, 'f'.repeat(o.size));
              else if (o.kind === 'delete') tasks.delete(key);
            }
          });
        }
        const real = garbage() - start;
        expect(estimate).toBeGreaterThanOrEqual(real);
        expect(estimate).toBeLessThanOrEqual(3 * Math.max(0, real) + 64);
      }),
      fcOptions(200),
    );
  });
});
