/**
 * explainTask: the scheduler's own explanation of why a task is (not) taken. Examples for
 * each sentence the dashboard shows, and a property: the explanation agrees with what a
 * named claim by each worker would get from the real scheduler.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { explainTask, schedule } from '../../shared/scheduler/index.js';
import type { Intent, PoolState } from '../../shared/model.js';
import { REPO, T0, claim, makeState, policy, profile, step, submit, task } from '../helpers/scheduler-fixtures.js';
import { fcOptions, runWorld, stepsArb, worldArb } from '../helpers/scheduler-arbitraries.js';

describe('explainTask', () => {
  it('names a skill no available worker has', () => {
    const s = makeState({
      tasks: [task('t1', { skills: ['rust'] })],
      workers: [profile('ann', { skills: ['ts'] }), profile('bob', { skills: ['py'] }), profile('cy', { skills: ['rust'], available: false })],
    });
    const e = explainTask(s, 't1', T0);
    expect(e.summary).toBe('Nobody can take it now: no available worker has skill rust and cy is unavailable.');
    expect(e.fits).toEqual([]);
    expect(e.workers.map((w) => [w.workerId, w.refusal?.code])).toEqual([
      ['ann', 'skill-mismatch'],
      ['bob', 'skill-mismatch'],
      ['cy', 'worker-unavailable'],
    ]);
  });

  it('names a frozen area, whoever asks', () => {
    const s = makeState({ tasks: [task('t1', { area: 'src/billing/tax.ts' })], workers: [profile('ann')], repos: [policy(REPO, { frozenAreas: ['src/billing/'] })] });
    const e = explainTask(s, 't1', T0);
    expect(e.summary).toBe('Nobody can take it now: area src/billing/ is frozen.');
    expect(e.blockers.map((b) => b.code)).toEqual(['area-frozen']);
  });

  it("says a tier is above every worker's trust, and when the policy refuses the tier", () => {
    const s = makeState({ tasks: [task('t1', { tier: 2 })], workers: [profile('ann'), profile('bob')], repos: [policy(REPO, { allowedTiers: [0, 1, 2] })] });
    expect(explainTask(s, 't1', T0).summary).toBe("Nobody can take it now: tier 2 needs trust level 2, above every worker's trust.");
    const refused = makeState({ tasks: [task('t1', { tier: 2 })], workers: [profile('ann')], trust: { ann: 3 } });
    expect(explainTask(refused, 't1', T0).summary).toBe('Nobody can take it now: repo acme/app accepts tiers 0, 1 and the task is tier 2.');
  });

  it('says the review budget is full', () => {
    const s0 = makeState({ tasks: [task('a'), task('b')], workers: [profile('ann'), profile('bob')], repos: [policy(REPO, { reviewBudget: 1 })] });
    const { state } = step(s0, [claim('ann', 'a')], T0);
    const e = explainTask(state, 'b', T0 + 1);
    expect(e.summary).toBe('Nobody can take it now: review budget full (1 of 1 leased or awaiting review in acme/app).');
  });

  it('lists who can take it now, and says so when none of them is online', () => {
    const s = makeState({ tasks: [task('t1', { skills: ['ts'] })], workers: [profile('ann'), profile('bob', { skills: ['py'] })] });
    expect(explainTask(s, 't1', T0).summary).toBe('ann can take it now; it goes to the next fitting worker that asks.');
    expect(explainTask(s, 't1', T0, { online: () => false }).summary).toBe('ann could take it, but is not online right now.');
  });

  it('explains a task that is not queued with the claim filter’s own sentence', () => {
    const s0 = makeState({ tasks: [task('t1'), task('h', { held: true })], workers: [profile('ann')] });
    const { state } = step(s0, [claim('ann', 't1')], T0);
    const fencingToken = state.ledger.tasks.t1!.fencingToken;
    const { state: pr } = step(state, [submit('ann', 't1', fencingToken)], T0 + 1);
    expect(explainTask(pr, 't1', T0 + 2)).toMatchObject({ state: 'pr_open', blockers: [{ code: 'already-leased' }] });
    expect(explainTask(s0, 'h', T0).summary).toMatch(/on hold/);
    expect(explainTask(s0, 'nope', T0)).toMatchObject({ state: 'unknown', blockers: [{ code: 'unknown-task' }] });
    expect(explainTask(makeState({ tasks: [task('t1')] }), 't1', T0).summary).toBe('No worker has registered yet (owp worker register).');
  });

  it('never mutates its input', () => {
    const s = makeState({ tasks: [task('t1')], workers: [profile('ann')] });
    const before = JSON.stringify(s);
    explainTask(s, 't1', T0);
    expect(JSON.stringify(s)).toBe(before);
  });

  it('agrees with the scheduler: a fitting worker is granted a named claim, a refused one gets the same code', () => {
    let checked = 0;
    fc.assert(
      fc.property(worldArb, stepsArb(6), (world, steps) => {
        let last: { state: PoolState; now: number } | undefined;
        runWorld(world, steps, (t) => (last = { state: t.after, now: t.now }));
        const { state, now } = last!;
        for (const id of Object.keys(state.board.tasks)) {
          const e = explainTask(state, id, now);
          if (e.blockers.length) {
            for (const w of Object.keys(state.profiles)) expect(claimOutcome(state, w, id, now).status).toBe('rejected');
            continue;
          }
          for (const v of e.workers) {
            const o = claimOutcome(state, v.workerId, id, now);
            checked++;
            if (v.refusal) expect(o.code).toBe(v.refusal.code);
            else expect(o.status).toBe('granted');
          }
        }
      }),
      fcOptions(100),
    );
    expect(checked).toBeGreaterThan(100);
  });
});

function claimOutcome(state: PoolState, workerId: string, taskId: string, now: number) {
  const intent: Intent = { kind: 'claim', id: 'explain-check', workerId, taskId };
  return schedule(state, [intent], now).outcomes[0]!;
}
