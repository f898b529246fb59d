/**
 * Opening the pull request as the contributor, and reading its review comments.
 *
 * Order: `gh` when it is on PATH and logged in (`gh auth status` exits 0); else the REST
 * API with the contributor's GITHUB_TOKEN or GH_TOKEN at GITHUB_API_URL (default
 * https://api.github.com; GitHub Enterprise: https://HOST/api/v3).
 *
 * Invariants:
 * - Only the contributor's credentials are used (their gh login or their env token); the
 *   relay's GitHub token never reaches this process (it stays on the relay).
 * - A pull request that already exists for the branch is reused, never duplicated.
 * - The body ends with a hidden marker `<!-- owp-task: ID -->` naming the task.
 */
import { Octokit } from '@octokit/rest';
import type { Task } from '../../../shared/model.js';
import { run, StepError } from './git.js';
import { redact, tail } from './redact.js';

export interface PrRequest {
  repo: string;
  /** `branch`, or `owner:branch` for a fork. */
  head: string;
  base: string;
  title: string;
  body: string;
  draft: boolean;
}

export const MARKER_PREFIX = '<!-- owp-task: ';

export function prTitle(task: Task): string {
  return task.title;
}

/** Body: the brief's summary, `Closes #N` for a task from an issue, and the hidden marker. */
export function prBody(task: Task): string {
  const summary = task.body.trim().split(/\n\s*\n/)[0]?.trim() || task.title;
  const lines = [summary.length > 2000 ? summary.slice(0, 2000) + '…' : summary, ''];
  if (task.issueNumber) lines.push(`Closes #${task.issueNumber}`, '');
  lines.push(`Opened by \`owp worker run\` for OWP task \`${task.id}\`.`, '', `${MARKER_PREFIX}${task.id.replace(/--/g, '- -')} -->`);
  return lines.join('\n');
}

type Env = NodeJS.ProcessEnv;

async function ghReady(env: Env): Promise<boolean> {
  const r = await run('gh', ['auth', 'status'], { env });
  return r.code === 0;
}

function apiClient(env: Env): Octokit | undefined {
  const token = env.GITHUB_TOKEN || env.GH_TOKEN;
  if (!token) return undefined;
  return new Octokit({ auth: token, baseUrl: (env.GITHUB_API_URL || 'https://api.github.com').replace(/\/+$/, ''), request: { retries: 0 } });
}

const NO_WAY =
  'cannot open the pull request: install GitHub CLI and run `gh auth login`, or set GITHUB_TOKEN (or GH_TOKEN) to a token that may open pull requests (and GITHUB_API_URL for GitHub Enterprise)';

function failed(what: string, e: unknown): StepError {
  const status = (e as { status?: number }).status;
  const msg = redact(String((e as Error)?.message ?? e));
  return new StepError(`${what} failed${status ? ` (HTTP ${status})` : ''}: ${tail(msg, 4, 600)}`, tail(msg, 4, 600));
}

/** Open (or find) the pull request; returns its URL and how it was opened. */
export async function openPullRequest(req: PrRequest, env: Env): Promise<{ url: string; via: 'gh' | 'api' }> {
  const [owner, name] = req.repo.split('/') as [string, string];
  if (await ghReady(env)) {
    const args = ['pr', 'create', '--repo', req.repo, '--head', req.head, '--base', req.base, '--title', req.title, '--body-file', '-'];
    if (req.draft) args.push('--draft');
    const r = await run('gh', args, { env, input: req.body });
    const url = /https?:\/\/\S+\/pull\/\d+/.exec(r.stdout)?.[0] ?? (r.code !== 0 ? /https?:\/\/\S+\/pull\/\d+/.exec(r.stderr)?.[0] : undefined);
    if (url) return { url, via: 'gh' };
    const t = tail(redact(r.stderr || r.stdout), 6, 800);
    throw new StepError(`gh pr create failed (exit ${r.code})${t ? `: ${t}` : ''}`, t);
  }
  const api = apiClient(env);
  if (!api) throw new StepError(NO_WAY);
  try {
    const r = await api.rest.pulls.create({ owner, repo: name, head: req.head, base: req.base, title: req.title, body: req.body, draft: req.draft });
    return { url: r.data.html_url, via: 'api' };
  } catch (e) {
    if ((e as { status?: number }).status === 422) {
      const head = req.head.includes(':') ? req.head : `${owner}:${req.head}`;
      const list = await api.rest.pulls.list({ owner, repo: name, head, state: 'open' }).catch(() => undefined);
      const found = list?.data[0]?.html_url;
      if (found) return { url: found, via: 'api' };
    }
    throw failed(`opening the pull request on ${req.repo}`, e);
  }
}

/** GET a GitHub API path as the contributor (gh api, else the REST token); undefined when neither can. */
async function githubGet(path: string, env: Env): Promise<unknown[] | undefined> {
  if (await ghReady(env)) {
    const r = await run('gh', ['api', '--paginate', path], { env });
    if (r.code === 0) {
      try {
        return JSON.parse(r.stdout) as unknown[];
      } catch {
        return undefined;
      }
    }
    return undefined;
  }
  const api = apiClient(env);
  if (!api) return undefined;
  try {
    return (await api.paginate(`GET ${path}`, { per_page: 100 })) as unknown[];
  } catch {
    return undefined;
  }
}

/**
 * The review feedback on `prUrl` as markdown (reviews with a body, then inline comments with
 * their file and line), or undefined when GitHub cannot be read with the contributor's access.
 */
export async function reviewComments(prUrl: string, env: Env): Promise<string | undefined> {
  const m = /^https:\/\/[^/]+\/([^/]+)\/([^/]+)\/pull\/(\d+)/.exec(prUrl);
  if (!m) return undefined;
  const base = `/repos/${m[1]}/${m[2]}/pulls/${m[3]}`;
  const reviews = (await githubGet(`${base}/reviews`, env)) as { user?: { login?: string }; state?: string; body?: string | null }[] | undefined;
  const comments = (await githubGet(`${base}/comments`, env)) as { user?: { login?: string }; path?: string; line?: number | null; original_line?: number | null; body?: string }[] | undefined;
  if (!reviews && !comments) return undefined;
  const out: string[] = [];
  for (const r of reviews ?? []) if (r.body?.trim()) out.push(`- ${r.user?.login ?? 'reviewer'} (${(r.state ?? '').toLowerCase().replace(/_/g, ' ')}): ${r.body.trim()}`);
  for (const c of comments ?? []) {
    const where = c.path ? `${c.path}${(c.line ?? c.original_line) ? `:${c.line ?? c.original_line}` : ''}` : 'the diff';
    if (c.body?.trim()) out.push(`- ${c.user?.login ?? 'reviewer'} on ${where}: ${c.body.trim()}`);
  }
  return out.length ? out.join('\n') : undefined;
}
