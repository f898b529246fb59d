/**
 * The trust ladder wired into the scheduler (shared/scheduler/trust.ts, the tier filter,
 * explainTask): reviews move a worker's level in a repo whose policy has the ladder on, the
 * tier filter and the explanation read that level, a maintainer's override pins it, a new
 * base restarts it. Property (fixed seed): no lease is ever granted on a tier above the
 * worker's level in the task's repo, nor on a tier the repo's policy does not allow.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { explainTask } from '../../shared/scheduler/index.js';
import { trustLevel } from '../../shared/trust-ladder.js';
import { DEFAULTS, type AuditEvent, type PoolState, type RiskTier } from '../../shared/model.js';
import { REPO, T0, claim, makeState, policy, profile, review, step, submit, task } from '../helpers/scheduler-fixtures.js';
import { fcOptions, runWorld, worldArb, type IntentSpec, type Step, type World } from '../helpers/scheduler-arbitraries.js';

const LADDER = { promoteAfter: 2, lookback: 3, demoteAfter: 2 };

/** Generated worlds whose tight repo has a ladder on (tier 2 allowed mostly), and steps rich in PRs and reviews. */
const ladderWorld: fc.Arbitrary<World> = fc
  .tuple(worldArb, fc.record({ promoteAfter: fc.integer({ min: 1, max: 2 }), lookback: fc.integer({ min: 1, max: 3 }), demoteAfter: fc.integer({ min: 1, max: 2 }) }), fc.boolean())
  .map(([w, l, all]) => ({
    // Room to work (budget, quota) and mostly tier-1 tasks for base-1 workers, so ladders move and tier 2 gets earned.
    tasks: w.tasks.map((t, i) => ({ ...t, tier: i % 3 === 2 ? 2 : 1, held: false })),
    workers: w.workers.map((x) => ({ ...x, trust: 1, available: true })),
    policy: { ...w.policy, reviewBudget: 6, dailyQuota: 50, tiers: all ? [0, 1, 2] : w.policy.tiers, ladder: { enabled: true, ...l } },
  }));
const reviewHeavy: fc.Arbitrary<IntentSpec> = fc.record({
  kind: fc.constantFrom<IntentSpec['kind']>('claim-next', 'claim-next', 'claim', 'submit', 'submit', 'review', 'review', 'review', 'release'),
  w: fc.nat({ max: 19 }),
  t: fc.nat({ max: 19 }),
  token: fc.constant('current'),
  holder: fc.integer({ min: 0, max: 5 }).map((n) => n !== 0),
  result: fc.constantFrom<IntentSpec['result']>('merged', 'merged', 'merged', 'closed', 'open'),
  dup: fc.constant(null),
});
const reviewSteps: fc.Arbitrary<Step[]> = fc.array(fc.record({ dt: fc.integer({ min: 0, max: 4000 }), intents: fc.array(reviewHeavy, { maxLength: 6 }) }), { minLength: 1, maxLength: 16 });

function world(over: { trust?: Record<string, RiskTier>; ladder?: Record<string, unknown> | null } = {}): PoolState {
  const tasks = ['a', 'b', 'c', 'd', 'e'].map((id) => task(id, { tier: 1 }));
  return makeState({
    tasks: [...tasks, task('hi', { tier: 2 })],
    workers: [profile('ann', { capacity: 10, maxConcurrent: 5 })],
    repos: [policy(REPO, { allowedTiers: [0, 1, 2], cooldownMs: 0, ...(over.ladder === null ? {} : { trustLadder: over.ladder ?? LADDER }) })],
    trust: over.trust ?? {},
  });
}

/** ann claims, submits and gets `result` on each task in turn; returns the state and the events. */
function reviewed(s0: PoolState, ids: string[], result: 'merged' | 'closed', at = T0): { state: PoolState; events: AuditEvent[] } {
  let state = s0;
  const events: AuditEvent[] = [];
  for (const [i, id] of ids.entries()) {
    const now = at + i * 10;
    const c = step(state, [claim('ann', id)], now);
    expect(c.result.outcomes[0]!.status, c.result.outcomes[0]!.message).toBe('granted');
    const token = c.result.outcomes[0]!.fencingToken!;
    const sub = step(c.state, [submit('ann', id, token)], now + 1);
    const r = step(sub.state, [review(id, result)], now + 2);
    events.push(...r.result.events);
    state = r.state;
  }
  return { state, events };
}

const level = (s: PoolState, worker = 'ann', repo = REPO) => trustLevel(s.board.trust, worker, s.ledger.workers[worker], s.board.repos[repo]!);

describe('the trust ladder in the scheduler', () => {
  it('refuses a tier above the level with "needs trust level", promotes after N merged PRs, then grants it', () => {
    const s0 = world();
    const refused = step(s0, [claim('ann', 'hi')], T0).result.outcomes[0]!;
    expect(refused).toMatchObject({ status: 'rejected', code: 'tier-not-allowed', filter: 'tier' });
    expect(refused.message).toBe('Task hi is risk tier 2 and needs trust level 2; worker ann is at trust level 1 in acme/app.');
    expect(explainTask(s0, 'hi', T0).summary).toBe("Nobody can take it now: tier 2 needs trust level 2, above every worker's trust.");

    const { state, events } = reviewed(s0, ['a', 'b'], 'merged');
    const moved = events.filter((e) => e.kind === 'trust-changed');
    expect(moved).toEqual([
      expect.objectContaining({
        kind: 'trust-changed',
        actor: 'scheduler',
        workerId: 'ann',
        taskId: 'b',
        repo: REPO,
        before: 1,
        after: 2,
        reason: 'Promoted from tier 1 to 2 in acme/app: 2 pull request(s) merged at tier 1 and none closed without merge among the last 2.',
      }),
    ]);
    expect(state.ledger.workers.ann!.ladder![REPO]).toMatchObject({ tier: 2, base: 1, merged: 0, recent: '' });
    expect(level(state)).toBe(2);
    expect(explainTask(state, 'hi', T0 + 100).fits).toEqual(['ann']);
    expect(step(state, [claim('ann', 'hi')], T0 + 100).result.outcomes[0]!.status).toBe('granted');
  });

  it('never promotes above the highest tier the policy allows, and demotes after K closed in a row', () => {
    const s1 = reviewed(world(), ['a', 'b'], 'merged').state;
    expect(level(s1)).toBe(2);
    // At tier 2 = the highest allowed: more merges change nothing.
    const more = reviewed(s1, ['c', 'd'], 'merged', T0 + 1000);
    expect(more.events.filter((e) => e.kind === 'trust-changed')).toEqual([]);
    // Two closed unmerged in a row: back to 1 (the tasks return to the queue and may be claimed again).
    const closed = reviewed(more.state, ['e', 'e'], 'closed', T0 + 2000);
    expect(closed.events.filter((e) => e.kind === 'trust-changed').map((e) => [e.before, e.after])).toEqual([[2, 1]]);
    expect(level(closed.state)).toBe(1);
    expect(step(closed.state, [claim('ann', 'hi')], T0 + 3000).result.outcomes[0]!.code).toBe('tier-not-allowed');
  });

  it('does nothing when the policy has no ladder or turns it off', () => {
    for (const ladder of [null, { ...LADDER, enabled: false }]) {
      const { state, events } = reviewed(world({ ladder }), ['a', 'b', 'c'], 'merged');
      expect(events.some((e) => e.kind === 'trust-changed')).toBe(false);
      expect(state.ledger.workers.ann!.ladder).toBeUndefined();
      expect(level(state)).toBe(DEFAULTS.workerTrust);
    }
  });

  it("turning the ladder off falls back to the base trust; on again, the earned level counts again", () => {
    const { state } = reviewed(world(), ['a', 'b'], 'merged');
    const off = { ...state, board: { ...state.board, repos: { [REPO]: policy(REPO, { allowedTiers: [0, 1, 2], trustLadder: { ...LADDER, enabled: false } }) } } };
    expect(level(off)).toBe(1);
    expect(step(off, [claim('ann', 'hi')], T0 + 100).result.outcomes[0]!.code).toBe('tier-not-allowed');
    expect(level(state)).toBe(2);
  });

  it("a maintainer's override pins the level in that repo; a new base trust restarts the ladder", () => {
    const pinned = world({ trust: { [`${REPO}/ann`]: 0 } });
    expect(step(pinned, [claim('ann', 'a')], T0).result.outcomes[0]!.message).toBe('Task a is risk tier 1 and needs trust level 1; worker ann is at trust level 0 in acme/app.');
    const up = world({ trust: { [`${REPO}/ann`]: 2 } });
    const { state, events } = reviewed(up, ['a', 'b', 'c'], 'merged');
    expect(events.some((e) => e.kind === 'trust-changed')).toBe(false);
    expect(level(state)).toBe(2);

    const promoted = reviewed(world(), ['a', 'b'], 'merged').state;
    expect(level(promoted)).toBe(2);
    // The maintainer sets ann's base trust to 0: the ladder state started from 1 no longer counts.
    const rebased = { ...promoted, board: { ...promoted.board, trust: { ann: 0 as RiskTier } } };
    expect(level(rebased)).toBe(0);
    expect(step(rebased, [claim('ann', 'c')], T0 + 500).result.outcomes[0]!.code).toBe('tier-not-allowed');
  });

  it('property: no lease is ever granted on a tier above the worker\'s level in the repo, or one the policy refuses', () => {
    const seen = { grants: 0, aboveBase: 0, moves: 0 };
    fc.assert(
      fc.property(ladderWorld, reviewSteps, (w, steps) => {
        runWorld(w, steps, ({ after, result }) => {
          for (const e of result.events) {
            if (e.kind === 'trust-changed') seen.moves += 1;
            if (e.kind !== 'lease-granted') continue;
            const t = after.board.tasks[e.taskId!]!;
            const pol = after.board.repos[t.repo] ?? policy(t.repo);
            // Claims run after every review of their batch, so the level after the batch is the level they saw.
            const lvl = trustLevel(after.board.trust, e.workerId!, after.ledger.workers[e.workerId!], pol);
            expect(t.tier).toBeLessThanOrEqual(lvl);
            expect(pol.allowedTiers).toContain(t.tier);
            seen.grants += 1;
            if (t.tier > (after.board.trust[e.workerId!] ?? DEFAULTS.workerTrust)) seen.aboveBase += 1;
          }
        });
      }),
      fcOptions(600),
    );
    // Not vacuous: ladders moved, and some grants needed a level earned above the base.
    expect(seen.grants).toBeGreaterThan(500);
    expect(seen.moves).toBeGreaterThan(20);
    expect(seen.aboveBase).toBeGreaterThan(5);
  });
});
