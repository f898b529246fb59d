/**
 * Lease commands: `owp claim`, `heartbeat`, `release`, `submit`, `complete`, `fail`.
 *
 * Invariants:
 * - Every grant's fencing token is written to the lease book (OWP_HOME) before the command
 *   reports success; every lease action presents the token from the book (or --fencing-token).
 * - A lease that ended (release, complete, fail, lease-lost) leaves the book.
 * - Each intent carries a fresh id, so a retried request never acts twice.
 */
import { RefusedError, UsageError, formatDuration, parseIntArg, str } from '../args.js';
import { ensureAccepted, newIntentId, taskPath } from '../client.js';
import type { Command, Context } from '../command.js';
import type { Outcome, Task } from '../../../shared/model.js';

export interface LeaseInfo {
  taskId?: string;
  fencingToken: number;
  expiresAt: number;
  ttlMs?: number;
}

export interface ClaimAnswer {
  outcome: Outcome;
  task: Task;
  lease: LeaseInfo;
}

function leaseFrom(r: { outcome?: Outcome; lease?: Partial<LeaseInfo> }): LeaseInfo | undefined {
  const fencingToken = r.lease?.fencingToken ?? r.outcome?.fencingToken;
  const expiresAt = r.lease?.expiresAt ?? r.outcome?.expiresAt;
  if (fencingToken === undefined || expiresAt === undefined) return undefined;
  return { ...r.lease, fencingToken, expiresAt };
}

/** Claim a task (or the best next one) and remember its fencing token. */
export async function claim(ctx: Context, taskId?: string): Promise<ClaimAnswer> {
  const book = await ctx.leaseBook();
  const r = ensureAccepted(await ctx.client().post<ClaimAnswer>('/api/claim', { ...(taskId ? { taskId } : {}), intentId: newIntentId() }));
  const lease = leaseFrom(r);
  if (!r.task || !lease) throw new RefusedError('upstream-error', 'the relay granted a claim but sent no task or lease');
  book.put(r.task.id, { fencingToken: lease.fencingToken, expiresAt: lease.expiresAt, ttlMs: lease.ttlMs, title: r.task.title });
  return { ...r, lease };
}

async function fencingTokenFor(ctx: Context, taskId: string): Promise<number> {
  const given = str(ctx.p, 'fencing-token');
  if (given !== undefined) return parseIntArg(given, '--fencing-token', 1);
  const book = await ctx.leaseBook();
  const held = book.get(taskId);
  if (!held)
    throw new RefusedError('lease-lost', `no lease on ${taskId} is remembered in ${book.file}; claim it first (owp claim ${taskId}) or, if you hold it from elsewhere, pass --fencing-token N (the TOKEN column of \`owp status\`)`);
  return held.fencingToken;
}

type Action = 'heartbeat' | 'release' | 'submit' | 'complete' | 'fail';

/** Send one lease action with the remembered fencing token; keeps the book in step. */
export async function leaseAction(
  ctx: Context,
  action: Action,
  taskId: string,
  extra: Record<string, unknown> = {},
  fencingToken?: number,
): Promise<{ outcome: Outcome; lease?: LeaseInfo }> {
  const token = fencingToken ?? (await fencingTokenFor(ctx, taskId));
  const book = await ctx.leaseBook();
  try {
    const body = { fencingToken: token, ...extra, ...(action === 'heartbeat' ? {} : { intentId: newIntentId() }) };
    const r = ensureAccepted(await ctx.client().post<{ outcome: Outcome; lease?: LeaseInfo }>(taskPath(taskId, `/${action}`), body));
    if (action === 'release' || action === 'complete' || action === 'fail') book.remove(taskId);
    else {
      const lease = leaseFrom(r);
      if (lease) book.put(taskId, { fencingToken: lease.fencingToken, expiresAt: lease.expiresAt, ...(lease.ttlMs ? { ttlMs: lease.ttlMs } : {}) });
    }
    return r;
  } catch (e) {
    if (e instanceof RefusedError && e.code === 'lease-lost') {
      book.remove(taskId, token);
    }
    throw e;
  }
}

const FENCING_OPTION = {
  'fencing-token': { type: 'string', arg: 'N', help: 'present this fencing token instead of the remembered one' },
} as const;

export const claimCmd: Command = {
  name: 'claim',
  args: '[TASK_ID]',
  summary: 'lease a task (or, without TASK_ID, the best eligible one)',
  details: 'Refused claims exit 1 with the filter that said no, e.g. `owp: skill-mismatch: ...`.',
  async run(ctx) {
    const taskId = ctx.p.positionals[0];
    ctx.noMorePositionals(1);
    const r = await claim(ctx, taskId);
    ctx.out.result(r, () => [
      `Leased ${r.task.id}: ${r.task.title}`,
      `  repo ${r.task.repo}, ${r.task.points} point(s), fencing token ${r.lease.fencingToken}, expires ${new Date(r.lease.expiresAt).toISOString()} (in ${formatDuration(r.lease.expiresAt - ctx.now())})`,
      ...(r.task.issueUrl ? [`  issue ${r.task.issueUrl}`] : []),
    ]);
    return 0;
  },
};

function simple(action: Action, summary: string, options: Command['options'], extra: (ctx: Context) => Record<string, unknown>, done: (id: string, r: { lease?: LeaseInfo }) => string): Command {
  return {
    name: action,
    args: 'TASK_ID',
    summary,
    options: { ...FENCING_OPTION, ...options },
    async run(ctx) {
      const taskId = ctx.positional(0, 'TASK_ID');
      ctx.noMorePositionals(1);
      const body = extra(ctx);
      const r = await leaseAction(ctx, action, taskId, body);
      ctx.out.result(r, () => done(taskId, r));
      return 0;
    },
  };
}

export const heartbeatCmd = simple('heartbeat', 'extend your lease to now + TTL', {}, () => ({}), (id, r) =>
  `Lease on ${id} extended${r.lease ? ` until ${new Date(r.lease.expiresAt).toISOString()}` : ''}.`,
);
export const releaseCmd = simple('release', 'give a leased task back to the queue', {}, () => ({}), (id) => `Released ${id}.`);
export const submitCmd = simple(
  'submit',
  'report the pull request for your lease (task goes to pr_open)',
  { pr: { type: 'string', arg: 'URL', help: 'the pull request URL (required)' } },
  (ctx) => {
    const pr = str(ctx.p, 'pr');
    if (!pr) throw new UsageError('--pr URL is required, e.g. --pr https://github.com/owner/name/pull/12');
    if (!/^https?:\/\/\S+$/.test(pr)) throw new UsageError(`--pr must be an http(s) URL, got "${pr}"`);
    return { prUrl: pr };
  },
  (id) => `Submitted ${id}; it now waits for review.`,
);
export const completeCmd = simple('complete', 'mark your leased task done (no PR needed)', {}, () => ({}), (id) => `Completed ${id}.`);
export const failCmd = simple(
  'fail',
  'give up on your lease with a reason (task is requeued or marked stuck)',
  { reason: { type: 'string', arg: 'TEXT', help: 'why it failed (required)' } },
  (ctx) => {
    const reason = str(ctx.p, 'reason');
    if (!reason) throw new UsageError('--reason TEXT is required');
    return { reason };
  },
  (id) => `Reported failure of ${id}.`,
);
