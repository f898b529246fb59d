/**
 * Pull request links on submit: the URL must be a pull request of the task's own repository
 * on the configured GitHub host, and one pull request belongs to one active task.
 *
 * Without these checks any URL counted as a pull request: another repository's, or the same
 * one for several tasks, which would let a worker free capacity and fill the review budget
 * with work that does not exist.
 *
 * Invariants:
 * - Accepted shape: `https://HOST/OWNER/NAME/pull/N` (an optional trailing `/`), HOST the
 *   relay's GitHub host (default github.com; Enterprise hosts come from the relay config),
 *   OWNER/NAME the task's repo. Host, owner and name compare case-insensitively, as GitHub does.
 * - `pr-in-use`: another task in state leased or pr_open already holds the same pull
 *   request (compared by prKey). The same task submitting its own pull request again
 *   (after changes were requested) is fine.
 * - Pure: the index of held pull requests is built from the working state once per batch
 *   (from the workers' active leases, not a scan of every task) and kept up to date by notePr.
 */
import type { ErrorCode } from '../errors.js';
import type { TaskRuntime } from '../model.js';
import { own, type Draft } from './state.js';

export const DEFAULT_GITHUB_HOST = 'github.com';

const PR_URL = /^https:\/\/([^/\s?#]+)\/([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)\/pull\/([1-9][0-9]{0,15})\/?$/;

export interface PrLink {
  host: string;
  repo: string;
  number: number;
}

/** The parts of a pull request URL, or undefined when it is not one. */
export function parsePrUrl(url: string): PrLink | undefined {
  const m = PR_URL.exec(url);
  if (!m) return undefined;
  return { host: m[1]!.toLowerCase(), repo: `${m[2]}/${m[3]}`, number: Number(m[4]) };
}

/** The comparable form of a pull request URL (lower case, no trailing slash). */
export function prKey(url: string): string {
  const p = parsePrUrl(url);
  return p ? `${p.host}/${p.repo.toLowerCase()}/${p.number}` : url.toLowerCase();
}

/** Why `url` is not a pull request of `repo` on `host`, or undefined when it is. */
export function prLinkProblem(url: string, repo: string, host: string): string | undefined {
  const want = `https://${host}/${repo}/pull/N`;
  const p = parsePrUrl(url);
  if (!p) return `prUrl: ${url} is not a pull request link; it must look like ${want}.`;
  if (p.host !== host.toLowerCase()) return `prUrl: ${url} is on ${p.host}, but this relay tracks pull requests on ${host}; it must look like ${want}.`;
  if (p.repo.toLowerCase() !== repo.toLowerCase()) return `prUrl: ${url} is a pull request of ${p.repo}, but the task belongs to ${repo}; it must look like ${want}.`;
  return undefined;
}

function holdsPr(runtime: TaskRuntime | undefined): runtime is TaskRuntime & { prUrl: string } {
  return !!runtime && runtime.prUrl !== undefined && (runtime.state === 'leased' || runtime.state === 'pr_open');
}

/** The batch's pull request -> task index (Draft.prHolders), built on first need. */
function index(draft: Draft): Map<string, string> {
  let idx = draft.prHolders;
  if (!idx) {
    idx = new Map();
    for (const wid in draft.workers) {
      for (const id of draft.workers[wid]!.activeLeases) {
        const runtime = own(draft.tasks, id);
        if (holdsPr(runtime)) idx.set(prKey(runtime.prUrl), id);
      }
    }
    draft.prHolders = idx;
  }
  return idx;
}

/** Record that `taskId` now holds `url` (call after a submit or a review that set prUrl). */
export function notePr(draft: Draft, taskId: string, url: string): void {
  index(draft).set(prKey(url), taskId);
}

/** The rejection of a submit of `url` for `runtime`, or null when the link is acceptable. */
export function checkPrLink(draft: Draft, runtime: TaskRuntime, url: string): { code: ErrorCode; message: string } | null {
  const problem = prLinkProblem(url, runtime.repo, draft.githubHost);
  if (problem) return { code: 'invalid-field', message: problem };
  const holder = index(draft).get(prKey(url));
  if (holder === undefined || holder === runtime.taskId) return null;
  const other = own(draft.tasks, holder);
  if (!holdsPr(other) || prKey(other.prUrl) !== prKey(url)) return null;
  return {
    code: 'pr-in-use',
    message: `Pull request ${url} already belongs to task ${holder} (${other.state}); one pull request answers one task. Open a separate pull request for ${runtime.taskId}.`,
  };
}

const HOST = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$/;

/**
 * The relay's GitHub host, from its configuration (docs/GITHUB.md):
 * 1. `OWP_GITHUB_HOST` when set (e.g. github.example.com);
 * 2. else derived from `OWP_GITHUB_API_URL`: `https://HOST/api/v3` (GitHub Enterprise
 *    Server) -> HOST, `https://api.HOST` (api.github.com, GHE.com) -> HOST;
 * 3. else github.com (also for an API URL of neither form: a proxy or a local fake, whose
 *    links still point at github.com).
 * Throws an Error with a sentence when OWP_GITHUB_HOST is not a host name.
 */
export function githubHostFrom(env: { OWP_GITHUB_HOST?: string; OWP_GITHUB_API_URL?: string }): string {
  const given = env.OWP_GITHUB_HOST?.trim().toLowerCase();
  if (given) {
    if (!HOST.test(given)) throw new Error(`OWP_GITHUB_HOST must be a host name such as github.example.com (no https://, no path), got ${JSON.stringify(env.OWP_GITHUB_HOST)}`);
    return given;
  }
  const api = env.OWP_GITHUB_API_URL?.trim();
  if (!api) return DEFAULT_GITHUB_HOST;
  let u: URL;
  try {
    u = new URL(api);
  } catch {
    return DEFAULT_GITHUB_HOST;
  }
  if (/^\/api\/v3\/?$/.test(u.pathname)) return u.host.toLowerCase();
  if (u.hostname.startsWith('api.') && u.pathname.replace(/\/$/, '') === '') return u.host.toLowerCase().slice(4);
  return DEFAULT_GITHUB_HOST;
}
