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
 * schedule() builds its indexes by scanning every task; a SchedulerSession (session.ts)
 * keeps them from batch to batch, so a batch costs what changed. Both decide the same.
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
import type { Intent, PoolState } from '../model.js';
import { runBatch, type ScheduleResult, type ScheduleRules } from './batch.js';

export function schedule(state: PoolState, intents: Intent[], now: number, rules?: ScheduleRules): ScheduleResult {
  return runBatch(state, intents, now, undefined, rules).result;
}

export { intentOrder, type ScheduleResult, type ScheduleRules } from './batch.js';
export { DEFAULT_GITHUB_HOST, parsePrUrl, prLinkProblem } from './pr-links.js';
export { SchedulerSession, type ScheduleFn, type SessionBatch, type SessionInput } from './session.js';
export { checkInvariants } from './invariants.js';
export { activeLeaseCount, reviewLoad, pointsInUse } from './views.js';
export { FILTERS, type Filter, type Rejection } from './filters.js';
export { SCORES, fairness, type Score } from './scores.js';
export { fnv1a32, tieBreakHash } from './hash.js';
export { defaultPolicy } from './state.js';
export { explainTask, type Explanation, type ExplainReason, type WorkerVerdict } from './explain.js';
