/**
 * The success figures as pure functions: facts folded from the real scheduler's audit
 * events (random worlds from the scheduler arbitraries), checked against counts taken
 * straight from the events and the ledger; plus worked examples of each definition.
 * fast-check runs with a fixed seed (FC_SEED overrides it to replay).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AuditEvent, Board, RiskTier } from '../../shared/model.js';
import { foldEvent, sliceStart, type Fact, type TaskInfo, type TaskMemory } from '../../shared/stats/facts.js';
import { figuresOf, median, statsReport } from '../../shared/stats/figures.js';
import { runWorld, stepsArb, worldArb } from '../helpers/scheduler-arbitraries.js';

const SEED = Number(process.env.FC_SEED ?? 12012);
const opts = (numRuns: number) => ({ numRuns, seed: SEED });

function infoFrom(board: () => Board) {
  return (taskId: string): TaskInfo => {
    const t = board().tasks[taskId];
    return { repo: t?.repo ?? 'o/unknown', points: t?.points ?? 1, tier: (t?.tier ?? 0) as RiskTier, createdAt: t?.createdAt };
  };
}

describe('median', () => {
  it('is the middle value, the mean of the middle two, or null', () => {
    expect(median([])).toBeNull();
    expect(median([5])).toBe(5);
    expect(median([9, 1, 5])).toBe(5);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('lies between the smallest and the largest and ignores order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1e9 }), { minLength: 1, maxLength: 50 }), (xs) => {
        const m = median(xs)!;
        expect(m).toBeGreaterThanOrEqual(Math.min(...xs));
        expect(m).toBeLessThanOrEqual(Math.max(...xs));
        expect(median([...xs].reverse())).toBe(m);
      }),
      opts(300),
    );
  });
});

describe('figures from the real scheduler events', () => {
  it('count exactly what the events say, rates stay within 0..1, credit matches the ledger', () => {
    fc.assert(
      fc.property(worldArb, stepsArb(12), (world, steps) => {
        const events: AuditEvent[] = [];
        let board: Board | undefined;
        const memory = new Map<string, TaskMemory>();
        const facts: Fact[] = [];
        const final = runWorld(world, steps, (t) => {
          board = t.after.board;
          for (const e of t.result.events) {
            events.push(e);
            const f = foldEvent(e, memory, infoFrom(() => board!));
            if (f) facts.push(f);
          }
        });
        const fig = figuresOf(facts);
        const count = (k: AuditEvent['kind']) => events.filter((e) => e.kind === k).length;
        expect(fig.granted).toBe(count('lease-granted'));
        expect(fig.tasksGranted).toBe(new Set(events.filter((e) => e.kind === 'lease-granted').map((e) => e.taskId)).size);
        expect(fig.done).toBe(count('task-done'));
        expect(fig.merged + fig.completed).toBe(fig.done);
        expect(fig.expired).toBe(count('lease-expired'));
        // Every grant ends at most once: ends never outnumber grants.
        expect(fig.expired + fig.requeued + fig.closedUnmerged + fig.done).toBeLessThanOrEqual(fig.granted);
        for (const r of [fig.completionRate, fig.expiryRate, fig.requeueRate]) {
          if (r !== null) {
            expect(r).toBeGreaterThanOrEqual(0);
            expect(r).toBeLessThanOrEqual(1);
          }
        }
        expect(fig.completionRate === null).toBe(fig.tasksGranted === 0);
        // Throughput is the ledger's credit (points at grant time; the world never edits points).
        const credit = Object.values(final.ledger.workers).reduce((s, w) => s + w.credit, 0);
        expect(fig.workers.reduce((s, w) => s + w.points, 0)).toBe(credit);
        expect(fig.workers.reduce((s, w) => s + w.done, 0)).toBe(fig.done);
        // Durations are never negative.
        for (const f of facts) if (f.durationMs !== undefined) expect(f.durationMs).toBeGreaterThanOrEqual(0);
        // A window is exactly the facts from its start on, and windows add up.
        if (facts.length > 0) {
          const cut = facts[Math.floor(facts.length / 2)]!.at;
          const start = sliceStart(facts, cut);
          expect(facts.slice(start).every((f) => f.at >= cut)).toBe(true);
          expect(facts.slice(0, start).every((f) => f.at < cut)).toBe(true);
          expect(figuresOf(facts.slice(0, start)).granted + figuresOf(facts.slice(start)).granted).toBe(fig.granted);
        }
      }),
      opts(150),
    );
  });

  it('folding the same events twice gives the same facts', () => {
    fc.assert(
      fc.property(worldArb, stepsArb(8), (world, steps) => {
        const runs = [0, 1].map(() => {
          const memory = new Map<string, TaskMemory>();
          const out: Fact[] = [];
          let board: Board | undefined;
          runWorld(world, steps, (t) => {
            board = t.after.board;
            for (const e of t.result.events) {
              const f = foldEvent(e, memory, infoFrom(() => board!));
              if (f) out.push(f);
            }
          });
          return out;
        });
        expect(runs[1]).toEqual(runs[0]);
      }),
      opts(60),
    );
  });
});

describe('worked examples', () => {
  const T = Date.UTC(2026, 0, 10);
  const info = (): TaskInfo => ({ repo: 'o/r', points: 3, tier: 1 });
  const ev = (kind: AuditEvent['kind'], at: number, extra: Partial<AuditEvent> = {}): AuditEvent => ({ kind, at, batch: 1, actor: 'w1', taskId: 'o/r:a', workerId: 'w1', ...extra });

  it('queued -> granted after 10 min -> PR after 1 h -> merged after 2 h', () => {
    const memory = new Map<string, TaskMemory>();
    const events = [
      ev('task-queued', T, { actor: 'scheduler', workerId: undefined, to: 'queued' }),
      ev('lease-granted', T + 600_000, { from: 'queued', to: 'leased' }),
      ev('pr-submitted', T + 4_200_000, { from: 'leased', to: 'pr_open' }),
      ev('task-done', T + 11_400_000, { actor: 'maintainer-mia', from: 'pr_open', to: 'done' }),
    ];
    const facts = events.map((e) => foldEvent(e, memory, info)).filter((f): f is Fact => !!f);
    const fig = figuresOf(facts);
    expect(fig).toMatchObject({ granted: 1, tasksGranted: 1, done: 1, merged: 1, completed: 0, completionRate: 1, expiryRate: 0, requeueRate: 0 });
    expect(fig.medianMs).toEqual({ firstClaim: 600_000, toPr: 3_600_000, toMerge: 7_200_000 });
    expect(fig.workers).toEqual([{ workerId: 'w1', done: 1, merged: 1, points: 3 }]);
  });

  it('an expiry and a PR closed unmerged count against the grants; the gauge is per repo and summed for the pool', () => {
    const memory = new Map<string, TaskMemory>();
    const events = [
      ev('lease-granted', T, { from: 'queued', to: 'leased' }),
      ev('lease-expired', T + 1, { actor: 'scheduler', from: 'leased', to: 'queued' }),
      ev('lease-granted', T + 2, { from: 'queued', to: 'leased' }),
      ev('pr-submitted', T + 3, { from: 'leased', to: 'pr_open' }),
      ev('task-requeued', T + 4, { actor: 'github', from: 'pr_open', to: 'queued', reason: 'Pull request closed without merge.' }),
    ];
    const facts = events.map((e) => foldEvent(e, memory, info)).filter((f): f is Fact => !!f);
    const gauges = {
      'o/r': { prOpen: 2, leased: 1, reviewBudget: 3, inUse: 3, full: true },
      'o/s': { prOpen: 0, leased: 0, reviewBudget: 5, inUse: 0, full: false },
    };
    const rep = statsReport(facts, gauges, T, T + 10, null);
    expect(rep.pool).toMatchObject({ granted: 2, tasksGranted: 1, expired: 1, closedUnmerged: 1, expiryRate: 0.5, requeueRate: 0.5, completionRate: 0 });
    expect(rep.pool.reviews).toEqual({ prOpen: 2, leased: 1, reviewBudget: 8, inUse: 3, full: true });
    expect(Object.keys(rep.repos)).toEqual(['o/r', 'o/s']);
    expect(rep.repos['o/s']!.completionRate).toBeNull();
    const one = statsReport(facts, gauges, T, T + 10, 'o/s');
    expect(Object.keys(one.repos)).toEqual(['o/s']);
    expect(one.pool.granted).toBe(0);
  });
});
