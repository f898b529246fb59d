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
import { leasePoints, own, type Work } from './state.js';

/** Leases of this worker in state `leased` (being worked on). */
export function leasesInProgress(w: Work, wr: WorkerRuntime): number {
  let n = 0;
  for (let i = 0; i < wr.activeLeases.length; i++) if (own(w.tasks, wr.activeLeases[i]!)?.state === 'leased') n++;
  return n;
}

/** Points of this worker's leases in state `leased`. */
export function pointsInProgress(w: Work, wr: WorkerRuntime): number {
  let points = 0;
  for (let i = 0; i < wr.activeLeases.length; i++) {
    const rt = own(w.tasks, wr.activeLeases[i]!);
    if (rt?.state === 'leased' && rt.lease) points += leasePoints(w.board, rt.lease);
  }
  return points;
}

export function maxOpenPrsOf(ctx: ClaimContext): number {
  return ctx.profile?.maxOpenPrs ?? DEFAULTS.maxOpenPrs;
}

const test = (ctx: ClaimContext): ErrorCode | null => (ctx.wr.activeLeases.length < maxOpenPrsOf(ctx) ? null : 'max-open-prs');

export const maxOpenPrs: Filter = {
  name: 'max-open-prs',
  scope: 'worker',
  test,
  explain(ctx) {
    const total = ctx.wr.activeLeases.length;
    const working = leasesInProgress(ctx.w, ctx.wr);
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
