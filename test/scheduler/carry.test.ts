/**
 * The Carry (shared/scheduler/carry.ts): a batch that takes over the previous batch's
 * indexes, told which board tasks changed, decides exactly what a batch scanning everything
 * decides; batchChanges names every task and worker whose runtime changed.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { batchChanges, prepareNextBatch, schedule } from '../../shared/scheduler/index.js';
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

/** A copy of the ledger with fresh records: never has a Carry, so schedule() scans everything. */
const fresh = (l: Ledger): Ledger => JSON.parse(JSON.stringify(l)) as Ledger;

describe('scheduler carry (incremental batches)', () => {
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
          let now = T0 + 5000;
          let state: PoolState = { board, profiles, ledger: schedule({ board, profiles, ledger: emptyLedger() }, [], now).ledger };
          let n = 0;
          for (const st of steps) {
            now += st.dt;
            const worker = `w${st.w}`;
            const expected = bruteForceClaimNext(state, worker, now);
            const intents: Intent[] = [{ kind: 'claim-next', id: `c${n++}`, workerId: worker }];
            // Give one held lease back first (it re-enters the queue at `now`).
            const held = Object.values(state.ledger.tasks).find((rt) => rt.state === 'leased' && rt.lease);
            if (st.release && held) intents.unshift({ kind: 'release', id: `r${n++}`, workerId: held.lease!.workerId, taskId: held.taskId, fencingToken: held.lease!.fencingToken });
            expect(batchChanges(state.ledger.tasks)).toBeDefined(); // the carried path runs
            if (n % 3 === 0) prepareNextBatch(state.ledger.tasks);
            const input = state.ledger.tasks;
            const r = schedule(state, intents, now, { changedTasks: [] });
            if (n % 3 === 1) prepareNextBatch(r.ledger.tasks, input);
            const o = r.outcomes[intents.length - 1]!;
            if (!(st.release && held)) {
              if (expected === undefined) expect(o.status).toBe('rejected');
              else expect(o).toMatchObject({ status: 'granted', taskId: expected });
            }
            state = { ...state, ledger: r.ledger };
          }
        },
      ),
      fcOptions(150),
    );
  });

  it('with hints and the previous ledger, every batch equals a full-scan batch byte for byte', () => {
    fc.assert(
      fc.property(worldArb, stepsArb(14), fc.array(fc.array(editArb, { maxLength: 2 }), { maxLength: 14 }), (world, steps, edits) => {
        const profiles = profilesOf(world);
        let hinted: PoolState = { board: boardAt(world, 0), profiles, ledger: emptyLedger() };
        // Maintainer edits on top of the world's own board changes (they persist once made).
        const made: Edit[] = [];
        let prevBoard: Board | undefined;
        let now = WORLD_T0;
        let carried = 0;
        steps.forEach((step, index) => {
          now += step.dt;
          made.push(...(edits[index] ?? []));
          const board = edited(boardAt(world, index), made);
          const before: PoolState = { ...hinted, board };
          const intents = step.intents.map((spec, k) => resolveIntent(spec, before, `s${index}-${k}`, world.workers.length, world.tasks.length));
          const reference = schedule({ ...before, ledger: fresh(before.ledger) }, intents, now);
          const hints = prevBoard ? { changedTasks: changedTasks(prevBoard, board) } : undefined;
          const r = schedule(before, intents, now, hints);
          if (hints) carried++;
          expect(JSON.stringify(r.outcomes)).toBe(JSON.stringify(reference.outcomes));
          expect(JSON.stringify(r.events)).toBe(JSON.stringify(reference.events));
          expect(canonical(r.ledger)).toBe(canonical(reference.ledger));
          // batchChanges covers every runtime that differs from the input ledger
          const ch = batchChanges(r.ledger.tasks);
          expect(ch).toBeDefined();
          for (const id of new Set([...Object.keys(before.ledger.tasks), ...Object.keys(r.ledger.tasks)])) {
            if (before.ledger.tasks[id] !== r.ledger.tasks[id]) expect(ch!.tasks.has(id)).toBe(true);
          }
          for (const id of new Set([...Object.keys(before.ledger.workers), ...Object.keys(r.ledger.workers)])) {
            if (before.ledger.workers[id] !== r.ledger.workers[id]) expect(ch!.workers.has(id)).toBe(true);
          }
          // Every other batch, the next batch's copy of the tasks is made ahead of time: by a
          // copy, or by recycling this batch's input record (never used again below).
          if (index % 4 === 1) prepareNextBatch(r.ledger.tasks);
          if (index % 4 === 3) prepareNextBatch(r.ledger.tasks, before.ledger.tasks);
          hinted = { ...before, ledger: r.ledger };
          prevBoard = board;
        });
        expect(carried).toBe(steps.length - 1);
      }),
      fcOptions(500),
    );
  });

  it('a ledger used twice takes the full path the second time, with the same result', () => {
    fc.assert(
      fc.property(worldArb, stepsArb(6), (world, steps) => {
        const profiles = profilesOf(world);
        const board = boardAt(world, 0);
        let state: PoolState = { board, profiles, ledger: emptyLedger() };
        let now = WORLD_T0;
        steps.forEach((step, index) => {
          now += step.dt;
          const intents = step.intents.map((spec, k) => resolveIntent(spec, state, `s${index}-${k}`, world.workers.length, world.tasks.length));
          const first = schedule(state, intents, now, { changedTasks: [] });
          const second = schedule(state, intents, now, { changedTasks: [] });
          expect(canonical(second)).toBe(canonical(first));
          state = { ...state, ledger: first.ledger };
        });
      }),
      fcOptions(200),
    );
  });
});
