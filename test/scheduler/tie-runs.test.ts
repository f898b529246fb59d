/**
 * claim-next over a bulk import: hundreds of tasks share one priority and queue time, so
 * their task scores tie and the published tie-break (lowest FNV hash of task, worker and
 * batch) decides. claims.ts scans such a run in one tight loop over cached hash prefixes
 * (pool.ts tieRun); here a whole batch of claim-nexts is checked against the brute-force
 * reference, claim by claim, in the batch's order, with skills, area locks and review
 * budgets blocking some of the tied tasks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { schedule } from '../../shared/scheduler/index.js';
import type { PoolState } from '../../shared/model.js';
import { fcOptions } from '../helpers/fc.js';
import { bruteForceClaimNext } from '../helpers/scheduler-oracle.js';
import { T0, makeState, policy, profile, task } from '../helpers/scheduler-fixtures.js';

const SKILLS = ['ts', 'py', 'go'];
const REPOS = ['acme/app', 'acme/lib'];

const worldArb = fc.record({
  tasks: fc.array(
    fc.record({
      priority: fc.integer({ min: 0, max: 1 }),
      skills: fc.subarray(SKILLS, { maxLength: 2 }),
      area: fc.constantFrom('', '', 'ui', 'api'),
      repo: fc.nat({ max: 1 }),
    }),
    { minLength: 20, maxLength: 300 },
  ),
  workers: fc.array(fc.subarray(SKILLS, { minLength: 1 }), { minLength: 1, maxLength: 8 }),
  reviewBudget: fc.integer({ min: 1, max: 6 }),
  dt: fc.integer({ min: 0, max: 10_000 }),
});

/** The grants a batch of claim-nexts must make: brute force, one claim at a time, same batch. */
function expectedGrants(state: PoolState, workers: string[], now: number): (string | undefined)[] {
  const batch = state.ledger.batch;
  let s = state;
  return workers.map((w, i) => {
    const pick = bruteForceClaimNext(s, w, now);
    if (pick !== undefined) {
      const r = schedule(s, [{ kind: 'claim', id: `x${i}`, workerId: w, taskId: pick }], now);
      expect(r.outcomes[0]).toMatchObject({ status: 'granted' });
      s = { ...s, ledger: { ...r.ledger, batch } };
    }
    return pick;
  });
}

describe('claim-next over runs of tied tasks', () => {
  it('a batch of claim-nexts grants what brute force picks, claim by claim', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        const tasks = world.tasks.map((t, i) => task(`${REPOS[t.repo]}#${i + 1}`, { repo: REPOS[t.repo], priority: t.priority, skills: t.skills, area: t.area || undefined }));
        const workers = world.workers.map((skills, i) => profile(`w${i}`, { skills, capacity: 5, maxConcurrent: 5 }));
        const repos = REPOS.map((r) => policy(r, { reviewBudget: world.reviewBudget }));
        // The first batch queues every task at the same instant: one tie run per priority.
        const queued = schedule(makeState({ tasks, workers, repos }), [], T0);
        const state: PoolState = { ...makeState({ tasks, workers, repos }), ledger: queued.ledger };
        const now = T0 + world.dt;
        const ids = workers.map((w) => w.id);
        const expected = expectedGrants(state, ids, now);
        const r = schedule(
          state,
          ids.map((w, i) => ({ kind: 'claim-next' as const, id: `cn${i}`, workerId: w })),
          now,
        );
        expect(r.outcomes.map((o) => (o.status === 'granted' ? o.taskId : undefined))).toEqual(expected);
      }),
      fcOptions(150),
    );
  });
});

describe('claim-next over a tie run that fits nobody', () => {
  it('names every tied task it rejected, as the entry-by-entry walk does', () => {
    // 30 tied tasks (a run long enough for the tight loop): 20 need go, 10 are in a frozen area.
    const tasks = Array.from({ length: 30 }, (_, i) => task(`acme/app#${i + 1}`, { priority: 1, skills: i < 20 ? ['go'] : ['ts'], area: i < 20 ? undefined : 'ui' }));
    const workers = [profile('w0', { skills: ['ts'] })];
    const repos = [policy('acme/app', { frozenAreas: ['ui'] })];
    const queued = schedule(makeState({ tasks, workers, repos }), [], T0);
    const state: PoolState = { ...makeState({ tasks, workers, repos }), ledger: queued.ledger };
    const r = schedule(state, [{ kind: 'claim-next', id: 'cn', workerId: 'w0' }], T0 + 1);
    expect(r.outcomes[0]).toMatchObject({ status: 'rejected', code: 'no-matching-task' });
    expect(r.outcomes[0]!.message).toBe('None of the 30 queued task(s) fits worker w0 right now: 20 skill-mismatch (skills), 10 area-frozen (area-freeze).');
  });
});
