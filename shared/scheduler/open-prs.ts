/**
 * What a worker is busy with, split the way the limits need it, and the `max-open-prs`
 * filter.
 *
 * A worker's active leases are of two kinds:
 * - in progress: state `leased` (a fresh grant, or a pull request sent back with
 *   changes requested). These count against `maxConcurrent` and `capacity`.
 * - awaiting review: state `pr_open`. These do not stop their author from working on the
 *   next task; they count against the repo's review budget (review-budget filter) and the
 *   worker's `maxOpenPrs`.
 *
 * `max-open-prs` counts every active lease, not only the pull requests already open: each
 * lease in progress ends as a pull request, so the worker never has more than `maxOpenPrs`
 * pull requests waiting for maintainers, whatever its maxConcurrent.
 *
 * Invariants:
 * - Pure reads of the working state; no allocation (claim-next runs the filters per candidate).
 */
import { DEFAULTS, type WorkerRuntime } from '../model.js';
import type { ErrorCode } from '../errors.js';
import type { ClaimContext, Filter } from './filters.js';
import { leasePoints, own, type Draft } from './state.js';

/** Leases of this worker in state `leased` (being worked on). */
export function leasesInProgress(draft: Draft, workerState: WorkerRuntime): number {
  let n = 0;
  for (let i = 0; i < workerState.activeLeases.length; i++) if (own(draft.tasks, workerState.activeLeases[i]!)?.state === 'leased') n++;
  return n;
}

/** Points of this worker's leases in state `leased`. */
export function pointsInProgress(draft: Draft, workerState: WorkerRuntime): number {
  let points = 0;
  for (let i = 0; i < workerState.activeLeases.length; i++) {
    const runtime = own(draft.tasks, workerState.activeLeases[i]!);
    if (runtime?.state === 'leased' && runtime.lease) points += leasePoints(draft.board, runtime.lease);
  }
  return points;
}

export function maxOpenPrsOf(ctx: ClaimContext): number {
  return ctx.profile?.maxOpenPrs ?? DEFAULTS.maxOpenPrs;
}

const test = (ctx: ClaimContext): ErrorCode | null => (ctx.workerState.activeLeases.length < maxOpenPrsOf(ctx) ? null : 'max-open-prs');

export const maxOpenPrs: Filter = {
  name: 'max-open-prs',
  scope: 'worker',
  test,
  explain(ctx) {
    const total = ctx.workerState.activeLeases.length;
    const working = leasesInProgress(ctx.draft, ctx.workerState);
    return (
      `Worker ${ctx.workerId} has ${total - working} pull request(s) awaiting review and ${working} task(s) in progress ` +
      `(each becomes a pull request); its limit of open pull requests is ${maxOpenPrsOf(ctx)}. ` +
      'Claims resume when a maintainer merges or closes one (or raise maxOpenPrs in your profile).'
    );
  },
  check(ctx) {
    const code = test(ctx);
    return code === null ? null : { code, message: this.explain(ctx, code) };
  },
};
