/**
 * The scheduler session pipelined (shared/scheduler/session.ts advance/settle/rollback, as
 * server/engine/batch.ts drives it): a batch decided on a head not yet durable decides
 * exactly what schedule() decides on that head; readers see only the durable ledger; a
 * rollback returns the head to it, and the batches after decide as schedule() does there.
 * Records recycled as working copies (prepare) never change a ledger still referred to.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SchedulerSession, schedule } from '../../shared/scheduler/index.js';
import { emptyLedger, type Board, type Ledger, type PoolState } from '../../shared/model.js';
import { canonical } from '../helpers/scheduler-fixtures.js';
import { boardAt, fcOptions, profilesOf, resolveIntent, stepsArb, worldArb, WORLD_T0 } from '../helpers/scheduler-arbitraries.js';

const fresh = (l: Ledger): Ledger => JSON.parse(JSON.stringify(l)) as Ledger;

function changedTasks(a: Board, b: Board): string[] {
  const out: string[] = [];
  for (const id of new Set([...Object.keys(a.tasks), ...Object.keys(b.tasks)])) {
    if (JSON.stringify(a.tasks[id]) !== JSON.stringify(b.tasks[id])) out.push(id);
  }
  return out;
}

describe('scheduler session, pipelined', () => {
  it('decides on the head as schedule() does, shows only the durable ledger, and rolls back to it', () => {
    fc.assert(
      fc.property(worldArb, stepsArb(16), fc.array(fc.nat(7), { minLength: 16, maxLength: 16 }), (world, steps, actions) => {
        const profiles = profilesOf(world);
        const session = new SchedulerSession(emptyLedger());
        // The reference: plain schedule() results, the durable ledger and the ones ahead.
        let durable: Ledger = emptyLedger();
        let ahead: Ledger[] = [];
        let prevBoard: Board | undefined;
        let now = WORLD_T0;
        const kept: { ledger: Ledger; json: string }[] = [];
        steps.forEach((step, index) => {
          now += step.dt;
          const board = boardAt(world, index);
          const head = ahead.at(-1) ?? durable;
          const state: PoolState = { board, profiles, ledger: fresh(head) };
          const intents = step.intents.map((spec, k) => resolveIntent(spec, state, `s${index}-${k}`, world.workers.length, world.tasks.length));
          const reference = schedule({ ...state, ledger: fresh(head) }, intents, now);
          const r = session.schedule({ board, profiles }, intents, now, prevBoard ? changedTasks(prevBoard, board) : null);
          expect(JSON.stringify(r.outcomes)).toBe(JSON.stringify(reference.outcomes));
          expect(JSON.stringify(r.events)).toBe(JSON.stringify(reference.events));
          session.advance(r);
          ahead.push({ ...reference.ledger, outcomes: { ...head.outcomes, ...reference.ledger.outcomes } });
          prevBoard = board;
          // Readers see the durable ledger; an outcome ahead is known to the next batch only.
          for (const o of reference.outcomes) {
            if (o.kind === 'heartbeat' || durable.outcomes[o.intentId]) continue;
            expect(session.outcome(o.intentId)).toBeUndefined();
            expect(session.decided(o.intentId)).toEqual(o);
          }
          const act = actions[index]!;
          if (act === 0) {
            session.rollback();
            ahead = [];
          } else if (ahead.length >= 2 || act % 2 === 1) {
            session.settle();
            durable = ahead.shift()!;
          }
          if (act === 7) {
            const l = session.ledger();
            kept.push({ ledger: l, json: canonical(l) });
          }
          // Read without ledger() (which pins its record, so it is never recycled) but on pinning steps.
          expect(session.batch).toBe(durable.batch);
          for (const id of new Set([...Object.keys(durable.tasks), ...world.tasks.map((_, i) => `t${i}`)])) expect(session.task(id)).toEqual(durable.tasks[id]);
          for (const id of Object.keys(durable.workers)) expect(session.worker(id)).toEqual(durable.workers[id]);
          for (const id of Object.keys(durable.outcomes)) expect(session.outcome(id)).toEqual(durable.outcomes[id]);
          if (act >= 5) expect(canonical(session.ledger())).toBe(canonical(durable));
          expect(session.pending).toBe(ahead.length);
          if (act === 3 || act === 6) session.prepare();
        });
        // A ledger handed out never changed (its outcomes only grow: compare without them).
        for (const k of kept) expect(canonical({ ...k.ledger, outcomes: {} })).toBe(canonical({ ...(JSON.parse(k.json) as Ledger), outcomes: {} }));
      }),
      fcOptions(200),
    );
  });

  it('refuses to commit over batches ahead, and to settle with none', () => {
    const session = new SchedulerSession(emptyLedger());
    const board: Board = { tasks: {}, repos: {}, trust: {} };
    const a = session.schedule({ board, profiles: {} }, [], WORLD_T0, null);
    session.advance(a);
    const b = session.schedule({ board, profiles: {} }, [], WORLD_T0, []);
    expect(() => session.commit(b)).toThrow(/ahead/);
    session.settle();
    expect(() => {
      session.settle();
      session.settle();
    }).toThrow(/no batch is ahead/);
  });
});
