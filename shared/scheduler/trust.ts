/**
 * The trust ladder inside a batch: a review that merges or closes a worker's pull request is
 * noted in the worker's ladder state for the task's repo (WorkerRuntime.ladder), and the
 * ladder's rules (shared/trust-ladder.ts) may move the worker's level there by one tier.
 *
 * Invariants:
 * - Nothing happens unless the repo's policy has the ladder on, and nothing while a
 *   maintainer's override pins the worker's level in that repo.
 * - A move is one `trust-changed` event (actor `scheduler`, the repo, before / after and
 *   the reason), emitted in the same batch as the review, so the next claim already sees it.
 * - Decided from the ledger alone, so replaying the batches gives the same levels.
 */
import { DEFAULTS, type TaskRuntime } from '../model.js';
import { liveLadder, noteOutcome, trustKey } from '../trust-ladder.js';
import { SCHEDULER_ACTOR, compareStrings, emit, own, policyFor, put, setWorker, workerRuntime, type Draft } from './state.js';

/** Note a review of the PR of `prev`'s lease (merged or closed unmerged) on its holder's ladder. */
export function noteReview(draft: Draft, prev: TaskRuntime, result: 'merged' | 'closed', intentId: string): void {
  const holder = prev.lease?.workerId;
  const policy = policyFor(draft, prev.repo);
  const ladder = policy.trustLadder;
  if (!holder || !ladder?.enabled || Object.hasOwn(draft.board.trust, trustKey(holder, prev.repo))) return;
  const base = own(draft.board.trust, holder) ?? DEFAULTS.workerTrust;
  const workerState = workerRuntime(draft, holder);
  const tier = own(draft.board.tasks, prev.taskId)?.tier ?? DEFAULTS.tier;
  const highest = policy.allowedTiers.reduce((a, b) => (b > a ? b : a), 0 as (typeof policy.allowedTiers)[number]);
  const { state, change } = noteOutcome(liveLadder(workerState, policy, base), base, { result, tier }, ladder, highest, prev.repo, draft.now);
  // Keys in code-unit order: the ledger does not depend on the order repos were first seen.
  const states: Record<string, typeof state> = {};
  const old = workerState.ladder ?? {};
  for (const repo of [...new Set([...Object.keys(old), prev.repo])].sort(compareStrings)) put(states, repo, repo === prev.repo ? state : old[repo]!);
  setWorker(draft, { ...workerState, ladder: states });
  if (change) {
    emit(draft, { kind: 'trust-changed', actor: SCHEDULER_ACTOR, workerId: holder, taskId: prev.taskId, intentId, repo: prev.repo, before: change.from, after: change.to, reason: change.reason });
  }
}
