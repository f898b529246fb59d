/**
 * Work that is already ours, looked up before any claim: a task sent back with changes
 * requested (state leased, with a PR), and with --resume a lease a stopped run kept (the
 * lease book holds its current fencing token). Also the repo policy's clone URL.
 *
 * Invariant: read-only against the relay; nothing here changes a lease.
 */
import { RefusedError } from '../args.js';
import type { Context } from '../command.js';
import type { RepoPolicy, Task, TaskRuntime } from '../../../shared/model.js';

export /** A lease to work on: granted by a claim, or already ours (changes requested, --resume). */
interface Grant {
  task: Task;
  lease: { fencingToken: number; expiresAt: number; ttlMs?: number };
  why: 'claimed' | 'changes-requested' | 'resumed';
  prUrl?: string;
  note?: string;
}

export async function findOwnWork(ctx: Context, workerId: string, o: { resume: boolean; changesRequested: boolean }): Promise<Grant | undefined> {
  let views: { task: Task | null; runtime: TaskRuntime | null }[];
  try {
    views = (await ctx.client().get<{ tasks: { task: Task | null; runtime: TaskRuntime | null }[] }>('/api/tasks?state=leased')).tasks;
  } catch (e) {
    if (e instanceof RefusedError) return undefined;
    throw e;
  }
  const book = o.resume ? (await ctx.leaseBook()).read() : {};
  for (const v of views) {
    const rt = v.runtime;
    if (!v.task || !rt?.lease || rt.lease.workerId !== workerId) continue;
    const lease = { fencingToken: rt.lease.fencingToken, expiresAt: rt.lease.expiresAt, ttlMs: rt.lease.ttlMs };
    if (rt.prUrl && o.changesRequested) return { task: v.task, lease, why: 'changes-requested', prUrl: rt.prUrl, ...(rt.note ? { note: rt.note } : {}) };
    if (o.resume && book[v.task.id]?.fencingToken === rt.lease.fencingToken) return { task: v.task, lease, why: 'resumed' };
  }
  return undefined;
}

export async function policyCloneUrl(ctx: Context, repo: string): Promise<string | undefined> {
  try {
    const r = await ctx.client().get<{ repos: RepoPolicy[] }>('/api/repos');
    return r.repos.find((p) => p.repo === repo)?.cloneUrl;
  } catch (e) {
    if (e instanceof RefusedError) return undefined;
    throw e;
  }
}
