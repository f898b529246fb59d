/**
 * Issue import: open issues carrying the repo's label become board tasks `OWNER/NAME#N`.
 *
 * Invariants:
 * - All or nothing per repo: every page is fetched first; only then is the board changed,
 *   in one upsertTasks call. A failure on any page changes nothing.
 * - Conditional requests: each page is asked with its stored ETag; an unchanged repo costs
 *   only 304s, which GitHub does not count against the rate limit.
 * - Pull requests (the issues endpoint returns them too) are skipped.
 * - A task whose issue is closed or lost the label is cancelled on the board (cancelled:
 *   true). The scheduler ends queued ones; a leased one keeps its lease until it ends and is
 *   reported as `flagged` so a maintainer can decide. Finished tasks are never touched.
 *   The board's cancelReason says why (the issue closed or lost the label), so the task is
 *   never reported as cancelled by a maintainer; a reopened issue clears it.
 * - Board fields a maintainer owns (held, and a cancellation the importer did not make)
 *   are kept as they are. A task is rewritten from its issue only when the issue changed
 *   (its updated_at differs from the one last applied, kv `seen/<taskId>`), so a
 *   maintainer's edit on the board stands until someone edits the issue.
 */
import { TaskSchema, listProblems, type RepoPolicy, type TaskInput } from '../../shared/model.js';
import { taskFromIssue, type GithubIssueLike } from '../../shared/github-labels.js';
import { repoPath, sameRepo, type GithubContext } from './context.js';
import { shapeIssue } from './shapes.js';

export interface ImportProblem {
  taskId: string;
  label?: string;
  message: string;
}

export interface ImportResult {
  added: number;
  updated: number;
  cancelled: number;
  flagged: number;
  unchanged: number;
  flaggedTasks: string[];
  cancelledTasks: string[];
  problems: ImportProblem[];
}

interface IssueItem extends GithubIssueLike {
  updated_at?: string;
  pull_request?: unknown;
}

const cancelMark = (taskId: string): string => `cancelled-by-github/${taskId}`;

export async function importIssues(ctx: GithubContext, policy: RepoPolicy): Promise<ImportResult> {
  const repo = policy.repo;
  const label = policy.github?.label ?? 'owp';
  const path = `${repoPath(repo)}/issues?labels=${encodeURIComponent(label)}&state=open&sort=created&direction=asc&per_page=100`;
  // 1. Collect every page (throws on any failure: nothing below runs).
  const { items } = await ctx.client.listAll<IssueItem>(`issues|${repo.toLowerCase()}`, path, shapeIssue);

  // 2. Work out the new board, still without touching it.
  const board = ctx.port.board();
  const now = ctx.port.now();
  const problems: ImportProblem[] = [];
  const upserts: TaskInput[] = [];
  const open = new Set<string>();
  const uncancel: string[] = [];
  const seen: [string, string][] = [];
  let skipped = 0;
  for (const issue of items) {
    if (issue.pull_request) continue;
    const { task, problems: labelProblems } = taskFromIssue(repo, issue, now);
    for (const p of labelProblems) problems.push({ taskId: task.id, label: p.label, message: p.message });
    const existing = board.tasks[task.id];
    open.add(task.id);
    let cancelled = existing?.cancelled ?? false;
    if (cancelled && (await ctx.kv.get(cancelMark(task.id)))) {
      cancelled = false; // reopened (or labelled again) after the importer cancelled it
      uncancel.push(task.id);
    } else if (existing && issue.updated_at && (await ctx.kv.get<string>(`seen/${task.id}`)) === issue.updated_at) {
      skipped++;
      continue;
    }
    const merged: TaskInput = {
      ...task,
      held: existing?.held ?? false,
      cancelled,
      createdAt: existing?.createdAt ?? task.createdAt,
      ...(existing?.cancelReason ? { cancelReason: cancelled ? existing.cancelReason : '' } : {}),
    };
    const bad = listProblems(TaskSchema, merged);
    if (bad.length > 0) {
      problems.push({ taskId: task.id, message: `Issue #${issue.number} cannot become a task (${bad[0]!.message}); fix the issue and sync again.` });
      continue;
    }
    upserts.push(merged);
    if (issue.updated_at) seen.push([`seen/${task.id}`, issue.updated_at]);
  }
  const cancelledTasks: string[] = [];
  const flaggedTasks: string[] = [];
  // Read the ledger now, after the awaits above: the engine reuses old ledger records.
  const ledger = ctx.port.ledger();
  for (const [id, task] of Object.entries(board.tasks)) {
    if (task.source !== 'github' || !sameRepo(task.repo, repo) || open.has(id) || task.cancelled) continue;
    const state = ledger.tasks[id]?.state;
    if (state === 'done' || state === 'cancelled') continue;
    const issue = task.issueNumber ? `issue #${task.issueNumber}` : 'issue';
    upserts.push({ ...task, cancelled: true, cancelReason: `Cancelled because its GitHub ${issue} was closed or lost the ${label} label.` });
    if (state === 'leased' || state === 'pr_open') flaggedTasks.push(id);
    else cancelledTasks.push(id);
  }

  // 3. Apply in one transaction.
  const result = upserts.length > 0 ? ctx.port.upsertTasks(upserts) : { added: [], updated: [], unchanged: [] };
  for (const id of [...cancelledTasks, ...flaggedTasks]) await ctx.kv.put(cancelMark(id), true);
  for (const id of uncancel) await ctx.kv.del(cancelMark(id));
  for (const [key, at] of seen) await ctx.kv.put(key, at);
  for (const id of flaggedTasks) {
    ctx.log.warn('github: issue closed or unlabelled while a lease holds its task; cancellation is pending', { taskId: id, repo });
  }
  const touched = new Set([...cancelledTasks, ...flaggedTasks]);
  return {
    added: result.added.length,
    updated: result.updated.filter((id) => !touched.has(id)).length,
    cancelled: cancelledTasks.length,
    flagged: flaggedTasks.length,
    unchanged: result.unchanged.length + skipped,
    flaggedTasks,
    cancelledTasks,
    problems,
  };
}
