/**
 * Determinism: the audit log of batches replays to the same decisions and ledger, byte for
 * byte, and the key order of the input objects never changes a decision.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fnv1a32, schedule } from '../../shared/scheduler/index.js';
import { emptyLedger, type Board, type Intent, type PoolState } from '../../shared/model.js';
import { canonical } from '../helpers/scheduler-fixtures.js';
import { fcOptions, runWorld, stepsArb, worldArb } from '../helpers/scheduler-arbitraries.js';

interface Recorded {
  board: Board;
  intents: Intent[];
  now: number;
}

/** Rebuild every plain object with its keys in a seed-dependent shuffled order (deep). */
function permuteKeys<T>(v: T, seed: number, depth = 99): T {
  if (Array.isArray(v)) return v.map((x) => permuteKeys(x, seed, depth)) as T;
  if (!v || typeof v !== 'object' || depth === 0) return v;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort((a, b) => fnv1a32(`${seed}:${a}`) - fnv1a32(`${seed}:${b}`) || (a < b ? -1 : 1));
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = permuteKeys(o[k], seed, depth - 1);
  return out as T;
}

describe('determinism', () => {
  it('replaying recorded batches from an empty ledger gives byte-identical decisions and ledger', () => {
    fc.assert(
      fc.property(worldArb, stepsArb(10), (world, steps) => {
        const log: Recorded[] = [];
        const decisions: string[] = [];
        const final = runWorld(world, steps, ({ before, intents, now, result }) => {
          log.push({ board: before.board, intents, now });
          decisions.push(JSON.stringify({ outcomes: result.outcomes, events: result.events }));
        });
        // replay: only the recorded inputs, from an empty ledger
        let state: PoolState = { board: log[0]!.board, profiles: final.profiles, ledger: emptyLedger() };
        const replayed: string[] = [];
        for (const rec of JSON.parse(JSON.stringify(log)) as Recorded[]) {
          const r = schedule({ ...state, board: rec.board }, rec.intents, rec.now);
          replayed.push(JSON.stringify({ outcomes: r.outcomes, events: r.events }));
          state = { ...state, board: rec.board, ledger: r.ledger };
        }
        expect(replayed).toEqual(decisions);
        expect(JSON.stringify(state.ledger)).toBe(JSON.stringify(final.ledger));
      }),
      fcOptions(600),
    );
  });

  it('permuting the key insertion order of the input state does not change the output', () => {
    fc.assert(
      fc.property(worldArb, stepsArb(8), fc.integer(), (world, steps, seed) => {
        runWorld(world, steps, ({ before, intents, now, result }) => {
          // shuffle record keys only (task ids, worker ids, intent ids...): output bytes identical
          const shallow: PoolState = {
            board: { tasks: permuteKeys(before.board.tasks, seed, 1), repos: permuteKeys(before.board.repos, seed, 1), trust: permuteKeys(before.board.trust, seed, 1) },
            profiles: permuteKeys(before.profiles, seed, 1),
            ledger: {
              batch: before.ledger.batch,
              tasks: permuteKeys(before.ledger.tasks, seed, 1),
              workers: permuteKeys(before.ledger.workers, seed, 1),
              outcomes: permuteKeys(before.ledger.outcomes, seed, 1),
            },
          };
          const r1 = schedule(shallow, intents, now);
          expect(JSON.stringify(r1.outcomes)).toBe(JSON.stringify(result.outcomes));
          expect(JSON.stringify(r1.events)).toBe(JSON.stringify(result.events));
          expect(canonical(r1.ledger)).toBe(canonical(result.ledger));
          // shuffle every object's keys at every depth: same values (stored outcomes echo their own key order)
          const r2 = schedule(permuteKeys(before, seed), intents, now);
          expect(canonical(r2)).toBe(canonical(result));
        });
      }),
      fcOptions(400),
    );
  });

  it('the same call twice gives byte-identical results and leaves its input untouched', () => {
    fc.assert(
      fc.property(worldArb, stepsArb(6), (world, steps) => {
        runWorld(world, steps, ({ before, intents, now, result }) => {
          const snapshot = JSON.stringify(before);
          const again = schedule(before, intents, now);
          expect(JSON.stringify(again)).toBe(JSON.stringify(result));
          expect(JSON.stringify(before)).toBe(snapshot);
        });
      }),
      fcOptions(400),
    );
  });
});
