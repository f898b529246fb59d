/**
 * Pure decisions about pull requests: which PR a task is linked to, and which review
 * intent (if any) a PR's state asks for.
 *
 * Invariants:
 * - Pure: no I/O, no clock. Same input, same answer.
 * - Intent ids are deterministic (`gh:<task>:<pr>:<result>:<what changed>`), so a retried
 *   sync submits the same id and the scheduler returns the stored outcome instead of
 *   acting twice.
 * - Only tasks with a live lease (`leased` or `pr_open`) get review intents: a PR never
 *   moves a queued, stuck or finished task.
 */
import type { Intent, TaskRuntime } from '../../shared/model.js';

export const GITHUB_ACTOR = 'github';

const KEYWORD = '(?:close|closes|closed|fix|fixes|fixed|resolve|resolves|resolved)';

/**
 * Issue numbers of `repo` that a PR body closes by keyword: `Fixes #12`, `closes: #3`,
 * `Resolves owner/name#4`, `fixes https://github.com/owner/name/issues/5`. Case-insensitive.
 * References to another repository are ignored.
 */
export function parseClosingRefs(body: string | null | undefined, repo: string): number[] {
  if (!body) return [];
  const out = new Set<number>();
  const want = repo.toLowerCase();
  const re = new RegExp(
    `\\b${KEYWORD}\\s*:?\\s+(?:([A-Za-z0-9_.-]+\\/[A-Za-z0-9_.-]+)?#(\\d+)|https?:\\/\\/[^\\s/]+\\/([A-Za-z0-9_.-]+\\/[A-Za-z0-9_.-]+)\\/issues\\/(\\d+))`,
    'gi',
  );
  for (const m of body.matchAll(re)) {
    const ref = (m[1] ?? m[3])?.toLowerCase();
    const n = Number(m[2] ?? m[4]);
    if (ref && ref !== want) continue;
    if (Number.isSafeInteger(n) && n > 0) out.add(n);
  }
  return [...out].sort((a, b) => a - b);
}

/** `https://github.com/owner/name/pull/12` (any host, for GitHub Enterprise) -> repo and number. */
export function parsePrUrl(url: string | undefined): { repo: string; number: number } | undefined {
  if (!url) return undefined;
  const m = /^https?:\/\/[^/\s]+\/([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)\/pull\/(\d+)(?:[/?#].*)?$/.exec(url);
  if (!m) return undefined;
  return { repo: `${m[1]}/${m[2]}`, number: Number(m[3]) };
}

export interface PullLike {
  number: number;
  state: string;
  merged?: boolean | null;
  merged_at?: string | null;
  closed_at?: string | null;
  updated_at?: string;
  html_url?: string;
}

export interface ReviewLike {
  id: number;
  user?: { login?: string } | null;
  state: string;
  submitted_at?: string | null;
}

/** The newest review that still requests changes (per reviewer, their latest decisive review). */
export function outstandingChangesRequest(reviews: ReviewLike[]): ReviewLike | undefined {
  const latest = new Map<string, ReviewLike>();
  const ordered = [...reviews].sort((a, b) => (a.submitted_at ?? '').localeCompare(b.submitted_at ?? '') || a.id - b.id);
  for (const r of ordered) {
    // COMMENTED and PENDING reviews do not change a reviewer's decision on GitHub either.
    if (r.state !== 'APPROVED' && r.state !== 'CHANGES_REQUESTED' && r.state !== 'DISMISSED') continue;
    latest.set(r.user?.login ?? `#${r.id}`, r);
  }
  let best: ReviewLike | undefined;
  for (const r of latest.values()) {
    if (r.state !== 'CHANGES_REQUESTED') continue;
    if (!best || (r.submitted_at ?? '') > (best.submitted_at ?? '') || ((r.submitted_at ?? '') === (best.submitted_at ?? '') && r.id > best.id)) best = r;
  }
  return best;
}

/** The review intent this PR state asks for, or undefined when nothing should change. */
export function decidePrIntent(
  taskId: string,
  runtime: TaskRuntime | undefined,
  pr: PullLike,
  reviews: ReviewLike[],
): Extract<Intent, { kind: 'review' }> | undefined {
  if (!runtime || (runtime.state !== 'leased' && runtime.state !== 'pr_open')) return undefined;
  const base = `gh:${taskId}:${pr.number}`;
  const prUrl = pr.html_url && /^https?:\/\/\S+$/.test(pr.html_url) ? pr.html_url : undefined;
  const make = (id: string, result: 'open' | 'merged' | 'closed' | 'changes-requested') => ({
    kind: 'review' as const,
    id,
    workerId: GITHUB_ACTOR,
    taskId,
    result,
    ...(prUrl ? { prUrl } : {}),
  });
  if (pr.merged || pr.merged_at) return make(`${base}:merged`, 'merged');
  if (pr.state === 'closed') return make(`${base}:closed:${pr.closed_at ?? pr.updated_at ?? ''}`, 'closed');
  const cr = outstandingChangesRequest(reviews);
  if (cr && runtime.state === 'pr_open') return make(`${base}:changes-requested:${cr.id}`, 'changes-requested');
  if (!cr && runtime.state === 'leased') return make(`${base}:open:${pr.updated_at ?? ''}`, 'open');
  return undefined;
}
