/**
 * Maintainer decisions on one task: `owp review TASK_ID --merged|--closed|--changes-requested`,
 * `owp requeue TASK_ID` (a stuck or live task back to the queue) and
 * `owp cancel TASK_ID [--reason TEXT]` (the task ends; its lease, if any, ends too).
 *
 * Invariant: each is one intent over HTTP; a rejected outcome is a refusal (exit 1).
 */
import { UsageError, flag, str } from '../args.js';
import { ensureAccepted, taskPath } from '../client.js';
import type { Command } from '../command.js';
import type { Outcome } from '../../../shared/model.js';

const RESULTS = ['merged', 'closed', 'changes-requested'] as const;

export const review: Command = {
  name: 'review',
  args: 'TASK_ID',
  summary: 'record the review of a submitted PR (merged credits the worker)',
  options: {
    merged: { type: 'boolean', help: 'the PR was merged: task done, points credited' },
    closed: { type: 'boolean', help: 'the PR was closed unmerged: task back to the queue' },
    'changes-requested': { type: 'boolean', help: 'back to the same worker with a fresh lease' },
    pr: { type: 'string', arg: 'URL', help: 'the PR URL, if it changed' },
    note: { type: 'string', arg: 'TEXT', help: 'with --changes-requested: what to change (the worker\'s tool gets it)' },
  },
  async run(ctx) {
    const taskId = ctx.positional(0, 'TASK_ID');
    ctx.noMorePositionals(1);
    const chosen = RESULTS.filter((r) => flag(ctx.p, r));
    if (chosen.length !== 1) throw new UsageError('give exactly one of --merged, --closed, --changes-requested');
    const pr = str(ctx.p, 'pr');
    const note = str(ctx.p, 'note');
    const r = ensureAccepted(
      await ctx.client().post<{ outcome: Outcome }>(taskPath(taskId, '/review'), { result: chosen[0], ...(pr ? { prUrl: pr } : {}), ...(note ? { note } : {}) }),
    );
    ctx.out.result(r, () => `Recorded review of ${taskId}: ${chosen[0]}.`);
    return 0;
  },
};

export const requeue: Command = {
  name: 'requeue',
  args: 'TASK_ID',
  summary: 'put a stuck (or leased, or PR open) task back in the queue; attempts are kept',
  async run(ctx) {
    const taskId = ctx.positional(0, 'TASK_ID');
    ctx.noMorePositionals(1);
    const r = ensureAccepted(await ctx.client().post<{ outcome: Outcome }>(taskPath(taskId, '/requeue'), {}));
    ctx.out.result(r, () => `Requeued ${taskId}.`);
    return 0;
  },
};

export const cancel: Command = {
  name: 'cancel',
  args: 'TASK_ID',
  summary: 'cancel a task for good (a held lease ends; cancelled tasks are not offered again)',
  options: {
    reason: { type: 'string', arg: 'TEXT', help: 'why (shown on the dashboard and in the audit log)' },
  },
  async run(ctx) {
    const taskId = ctx.positional(0, 'TASK_ID');
    ctx.noMorePositionals(1);
    const reason = str(ctx.p, 'reason');
    const r = ensureAccepted(await ctx.client().post<{ outcome: Outcome }>(taskPath(taskId, '/cancel'), reason ? { reason } : {}));
    ctx.out.result(r, () => `Cancelled ${taskId}.`);
    return 0;
  },
};
