/**
 * The scheduler session (shared/scheduler/session.ts): a batch that reuses the indexes the
 * previous batch left (told which board tasks changed) decides exactly what schedule(),
 * scanning everything, decides; `changed` names every task and worker whose runtime changed;
 * a ledger the session handed out never changes afterwards.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SchedulerSession, schedule } from '../../shared/scheduler/index.js';
import { emptyLedger, parseRepoPolicy, parseTask, parseWorkerProfile, type Board, type Intent, type Ledger, type PoolState, type Task } from '../../shared/model.js';
import { canonical } from '../helpers/scheduler-fixtures.js';
import { bruteForceClaimNext } from '../helpers/scheduler-oracle.js';
import { boardAt, fcOptions, profilesOf, resolveIntent, stepsArb, worldArb, WORLD_T0 } from '../helpers/scheduler-arbitraries.js';

/** Board task ids whose value differs between two boards (added, changed or removed). */
function changedTasks(a: Board, b: Board): string[] {
  const out: string[] = [];
  for (const id of new Set([...Object.keys(a.tasks), ...Object.keys(b.tasks)])) {
    if (JSON.stringify(a.tasks[id]) !== JSON.stringify(b.tasks[id])) out.push(id);
  }
  return out;
}

interface Edit {
  t: number;
  held?: boolean;
  priority?: number;
  skills?: string[];
}

const editArb: fc.Arbitrary<Edit> = fc.record(
  { t: fc.nat({ max: 6 }), held: fc.boolean(), priority: fc.integer({ min: -3, max: 3 }), skills: fc.subarray(['ts', 'py', 'docs'], { maxLength: 2 }) },
  { requiredKeys: ['t'] },
);

function edited(board: Board, edits: Edit[]): Board {
  const tasks = { ...board.tasks };
  for (const e of edits) {
    const cur = tasks[`t${e.t}`];
    if (!cur) continue;
    tasks[cur.id] = { ...cur, ...(e.held === undefined ? {} : { held: e.held }), ...(e.priority === undefined ? {} : { priority: e.priority }), ...(e.skills ? { skills: e.skills } : {}) };
  }
  return { ...board, tasks };
}

/** A copy of the ledger with fresh records (what schedule() gets: nothing shared with the session). */
const fresh = (l: Ledger): Ledger => JSON.parse(JSON.stringify(l)) as Ledger;

interface ClaimStep {
  w: number;
  dt: number;
  release: boolean;
}

/**
 * Runs `steps` through one session, each a claim-next by worker `w<w>` (after giving one held
 * lease back, when `release`), and checks every decision against a brute-force pick.
 * `prepared`: the session must reuse its indexes from the third batch on, and most batches
 * are prepared ahead (as the relay does between ticks).
 */
function claimNextMatchesOracle(board: Board, profiles: PoolState['profiles'], steps: ClaimStep[], start: number, prepared: boolean): void {
  let now = start;
  const session = new SchedulerSession(schedule({ board, profiles, ledger: emptyLedger() }, [], now).ledger);
  let n = 0;
  for (const st of steps) {
    now += st.dt;
    const worker = `w${st.w}`;
    const state: PoolState = { board, profiles, ledger: session.ledger() };
    const expected = bruteForceClaimNext(state, worker, now);
    const intents: Intent[] = [{ kind: 'claim-next', id: `c${n++}`, workerId: worker }];
    // Give one held lease back first (it re-enters the queue at `now`).
    const held = Object.values(state.ledger.tasks).find((rt) => rt.state === 'leased' && rt.lease);
    if (st.release && held) intents.unshift({ kind: 'release', id: `r${n++}`, workerId: held.lease!.workerId, taskId: held.taskId, fencingToken: held.lease!.fencingToken });
    if (prepared && n > 2) expect(session.incremental).toBe(true); // the indexes are reused
    const r = session.schedule({ board, profiles }, intents, now, []);
    session.commit(r);
    if (prepared && n % 3 !== 0) session.prepare();
    const o = r.outcomes[intents.length - 1]!;
    if (!(st.release && held)) {
      if (expected === undefined) expect(o.status).toBe('rejected');
      else expect(o).toMatchObject({ status: 'granted', taskId: expected });
    }
  }
}

describe('scheduler session (incremental batches)', () => {
  it('in a large pool with many ties and requeues, each carried claim-next equals a brute-force pick', () => {
    const T0 = Date.UTC(2026, 4, 1);
    fc.assert(
      fc.property(
        fc.array(fc.record({ p: fc.integer({ min: -2, max: 2 }), c: fc.integer({ min: 0, max: 3 }), s: fc.constantFrom([], ['ts'], ['py'], ['ts', 'py']), a: fc.constantFrom('', '', 'src/a/', 'src/b/') }), { minLength: 40, maxLength: 160 }),
        fc.array(fc.record({ w: fc.nat({ max: 5 }), dt: fc.integer({ min: 0, max: 90_000_000 }), release: fc.boolean() }), { minLength: 5, maxLength: 25 }),
        (specs, steps) => {
          const tasks: Record<string, Task> = {};
          specs.forEach((t, i) => {
            const id = `r/x#${i}`;
            tasks[id] = parseTask({ id, repo: i % 3 === 0 ? 'r/x' : 'r/y', title: `t${i}`, priority: t.p, skills: t.s, area: t.a, createdAt: T0 + t.c * 1000 });
          });
          const board: Board = { tasks, repos: { 'r/x': parseRepoPolicy({ repo: 'r/x', reviewBudget: 6, cooldownMs: 0 }) }, trust: {} };
          const profiles = Object.fromEntries(
            [['ts'], ['py'], ['ts', 'py'], [], ['ts'], ['docs']].map((skills, i) => [`w${i}`, parseWorkerProfile({ id: `w${i}`, name: `w${i}`, skills, capacity: 20, maxConcurrent: 20 })]),
          );
          claimNextMatchesOracle(board, profiles, steps, T0 + 5000, true);
        },
      ),
      fcOptions(150),
    );
  });

  it('workers with more skills than any task needs (skill fit below 1): each carried claim-next equals a brute-force pick', () => {
    // claim-next stops scanning at the worker's skill-fit bound (scores.ts pairBoundFor):
    // here every task needs at most `most` skills, workers have up to four.
    const T0 = Date.UTC(2026, 4, 1);
    const SK = ['ts', 'py', 'go', 'docs'];
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 }),
        fc.array(fc.record({ p: fc.integer({ min: -40, max: 40 }), c: fc.integer({ min: 0, max: 2 }), s: fc.subarray(SK, { maxLength: 2 }) }), { minLength: 30, maxLength: 120 }),
        fc.array(fc.record({ w: fc.nat({ max: 4 }), dt: fc.integer({ min: 0, max: 90_000_000 }), release: fc.boolean() }), { minLength: 5, maxLength: 20 }),
        (most, specs, steps) => {
          const tasks: Record<string, Task> = {};
          specs.forEach((t, i) => {
            const id = `r/x#${i}`;
            tasks[id] = parseTask({ id, repo: 'r/x', title: `t${i}`, priority: t.p, skills: t.s.slice(0, most), createdAt: T0 + t.c * 1000 });
          });
          const board: Board = { tasks, repos: {}, trust: {} };
          const profiles = Object.fromEntries(
            [SK, ['ts', 'py', 'go'], ['ts', 'py'], ['docs'], []].map((skills, i) => [`w${i}`, parseWorkerProfile({ id: `w${i}`, name: `w${i}`, skills, capacity: 50, maxConcurrent: 50 })]),
          );
          claimNextMatchesOracle(board, profiles, steps, T0 + 5000, false);
        },
      ),
      fcOptions(150),
    );
  });

  it('over random intents and board edits, every session batch equals schedule() byte for byte', () => {
    fc.assert(
      fc.property(worldArb, stepsArb(14), fc.array(fc.array(editArb, { maxLength: 2 }), { maxLength: 14 }), fc.nat(), (world, steps, edits, mode) => {
        const profiles = profilesOf(world);
        const session = new SchedulerSession(emptyLedger());
        // Maintainer edits on top of the world's own board changes (they persist once made).
        const made: Edit[] = [];
        let prevBoard: Board | undefined;
        let now = WORLD_T0;
        let reused = 0;
        let held: { ledger: Ledger; json: string; tasks: number } | undefined;
        steps.forEach((step, index) => {
          now += step.dt;
          made.push(...(edits[index] ?? []));
          const board = edited(boardAt(world, index), made);
          // ledger() pins what it hands out: some batches take one (the session then copies
          // instead of recycling that record), and one ledger is kept across all batches.
          const pin = (mode >> index % 16) & 1;
          const before: PoolState = { board, profiles, ledger: pin ? session.ledger() : fresh(session.ledger()) };
          if (pin && !held) held = { ledger: before.ledger, json: JSON.stringify({ ...before.ledger, outcomes: undefined }), tasks: Object.keys(before.ledger.outcomes).length };
          const intents = step.intents.map((spec, k) => resolveIntent(spec, before, `s${index}-${k}`, world.workers.length, world.tasks.length));
          const reference = schedule({ ...before, ledger: fresh(before.ledger) }, intents, now);
          if (prevBoard && session.incremental) reused++;
          const r = session.schedule({ board, profiles }, intents, now, prevBoard ? changedTasks(prevBoard, board) : null);
          expect(JSON.stringify(r.outcomes)).toBe(JSON.stringify(reference.outcomes));
          expect(JSON.stringify(r.events)).toBe(JSON.stringify(reference.events));
          // `changed` covers every runtime that differs from the input ledger
          for (const id of new Set([...Object.keys(r.input.tasks), ...Object.keys(r.ledger.tasks)])) {
            if (r.input.tasks[id] !== r.ledger.tasks[id]) expect(r.changed!.tasks.has(id)).toBe(true);
          }
          for (const id of new Set([...Object.keys(r.input.workers), ...Object.keys(r.ledger.workers)])) {
            if (r.input.workers[id] !== r.ledger.workers[id]) expect(r.changed!.workers.has(id)).toBe(true);
          }
          session.commit(r);
          expect(canonical(session.ledger())).toBe(canonical({ ...reference.ledger, outcomes: { ...before.ledger.outcomes, ...reference.ledger.outcomes } }));
          // The next batch's working copy is made ahead of time every other batch.
          if ((mode >> (index + 3) % 16) & 1) session.prepare();
          prevBoard = board;
        });
        expect(reused).toBeGreaterThanOrEqual(steps.length - 2);
        // A ledger handed out never changed; its outcomes only grew.
        if (held) {
          expect(JSON.stringify({ ...held.ledger, outcomes: undefined })).toBe(held.json);
          expect(Object.keys(held.ledger.outcomes).length).toBeGreaterThanOrEqual(held.tasks);
        }
      }),
      fcOptions(200),
    );
  });

  it('a batch not committed leaves the session as it was, and the next batch decides as schedule() does', () => {
    fc.assert(
      fc.property(worldArb, stepsArb(6), (world, steps) => {
        const profiles = profilesOf(world);
        const board = boardAt(world, 0);
        const session = new SchedulerSession(emptyLedger());
        let now = WORLD_T0;
        steps.forEach((step, index) => {
          now += step.dt;
          const state: PoolState = { board, profiles, ledger: fresh(session.ledger()) };
          const intents = step.intents.map((spec, k) => resolveIntent(spec, state, `s${index}-${k}`, world.workers.length, world.tasks.length));
          const before = canonical(session.ledger());
          session.schedule({ board, profiles }, intents, now, []); // dropped: a failed write
          expect(canonical(session.ledger())).toBe(before);
          expect(session.incremental).toBe(false);
          const again = session.schedule({ board, profiles }, intents, now, []);
          const reference = schedule(state, intents, now);
          expect(JSON.stringify(again.outcomes)).toBe(JSON.stringify(reference.outcomes));
          expect(JSON.stringify(again.events)).toBe(JSON.stringify(reference.events));
          session.commit(again);
        });
      }),
      fcOptions(200),
    );
  });

  it('never changes the ledger it was created from', () => {
    const profiles = { w: parseWorkerProfile({ id: 'w', name: 'w', skills: [], capacity: 5, maxConcurrent: 5 }) };
    const board: Board = { tasks: { 'o/r#1': parseTask({ id: 'o/r#1', repo: 'o/r', title: 'one', createdAt: WORLD_T0 }) }, repos: {}, trust: {} };
    const start = schedule({ board, profiles, ledger: emptyLedger() }, [], WORLD_T0).ledger;
    const json = JSON.stringify(start);
    const session = new SchedulerSession(start);
    for (let i = 0; i < 4; i++) {
      const b = session.schedule({ board, profiles }, [{ kind: 'claim-next', id: `c${i}`, workerId: 'w' }], WORLD_T0 + i, i === 0 ? null : []);
      session.commit(b);
      session.prepare();
    }
    expect(session.task('o/r#1')?.state).toBe('leased');
    expect(JSON.stringify(start)).toBe(json);
  });
});
