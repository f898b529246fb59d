/**
 * schedule(state, intents, now): one deterministic batch of arbitration.
 *
 * Order within a call (published in docs/SCHEDULER.md):
 *   1. Reconcile the board (reconcile.ts): new tasks get a runtime, board cancellations apply.
 *   2. Expire 'leased' leases with expiresAt <= now, in (expiresAt, taskId) order.
 *   3. Intents in the published order:
 *        a. every non-claim intent (heartbeat, release, submit, complete, fail, review,
 *           requeue, cancel) in arrival order (their index in `intents`): they free capacity;
 *        b. named `claim`s in arrival order (the first of two claims on one task wins);
 *        c. `claim-next`s by worker fairness (scores.ts `fairness`, highest first), then
 *           arrival order.
 *      An intent whose id is already in ledger.outcomes, or was decided earlier in this
 *      batch, gets that outcome back unchanged, with no new event.
 *
 * `hints` (optional, see carry.ts ScheduleHints) only make a batch cheaper: given the board
 * task ids that changed since the call that returned this ledger, a batch reuses that
 * call's indexes instead of scanning every task. The result is the same with or without.
 *
 * Invariants:
 * - Pure: no clock, no I/O, no randomness; the input state is never mutated.
 * - Same (state, intents, now) -> the same result, byte for byte under JSON.stringify of
 *   outcomes and events; object key order of the input never changes a decision.
 * - Exactly one Outcome per intent, returned in the order of `intents`.
 * - Heartbeat outcomes are returned but not stored in ledger.outcomes (they would grow the
 *   ledger with every beat), and heartbeats never produce audit events.
 * - Every other outcome is stored under its intent id; every state change and every
 *   rejection (except heartbeats) emits an AuditEvent.
 */
import type { AuditEvent, Intent, Ledger, Outcome, PoolState } from '../model.js';
import { candidatePool, claimNamed, claimNext, type CandidatePool } from './claims.js';
import { applyLeaseIntent, applyMaintainerIntent, type Decision } from './leases.js';
import { expireLeases, reconcileBoard } from './reconcile.js';
import { fairness } from './scores.js';
import { clean, createWork, emit, own, putOutcome, toLedger, workerRuntime, type Work } from './state.js';
import { putCarry, takeCarry, type ScheduleHints } from './carry.js';
import { compactBuckets, flushAdded } from './pool.js';

export interface ScheduleResult {
  ledger: Ledger;
  outcomes: Outcome[];
  events: AuditEvent[];
}

const CLASS: Record<Intent['kind'], number> = {
  heartbeat: 0,
  release: 0,
  submit: 0,
  complete: 0,
  fail: 0,
  review: 0,
  requeue: 0,
  cancel: 0,
  claim: 1,
  'claim-next': 2,
};

/**
 * The published processing order: indexes into `intents`. Fairness for claim-next is read
 * from `w` after the non-claim intents ran (credit earned in this batch counts).
 */
export function intentOrder(intents: readonly Intent[], fairnessOf: (workerId: string) => number): number[] {
  const idx = intents.map((_, i) => i);
  const cls = (i: number): number => CLASS[intents[i]!.kind] ?? 0;
  const fair = new Map<number, number>();
  for (const i of idx) if (cls(i) === 2) fair.set(i, fairnessOf(intents[i]!.workerId));
  return idx.sort((a, b) => cls(a) - cls(b) || (cls(a) === 2 ? fair.get(b)! - fair.get(a)! : 0) || a - b);
}

function decide(w: Work, intent: Intent, pool: () => CandidatePool): Decision & { taskId?: string } {
  switch (intent.kind) {
    case 'claim':
      return claimNamed(w, intent);
    case 'claim-next':
      return claimNext(w, intent, pool());
    case 'heartbeat':
    case 'release':
    case 'submit':
    case 'complete':
    case 'fail':
      return { ...applyLeaseIntent(w, intent), taskId: intent.taskId };
    case 'review':
    case 'requeue':
    case 'cancel':
      return { ...applyMaintainerIntent(w, intent), taskId: intent.taskId };
    default: {
      const kind = (intent as { kind?: unknown }).kind;
      return { status: 'rejected', code: 'invalid-intent', message: `Unknown intent kind ${JSON.stringify(kind)}; see docs/PROTOCOL.md for the kinds.` };
    }
  }
}

/** Relay configuration the rules depend on (not state: the same for every batch of a relay). */
export interface ScheduleRules {
  /** The GitHub host submitted pull request links must be on (default github.com). */
  githubHost?: string;
}

export function schedule(state: PoolState, intents: Intent[], now: number, hints?: ScheduleHints, rules?: ScheduleRules): ScheduleResult {
  // Taken even without hints, so a Carry is never used twice.
  const taken = takeCarry(state.ledger.tasks);
  const carry = hints?.changedTasks ? taken : undefined;
  const w = createWork(state, now, carry);
  if (rules?.githubHost) w.githubHost = rules.githubHost;
  if (carry) {
    const only = new Set<string>(carry.touched);
    for (const id of hints!.changedTasks!) {
      only.add(id);
      w.dirty.push(id);
    }
    reconcileBoard(w, only);
  } else reconcileBoard(w);
  expireLeases(w);

  const decided = new Map<string, Outcome>();
  const outcomes: Outcome[] = new Array(intents.length);
  // Sorting needs fairness after the non-claim intents ran, so run class 0 first, then sort the rest.
  const order = intentOrder(intents, () => 0);
  const firstClaim = order.findIndex((i) => CLASS[intents[i]!.kind] !== 0 && CLASS[intents[i]!.kind] !== undefined);
  const head = firstClaim < 0 ? order : order.slice(0, firstClaim);
  let pool: CandidatePool | undefined;
  const getPool = (): CandidatePool => (pool ??= candidatePool(w));

  const run = (i: number): void => {
    const intent = intents[i]!;
    const known = own(w.outcomes, intent.id) ?? decided.get(intent.id);
    if (known) {
      outcomes[i] = known;
      return;
    }
    const d = decide(w, intent, getPool);
    const outcome: Outcome = clean({
      intentId: intent.id,
      kind: intent.kind,
      workerId: intent.workerId,
      status: d.status,
      taskId: d.taskId,
      code: d.code,
      message: d.message,
      filter: d.filter,
      fencingToken: d.fencingToken,
      expiresAt: d.expiresAt,
      batch: w.batch,
      at: now,
    });
    outcomes[i] = outcome;
    decided.set(intent.id, outcome);
    if (intent.kind !== 'heartbeat') {
      putOutcome(w, outcome);
      if (d.status === 'rejected') {
        const claim = intent.kind === 'claim' || intent.kind === 'claim-next';
        emit(w, {
          kind: claim ? 'claim-rejected' : 'intent-rejected',
          actor: intent.workerId,
          taskId: d.taskId,
          workerId: intent.workerId,
          intentId: intent.id,
          code: d.code,
          reason: d.filter ? `${d.filter}: ${d.message}` : d.message,
        });
      }
    }
  };

  for (const i of head) run(i);
  if (firstClaim >= 0) {
    const rest = order.slice(firstClaim);
    const fairnessOf = (workerId: string): number => fairness(workerRuntime(w, workerId), now);
    const restIntents = rest.map((i) => intents[i]!);
    for (const j of intentOrder(restIntents, fairnessOf)) run(rest[j]!);
  }
  const ledger = toLedger(w);
  flushAdded(w);
  compactBuckets(w);
  putCarry(ledger.tasks, { from: state.ledger.tasks, active: w.active, leased: w.leased, candidates: w.candidates, buckets: w.buckets, unordered: w.unordered, touched: w.touched, workersTouched: w.workersTouched });
  return { ledger, outcomes, events: w.events };
}

export { checkInvariants } from './invariants.js';
export { batchChanges, prepareNextBatch, type ScheduleHints } from './carry.js';
export { activeLeaseCount, reviewLoad, pointsInUse } from './views.js';
export { FILTERS, type Filter, type Rejection } from './filters.js';
export { SCORES, fairness, type Score } from './scores.js';
export { fnv1a32, tieBreakHash } from './hash.js';
export { defaultPolicy } from './state.js';
export { DEFAULT_GITHUB_HOST, parsePrUrl, prLinkProblem } from './pr-links.js';
export { explainTask, type Explanation, type ExplainReason, type WorkerVerdict } from './explain.js';
