/**
 * One batch of arbitration (see index.ts for the published order), with or without the
 * indexes a session carries from the batch before.
 *
 * Invariants:
 * - Pure: no clock, no I/O, no randomness; the input state is never mutated. Given
 *   `carried`, its indexes and tasks copy are moved on in place (the session's, see session.ts).
 * - The same input gives the same result with or without `carried`.
 */
import { quote } from '../errors.js';
import type { AuditEvent, Intent, Ledger, Outcome, PoolState, TaskRuntime, WorkerRuntime } from '../model.js';
import { claimNextPool, claimNamed, claimNext, type ClaimNextPool } from './claims.js';
import type { PoolIndexes } from './indexes.js';
import { applyLeaseIntent, applyMaintainerIntent, type Decision } from './leases.js';
import { compactBuckets, flushAdded } from './pool.js';
import { expireLeases, reconcileBoard } from './reconcile.js';
import { fairness } from './scores.js';
import { clean, createDraft, emit, own, putOutcome, toLedger, workerRuntime, type Draft } from './state.js';

export interface ScheduleResult {
  ledger: Ledger;
  outcomes: Outcome[];
  events: AuditEvent[];
}

/** What a session hands the next batch (session.ts): all of it describes the input ledger. */
export interface Carried {
  indexes: PoolIndexes;
  /** A copy of the input ledger's tasks record made ahead of time; else the batch copies. */
  tasksCopy?: Record<string, TaskRuntime>;
  /** The same for its workers record. */
  workersCopy?: Record<string, WorkerRuntime>;
  /** Board task ids that changed since the batch that made the input ledger. */
  changedTasks: Iterable<string>;
  /** Task ids the batch that made the input ledger set. */
  prevTouched: Iterable<string>;
}

/** Relay configuration the rules depend on (not state: the same for every batch of a relay). */
export interface ScheduleRules {
  /** The GitHub host submitted pull request links must be on (default github.com). */
  githubHost?: string;
}

export interface BatchRun {
  result: ScheduleResult;
  /** The indexes of result.ledger. */
  indexes: PoolIndexes;
  /** Task and worker ids this batch set: every runtime that differs from the input is here. */
  touched: Set<string>;
  workersTouched: Set<string>;
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
 * from `draft` after the non-claim intents ran (credit earned in this batch counts).
 */
export function intentOrder(intents: readonly Intent[], fairnessOf: (workerId: string) => number): number[] {
  const idx = intents.map((_, i) => i);
  const cls = (i: number): number => CLASS[intents[i]!.kind] ?? 0;
  const fair = new Map<number, number>();
  for (const i of idx) if (cls(i) === 2) fair.set(i, fairnessOf(intents[i]!.workerId));
  return idx.sort((a, b) => cls(a) - cls(b) || (cls(a) === 2 ? fair.get(b)! - fair.get(a)! : 0) || a - b);
}

function decide(draft: Draft, intent: Intent, pool: () => ClaimNextPool): Decision & { taskId?: string } {
  switch (intent.kind) {
    case 'claim':
      return claimNamed(draft, intent);
    case 'claim-next':
      return claimNext(draft, intent, pool());
    case 'heartbeat':
    case 'release':
    case 'submit':
    case 'complete':
    case 'fail':
      return { ...applyLeaseIntent(draft, intent), taskId: intent.taskId };
    case 'review':
    case 'requeue':
    case 'cancel':
      return { ...applyMaintainerIntent(draft, intent), taskId: intent.taskId };
    default: {
      const kind = (intent as { kind?: unknown }).kind;
      return { status: 'rejected', code: 'invalid-intent', message: `Unknown intent kind ${quote(kind)}; see docs/PROTOCOL.md for the kinds.` };
    }
  }
}

export function runBatch(state: PoolState, intents: Intent[], now: number, carried?: Carried, rules?: ScheduleRules): BatchRun {
  const draft = createDraft(state, now, carried?.indexes, carried?.tasksCopy, rules?.githubHost, carried?.workersCopy);
  if (carried) {
    const only = new Set<string>(carried.prevTouched);
    for (const id of carried.changedTasks) {
      only.add(id);
      draft.dirty.push(id);
    }
    reconcileBoard(draft, only);
  } else reconcileBoard(draft);
  expireLeases(draft);

  const decided = new Map<string, Outcome>();
  const outcomes: Outcome[] = new Array(intents.length);
  // Sorting needs fairness after the non-claim intents ran, so run class 0 first, then sort the rest.
  const order = intentOrder(intents, () => 0);
  const firstClaim = order.findIndex((i) => CLASS[intents[i]!.kind] !== 0 && CLASS[intents[i]!.kind] !== undefined);
  const head = firstClaim < 0 ? order : order.slice(0, firstClaim);
  let pool: ClaimNextPool | undefined;
  const getPool = (): ClaimNextPool => (pool ??= claimNextPool(draft));

  const run = (i: number): void => {
    const intent = intents[i]!;
    const known = own(draft.outcomes, intent.id) ?? decided.get(intent.id);
    if (known) {
      outcomes[i] = known;
      return;
    }
    const d = decide(draft, intent, getPool);
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
      batch: draft.batch,
      at: now,
    });
    outcomes[i] = outcome;
    decided.set(intent.id, outcome);
    if (intent.kind !== 'heartbeat') {
      putOutcome(draft, outcome);
      if (d.status === 'rejected') {
        const claim = intent.kind === 'claim' || intent.kind === 'claim-next';
        emit(draft, {
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
    const fairnessOf = (workerId: string): number => fairness(workerRuntime(draft, workerId), now);
    const restIntents = rest.map((i) => intents[i]!);
    for (const j of intentOrder(restIntents, fairnessOf)) run(rest[j]!);
  }
  const ledger = toLedger(draft);
  flushAdded(draft);
  compactBuckets(draft);
  const indexes: PoolIndexes = { active: draft.active, leased: draft.leased, candidates: draft.candidates, buckets: draft.buckets, unordered: draft.unordered, skillCounts: draft.skillCounts };
  return { result: { ledger, outcomes, events: draft.events }, indexes, touched: draft.touched, workersTouched: draft.workersTouched };
}
