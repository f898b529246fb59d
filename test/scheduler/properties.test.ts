/**
 * Property-based tests of the scheduler over random worlds and random intent sequences.
 * Replay a failure with FC_SEED=<seed> (fast-check prints the seed and path).
 * Runs: 3000 + 2500 + 2500 + 1000 + 1500 + 1000 = 11,500 generated runs in this file.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkInvariants, schedule } from '../../shared/scheduler/index.js';
import { areaKey, keysOverlap } from '../../shared/scheduler/state.js';
import { DEFAULTS, areasOverlap, type Intent, type Ledger } from '../../shared/model.js';
import { canonical } from '../helpers/scheduler-fixtures.js';
import { bruteForceClaimNext } from '../helpers/scheduler-oracle.js';
import { fcOptions, runWorld, stepsArb, taskId, worldArb, workerId, type Transition } from '../helpers/scheduler-arbitraries.js';

const CLAIMS = new Set(['claim', 'claim-next']);
const LEASE_KINDS = new Set(['heartbeat', 'release', 'submit', 'complete', 'fail']);

function checkStep(t: Transition): void {
  const { before, after, intents, result, now } = t;
  const batch = before.ledger.batch + 1;
  // invariants: one lease per task, capacity, max concurrent, budget, areas, pointsInUse
  expect(checkInvariants(after)).toEqual([]);
  expect(result.ledger.batch).toBe(batch);
  // exactly one outcome per intent, in order, with a status that fits its kind
  expect(result.outcomes).toHaveLength(intents.length);
  result.outcomes.forEach((o, i) => {
    expect(o.intentId).toBe(intents[i]!.id);
    const stored = before.ledger.outcomes[o.intentId];
    if (stored) expect(o).toEqual(stored); // idempotency across batches
    if (o.batch !== batch) {
      expect(stored).toBeDefined();
      return;
    }
    expect(CLAIMS.has(o.kind) ? ['granted', 'rejected'] : ['applied', 'rejected']).toContain(o.status);
    if (o.status === 'rejected') expect(o.code && o.message).toBeTruthy();
    if (o.kind === 'heartbeat') expect(after.ledger.outcomes[o.intentId]).toBeUndefined();
    else expect(after.ledger.outcomes[o.intentId]).toEqual(o);
    if (o.status === 'granted') {
      // a grant holds at the end of its batch: claims run last
      expect(after.ledger.tasks[o.taskId!]!.lease).toMatchObject({ workerId: o.workerId, fencingToken: o.fencingToken });
    }
  });
  for (const e of result.events) {
    expect(e.batch).toBe(batch);
    expect(e.at).toBe(now);
  }
  // fencing tokens never decrease; every change of state or lease has an audit event
  for (const id of Object.keys(after.ledger.tasks)) {
    const a = after.ledger.tasks[id]!;
    const b = before.ledger.tasks[id];
    if (b) {
      expect(a.fencingToken).toBeGreaterThanOrEqual(b.fencingToken);
      expect(a.attempt).toBeGreaterThanOrEqual(b.attempt);
      expect(a.attempt).toBeLessThanOrEqual(a.fencingToken);
    }
    const changed = !b || b.state !== a.state || b.lease?.fencingToken !== a.lease?.fencingToken || b.lease?.workerId !== a.lease?.workerId;
    const evs = result.events.filter((e) => e.taskId === id && e.to !== undefined);
    if (changed) {
      expect(evs.length, `task ${id} went ${b?.state} -> ${a.state} without an event`).toBeGreaterThan(0);
      expect(evs[evs.length - 1]!.to).toBe(a.state);
    }
  }
  // heartbeats never produce audit events
  const hbIds = new Set(intents.filter((i) => i.kind === 'heartbeat').map((i) => i.id));
  const otherIds = new Set(intents.filter((i) => i.kind !== 'heartbeat').map((i) => i.id));
  for (const e of result.events) if (e.intentId && hbIds.has(e.intentId)) expect(otherIds.has(e.intentId)).toBe(true);
}

/** The ledger apart from what every batch changes (batch number, stored outcomes). */
const core = (l: Ledger): string => canonical({ tasks: l.tasks, workers: l.workers });

describe('scheduler properties', () => {
  it('every invariant holds after every batch of random intents, time jumps and board changes', () => {
    fc.assert(
      fc.property(worldArb, stepsArb(10), (world, steps) => {
        runWorld(world, steps, checkStep);
      }),
      fcOptions(3000),
    );
    // 3,000 random worlds: a CPU budget for slow or busy machines, not a speed claim.
  }, 300_000);

  it('an intent with a stale token or from a non-holder changes nothing', () => {
    fc.assert(
      fc.property(
        worldArb,
        stepsArb(8),
        fc.constantFrom('heartbeat', 'release', 'submit', 'complete', 'fail'),
        fc.nat({ max: 7 }),
        fc.nat({ max: 4 }),
        fc.constantFrom('stale', 'future', 'stranger'),
        (world, steps, kind, t, wi, how) => {
          let last: Transition | undefined;
          runWorld(world, steps, (tr) => (last = tr));
          const state = last!.after;
          const tid = taskId(t);
          const rt = state.ledger.tasks[tid];
          const cur = rt?.lease?.fencingToken ?? rt?.fencingToken ?? 0;
          const holder = rt?.lease?.workerId ?? workerId(0);
          let who = holder;
          let token = cur + 1;
          if (how === 'stale') token = cur > 1 ? cur - 1 : cur + 2;
          if (how === 'stranger') {
            who = workerId(wi) === holder ? 'someone-else' : workerId(wi);
            token = Math.max(1, cur);
          }
          const base = { id: 'stale-probe', workerId: who, taskId: tid, fencingToken: token };
          const intent = (
            kind === 'submit' ? { ...base, kind, prUrl: 'https://example.test/pr/1' } : kind === 'fail' ? { ...base, kind, reason: 'x' } : { ...base, kind }
          ) as Intent;
          const r = schedule(state, [intent], last!.now);
          expect(r.outcomes[0]).toMatchObject({ status: 'rejected' });
          expect(['lease-lost', 'unknown-task']).toContain(r.outcomes[0]!.code);
          expect(core(r.ledger)).toBe(core(state.ledger));
          expect(r.events.filter((e) => e.kind !== 'intent-rejected')).toEqual([]);
        },
      ),
      fcOptions(2500),
    );
  });

  it('claim-next grants exactly what a brute-force run of every filter and score picks', () => {
    fc.assert(
      fc.property(worldArb, stepsArb(6), fc.nat({ max: 3 }), fc.integer({ min: 0, max: 5000 }), (world, steps, wi, dt) => {
        let last: Transition | undefined;
        runWorld(world, steps, (tr) => (last = tr));
        const state = last!.after;
        const worker = workerId(wi % world.workers.length);
        const now = last!.now + dt;
        const expected = bruteForceClaimNext(state, worker, now);
        const o = schedule(state, [{ kind: 'claim-next', id: 'cn', workerId: worker }], now).outcomes[0]!;
        if (expected === undefined) expect(o.status).toBe('rejected');
        else expect(o).toMatchObject({ status: 'granted', taskId: expected });
      }),
      fcOptions(2500),
    );
  });

  it('lease intents of non-claim kinds never touch tasks they do not name', () => {
    fc.assert(
      fc.property(worldArb, stepsArb(6), (world, steps) => {
        runWorld(world, steps, ({ before, after, intents }) => {
          if (intents.some((i) => !LEASE_KINDS.has(i.kind))) return;
          const named = new Set(intents.map((i) => (i as { taskId?: string }).taskId));
          for (const id of Object.keys(before.ledger.tasks)) {
            const b = before.ledger.tasks[id]!;
            const a = after.ledger.tasks[id]!;
            // only expiry may change an unnamed task (and only a leased one)
            if (!named.has(id) && b.state !== 'leased' && !(before.board.tasks[id]?.cancelled && !b.cancelPending)) {
              expect(a.state).toBe(b.state);
              expect(a.fencingToken).toBe(b.fencingToken);
            }
          }
        });
      }),
      fcOptions(1000),
    );
  });

  it('a valid intent from the holder (or a maintainer) is applied with the specified effect', () => {
    const kinds = ['heartbeat', 'release', 'submit', 'complete', 'fail', 'merged', 'closed', 'changes-requested', 'requeue', 'cancel'] as const;
    fc.assert(
      fc.property(worldArb, stepsArb(8), fc.constantFrom(...kinds), fc.nat(), (world, steps, kind, pick) => {
        let last: Transition | undefined;
        runWorld(world, steps, (tr) => (last = tr));
        const now = last!.now;
        let state = last!.after;
        if (!Object.values(state.ledger.tasks).some((t) => t.lease)) {
          // give the probe something to act on: every worker asks for work once
          const asks: Intent[] = world.workers.map((_, i) => ({ kind: 'claim-next', id: `ask${i}`, workerId: workerId(i) }));
          state = { ...state, ledger: schedule(state, asks, now).ledger };
        }
        const active = Object.keys(state.ledger.tasks)
          .filter((id) => state.ledger.tasks[id]!.lease)
          .sort();
        if (active.length === 0) return;
        const id = active[pick % active.length]!;
        const rt = state.ledger.tasks[id]!;
        const lease = rt.lease!;
        const holder = { id: 'probe', workerId: lease.workerId, taskId: id, fencingToken: lease.fencingToken };
        const maint = { id: 'probe', workerId: 'maint', taskId: id };
        const intent: Intent =
          kind === 'submit'
            ? { ...holder, kind, prUrl: `https://github.com/${rt.repo}/pull/9` }
            : kind === 'fail'
              ? { ...holder, kind, reason: 'nope' }
              : kind === 'heartbeat' || kind === 'release' || kind === 'complete'
                ? { ...holder, kind }
                : kind === 'requeue' || kind === 'cancel'
                  ? { ...maint, kind }
                  : { ...maint, kind: 'review', result: kind };
        const r = schedule(state, [intent], now);
        const after = r.ledger.tasks[id]!;
        const o = r.outcomes[0]!;
        expect(checkInvariants({ ...state, ledger: r.ledger })).toEqual([]);
        const maxAttempts = state.board.repos[rt.repo]?.maxAttempts ?? DEFAULTS.maxAttempts;
        const ended = rt.cancelPending ? 'cancelled' : 'queued';
        if (kind === 'complete' && rt.state === 'pr_open') {
          expect(o.code).toBe('invalid-transition');
          return;
        }
        if (kind === 'changes-requested' && rt.state === 'leased') {
          expect(after.lease!.expiresAt).toBe(now + lease.ttlMs);
        }
        expect(o.status).toBe('applied');
        const expected: Record<(typeof kinds)[number], string> = {
          heartbeat: rt.state,
          release: ended,
          submit: 'pr_open',
          complete: 'done',
          fail: rt.cancelPending ? 'cancelled' : rt.attempt >= maxAttempts ? 'stuck' : 'queued',
          merged: 'done',
          closed: ended,
          'changes-requested': 'leased',
          requeue: ended,
          cancel: 'cancelled',
        };
        expect(after.state).toBe(expected[kind]);
        expect(after.fencingToken).toBe(rt.fencingToken);
        if (after.state === 'done') {
          expect(r.ledger.workers[lease.workerId]!.credit).toBe(state.ledger.workers[lease.workerId]!.credit + lease.points!);
          expect(after.creditedTo).toBe(lease.workerId);
        }
        if (kind === 'heartbeat') expect(after.lease!.expiresAt).toBe(now + lease.ttlMs);
        if (['heartbeat', 'submit', 'changes-requested'].includes(kind)) expect(after.lease).toMatchObject({ workerId: lease.workerId, fencingToken: lease.fencingToken });
        else if (after.state !== 'leased' && after.state !== 'pr_open') expect(r.ledger.workers[lease.workerId]!.activeLeases).not.toContain(id);
      }),
      fcOptions(1500),
    );
  });

  it('area keys overlap exactly when areasOverlap says so', () => {
    const seg = fc.constantFrom('src', 'docs', 'a', 'ab', 'x.ts', '.');
    const area = fc
      .tuple(fc.array(seg, { maxLength: 3 }), fc.boolean(), fc.boolean())
      .map(([parts, lead, trail]) => (lead ? './' : '') + parts.join('/') + (trail && parts.length ? '/' : ''));
    fc.assert(
      fc.property(area, area, (a, b) => {
        expect(keysOverlap(areaKey(a), areaKey(b))).toBe(areasOverlap(a, b));
      }),
      fcOptions(1000),
    );
  });
});
