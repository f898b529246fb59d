/**
 * Write-back: tell the issue when a lease starts and ends (only for repos whose policy has
 * `github.writeBack: true`).
 *
 * On `lease-granted`: one comment naming the contributor and the lease expiry, and the
 * label `owp:claimed`. On `lease-released` / `lease-expired`: the label goes and a short
 * comment says the task is free again. When the task ends otherwise (done, cancelled,
 * failed, requeued, stuck) the label goes, without a comment.
 *
 * Invariants:
 * - Never a duplicate comment: a receipt `wb/<task>/<fencingToken>/<kind>` in kv says the
 *   job is done, and before any POST the issue's comments are searched for the job's hidden
 *   marker `<!-- owp:<kind>:<task>:<fencingToken> -->` (a POST that failed after GitHub
 *   stored it leaves the marker behind, so the retry does not post again).
 * - Comment text never contains the relay's token or any URL of the relay.
 */
import type { BatchResult } from '../ports.js';
import type { AuditEvent, Task } from '../../shared/model.js';
import { repoPath, splitRepo, type GithubContext } from './context.js';
import { shapeComment } from './shapes.js';

export const CLAIMED_LABEL = 'owp:claimed';

export type WriteBackKind = 'claim' | 'release' | 'unlabel';

export interface WriteBackJob {
  kind: WriteBackKind;
  taskId: string;
  repo: string;
  issueNumber: number;
  fencingToken: number;
  workerId?: string;
  expiresAt?: number;
  /** Why the lease ended, for the release comment. */
  reason?: 'released' | 'expired';
}

const RELEASE_KINDS: Record<string, WriteBackKind> = {
  'lease-released': 'release',
  'lease-expired': 'release',
  'task-done': 'unlabel',
  'task-cancelled': 'unlabel',
  'task-failed': 'unlabel',
  'task-requeued': 'unlabel',
  'task-stuck': 'unlabel',
};

/** The write-back jobs a batch asks for (pure over the batch and the board). */
export function jobsForBatch(result: BatchResult, board: { tasks: Record<string, Task>; repos: Record<string, { github?: { enabled: boolean; writeBack: boolean } }> }): WriteBackJob[] {
  const jobs: WriteBackJob[] = [];
  for (const ev of result.events as AuditEvent[]) {
    if (!ev.taskId) continue;
    const kind = ev.kind === 'lease-granted' ? 'claim' : RELEASE_KINDS[ev.kind];
    if (!kind) continue;
    const task = board.tasks[ev.taskId];
    if (!task || task.source !== 'github' || !task.issueNumber) continue;
    const policy = board.repos[task.repo];
    if (!policy?.github?.enabled || !policy.github.writeBack) continue;
    const runtime = result.tasks[ev.taskId] ?? undefined;
    const fencingToken = ev.fencingToken ?? runtime?.fencingToken ?? 0;
    if (fencingToken <= 0) continue;
    const job: WriteBackJob = { kind, taskId: ev.taskId, repo: task.repo, issueNumber: task.issueNumber, fencingToken };
    if (ev.workerId) job.workerId = ev.workerId;
    if (kind === 'claim' && runtime?.lease && runtime.lease.fencingToken === fencingToken) job.expiresAt = runtime.lease.expiresAt;
    if (kind === 'release') job.reason = ev.kind === 'lease-expired' ? 'expired' : 'released';
    jobs.push(job);
  }
  return jobs;
}

/** A worker id as it may appear in a comment: no markdown, no mentions, no HTML. */
function safeName(s: string | undefined): string {
  return (s ?? 'a contributor').replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 100) || 'a contributor';
}

export function markerFor(job: Pick<WriteBackJob, 'kind' | 'taskId' | 'fencingToken'>): string {
  return `<!-- owp:${job.kind}:${job.taskId}:${job.fencingToken} -->`;
}

export function commentFor(job: WriteBackJob): string | undefined {
  const who = safeName(job.workerId);
  if (job.kind === 'claim') {
    const until = job.expiresAt ? new Date(job.expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z') : 'its TTL';
    return `This task was claimed through OWP Pool by \`${who}\`. The lease expires at ${until} unless the contributor keeps working on it; if it lapses, the task goes back to the pool.\n\n${markerFor(job)}`;
  }
  if (job.kind === 'release') {
    const why = job.reason === 'expired' ? 'expired' : 'was released';
    return `The OWP Pool lease of \`${who}\` ${why}; this task is open for claiming again.\n\n${markerFor(job)}`;
  }
  return undefined;
}

interface CommentItem {
  body?: string | null;
}

/** Carry out one job. Throws on GitHub failure (the caller retries; the job is idempotent). */
export async function runWriteBack(ctx: GithubContext, job: WriteBackJob): Promise<'done' | 'skipped'> {
  const receipt = `wb/${job.taskId}/${job.fencingToken}/${job.kind}`;
  if (await ctx.kv.get(receipt)) return 'skipped';
  const { owner, name } = splitRepo(job.repo);
  const body = commentFor(job);
  if (body) {
    const marker = markerFor(job);
    const { items } = await ctx.client.listAll<CommentItem>(
      `comments|${job.repo.toLowerCase()}|${job.issueNumber}`,
      `${repoPath(job.repo)}/issues/${job.issueNumber}/comments?per_page=100`,
      shapeComment,
    );
    if (!items.some((c) => typeof c.body === 'string' && c.body.includes(marker))) {
      await ctx.client.write('POST /repos/{owner}/{repo}/issues/{issue_number}/comments', { owner, repo: name, issue_number: job.issueNumber, body });
    }
  }
  if (job.kind === 'claim') {
    await ctx.client.write('POST /repos/{owner}/{repo}/issues/{issue_number}/labels', { owner, repo: name, issue_number: job.issueNumber, labels: [CLAIMED_LABEL] });
  } else {
    try {
      await ctx.client.write('DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}', { owner, repo: name, issue_number: job.issueNumber, name: CLAIMED_LABEL });
    } catch (e) {
      if ((e as { status?: number }).status !== 404) throw e; // 404: the label is already gone
    }
  }
  await ctx.kv.put(receipt, { at: ctx.port.now() });
  return 'done';
}
