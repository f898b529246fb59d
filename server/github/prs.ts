/**
 * PR tracking: link tasks to pull requests and turn PR state into review intents.
 *
 * Links come from two places: the PR URL a worker submitted (ledger runtime.prUrl, which
 * wins), and PRs whose body closes the task's issue by keyword (found through the issues
 * list with `since`, which returns pull requests too, and stored in kv `link/<taskId>`).
 *
 * Invariants:
 * - Every GET is conditional (ETag), so following unchanged PRs costs only 304s.
 * - Intents carry deterministic ids (see pr-state.ts); an id already in the ledger's
 *   outcomes is not submitted again.
 * - A failure leaves the cursor where it was, so the next sync looks at the same PRs again.
 */
import type { Outcome, RepoPolicy } from '../../shared/model.js';
import { decidePrIntent, parseClosingRefs, parsePrUrl, type PullLike, type ReviewLike } from './pr-state.js';
import { repoPath, sameRepo, type GithubContext } from './context.js';
import { shapeIssue, shapePull, shapeReview } from './shapes.js';

export interface PrLink {
  number: number;
  url?: string;
}

interface IssueListItem {
  number: number;
  body?: string | null;
  updated_at?: string;
  html_url?: string;
  pull_request?: { html_url?: string } | null;
}

export interface PrTrackResult {
  linked: number;
  intents: Outcome[];
  /** Review intents the relay applied, by result: the PR transitions of this sync. */
  transitions: PrTransitions;
}

export interface PrTransitions {
  merged: number;
  closed: number;
  changesRequested: number;
}

/** How far back the first keyword scan looks, when a repo has no cursor yet. */
const FIRST_SCAN_MS = 30 * 24 * 3600 * 1000;

async function discoverKeywordLinks(ctx: GithubContext, repo: string): Promise<number> {
  const cursorKey = `cursor/${repo.toLowerCase()}`;
  let since = await ctx.kv.get<string>(cursorKey);
  if (!since) {
    since = new Date(ctx.port.now() - FIRST_SCAN_MS).toISOString().replace(/\.\d{3}Z$/, 'Z');
    await ctx.kv.put(cursorKey, since);
  }
  const path = `${repoPath(repo)}/issues?state=all&sort=updated&direction=asc&per_page=100&since=${encodeURIComponent(since)}`;
  const { items } = await ctx.client.listAll<IssueListItem>(`since|${repo.toLowerCase()}`, path, shapeIssue);
  const board = ctx.port.board();
  let linked = 0;
  let max = since;
  for (const item of items) {
    if (item.updated_at && item.updated_at > max) max = item.updated_at;
    if (!item.pull_request) continue;
    for (const n of parseClosingRefs(item.body, repo)) {
      const taskId = Object.keys(board.tasks).find((id) => board.tasks[id]!.issueNumber === n && sameRepo(board.tasks[id]!.repo, repo));
      if (!taskId) continue;
      const key = `link/${taskId}`;
      const prev = await ctx.kv.get<PrLink>(key);
      if (prev?.number === item.number) continue;
      await ctx.kv.put(key, { number: item.number, url: item.pull_request.html_url ?? item.html_url } satisfies PrLink);
      linked++;
    }
  }
  // The cursor moves only when the window has grown to a full page, and then to the newest
  // updated_at seen (not the wall clock): between moves the URL stays the same, so an
  // unchanged repo gets a free 304, and the window never grows past about one page.
  if (items.length >= 100 && max !== since) {
    await ctx.kv.put(cursorKey, max);
    await ctx.client.forget(`since|${repo.toLowerCase()}`, path);
  }
  return linked;
}

/** The PR a task follows: the submitted URL first, else a keyword link. */
export async function linkedPr(ctx: GithubContext, taskId: string, repo: string, prUrl?: string): Promise<PrLink | undefined> {
  const submitted = parsePrUrl(prUrl);
  if (submitted && sameRepo(submitted.repo, repo)) return { number: submitted.number, url: prUrl };
  return ctx.kv.get<PrLink>(`link/${taskId}`);
}

/** Follow every linked PR of live tasks in `repo` (or only `onlyPr`) and submit review intents. */
export async function trackPrs(ctx: GithubContext, policy: RepoPolicy, onlyPr?: number): Promise<PrTrackResult> {
  const repo = policy.repo;
  const linked = onlyPr === undefined ? await discoverKeywordLinks(ctx, repo) : 0;
  const board = ctx.port.board();
  const intents: Outcome[] = [];
  const transitions: PrTransitions = { merged: 0, closed: 0, changesRequested: 0 };
  for (const [taskId, task] of Object.entries(board.tasks)) {
    if (!sameRepo(task.repo, repo)) continue;
    // The current ledger at each step (never one held across an await: the engine reuses
    // old ledger records); a runtime record itself is never changed once made.
    const runtime = ctx.port.ledger().tasks[taskId];
    if (!runtime || (runtime.state !== 'leased' && runtime.state !== 'pr_open')) continue;
    const link = await linkedPr(ctx, taskId, repo, runtime.prUrl);
    if (!link || (onlyPr !== undefined && link.number !== onlyPr)) continue;
    const base = `${repoPath(repo)}/pulls/${link.number}`;
    let pr: PullLike;
    try {
      pr = (await ctx.client.getCached<PullLike>(`pull|${repo.toLowerCase()}|${link.number}`, base, shapePull)).data;
    } catch (e) {
      if ((e as { status?: number }).status === 404) {
        ctx.log.warn('github: linked pull request not found', { taskId, pr: link.number });
        continue;
      }
      throw e;
    }
    const reviews = pr.state === 'open'
      ? (await ctx.client.listAll<ReviewLike>(`reviews|${repo.toLowerCase()}|${link.number}`, `${base}/reviews?per_page=100`, shapeReview)).items
      : [];
    const intent = decidePrIntent(taskId, runtime, pr, reviews);
    if (!intent || ctx.port.ledger().outcomes[intent.id]) continue;
    const outcome = await ctx.port.submitIntent(intent);
    intents.push(outcome);
    if (outcome.status !== 'rejected' && intent.kind === 'review') {
      if (intent.result === 'merged') transitions.merged += 1;
      else if (intent.result === 'closed') transitions.closed += 1;
      else if (intent.result === 'changes-requested') transitions.changesRequested += 1;
    }
    if (outcome.status === 'rejected') {
      ctx.log.warn('github: review intent rejected', { taskId, intent: intent.id, code: outcome.code, message: outcome.message });
    }
  }
  return { linked, intents, transitions };
}
