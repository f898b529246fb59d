/**
 * The GitHub feature of the relay: issue import, PR tracking, write-back and webhooks,
 * plugged in through RelayPort / RelayFeature.
 *
 * Invariants:
 * - The token (or the GitHub App's key and installation tokens) stays in this process: it is
 *   handed to Octokit and nowhere else; log lines and answers pass through the client's `redact`.
 * - One GitHub job at a time (a single queue): few requests in flight, per-sync request
 *   counts are exact, and two syncs of one repo never interleave.
 * - A sync never throws: a failure becomes `error: { code: 'upstream-error', message }` in
 *   that repo's summary, and the board is left as it was (see importer.ts).
 * - Syncs are asked for by the HTTP route, the interval (default 5 min), webhooks
 *   (debounced per repo) and PR submissions (debounced).
 */
import { observeGithub } from '../metrics/github.js';
import type { BatchResult, Logger, RelayFeature, RelayPort, Route, RouteContext } from '../ports.js';
import { didYouMean } from '../../shared/did-you-mean.js';
import { OwpError, httpStatusFor, isOwpError, quote } from '../../shared/errors.js';
import type { RepoPolicy } from '../../shared/model.js';
import type { GithubAppCredentials } from './app-auth.js';
import { GithubClient } from './client.js';
import type { GithubContext } from './context.js';
import { importIssues, type ImportProblem } from './importer.js';
import { trackPrs } from './prs.js';
import { jobsForBatch, runWriteBack, type WriteBackJob } from './writeback.js';
import { actionFor, verifySignature } from './webhook.js';

export interface GithubFeatureOptions {
  /** OWP_GITHUB_TOKEN; or `app` (one of the two). */
  token?: string;
  /** OWP_GITHUB_APP_*: act as a GitHub App installation (./app-auth.ts). */
  app?: GithubAppCredentials;
  apiUrl?: string;
  webhookSecret?: string;
  /** Polling interval (ms). Default 5 minutes; 0 turns polling off. */
  intervalMs?: number;
  log?: Logger;
  /** Sync every enabled repo once when the relay starts. Default true. */
  syncOnStart?: boolean;
  /** Quiet time (ms) before a webhook-triggered sync runs, to coalesce bursts. Default 2000. */
  debounceMs?: number;
  /** Octokit pacing, for tests; defaults are GitHub-appropriate (see client.ts). */
  retryAfterBaseValue?: number;
  retries?: number;
  writeMinTimeMs?: number;
  maxRateLimitRetries?: number;
  /** Longest wait (s) for a rate-limit reset within one sync. Default 60. */
  maxRateLimitWaitSeconds?: number;
  /** Delay (ms) before a failed write-back job is tried again, doubling each time. Default 5000. */
  writeBackRetryMs?: number;
  /** Attempts per write-back job. Default 5. */
  writeBackAttempts?: number;
  /** How long stop() waits for the GitHub job in flight. Default 5000. */
  stopTimeoutMs?: number;
}

export interface RepoSyncSummary {
  repo: string;
  added: number;
  updated: number;
  cancelled: number;
  flagged: number;
  unchanged: number;
  requests: number;
  rateLimitRemaining: number | null;
  flaggedTasks: string[];
  problems: ImportProblem[];
  prLinks: number;
  reviewIntents: number;
  /** PR transitions applied by this sync (a merged PR moves its task to done, and so on). */
  prsMerged: number;
  prsClosed: number;
  prsChangesRequested: number;
  error?: { code: string; message: string };
}

export interface GithubFeature extends RelayFeature {
  /** Sync one repo (or every enabled repo). Never throws. `trigger` is shown in the status. */
  sync(repo?: string, trigger?: string): Promise<RepoSyncSummary[]>;
  /** Resolves when every queued GitHub job (syncs, write-back) has finished. */
  idle(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
}

function enabledRepos(port: RelayPort): RepoPolicy[] {
  return Object.values(port.board().repos).filter((r) => r.github?.enabled).sort((a, b) => a.repo.localeCompare(b.repo));
}

export function createGithubFeature(port: RelayPort, opts: GithubFeatureOptions): GithubFeature {
  const log = opts.log ?? port.log;
  const kv = port.kv('github');
  const client = new GithubClient({
    token: opts.token,
    app: opts.app,
    now: port.now,
    apiUrl: opts.apiUrl,
    log,
    kv,
    retryAfterBaseValue: opts.retryAfterBaseValue,
    retries: opts.retries,
    writeMinTimeMs: opts.writeMinTimeMs,
    maxRateLimitRetries: opts.maxRateLimitRetries,
    maxRateLimitWaitSeconds: opts.maxRateLimitWaitSeconds,
  });
  observeGithub(port.metrics, client.octokit);
  const ctx: GithubContext = { port, client, kv, log };
  const intervalMs = opts.intervalMs ?? 5 * 60 * 1000;
  const debounceMs = opts.debounceMs ?? 2000;
  const retryMs = opts.writeBackRetryMs ?? 5000;
  const attempts = opts.writeBackAttempts ?? 5;

  let queue: Promise<unknown> = Promise.resolve();
  let pending = 0;
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  const debounced = new Map<string, NodeJS.Timeout>();
  let interval: NodeJS.Timeout | undefined;
  /** The latest summary per repo, whoever asked for the sync (route, poll, webhook). */
  const last = new Map<string, RepoSyncSummary & { at: number; trigger: string }>();
  let unsubscribe: (() => void) | undefined;

  /** Run `fn` after every job queued before it. */
  function enqueue<T>(fn: () => Promise<T>): Promise<T> {
    pending++;
    const run = queue.then(fn, fn);
    queue = run.then(
      () => { pending--; },
      () => { pending--; },
    );
    return run;
  }

  function later(ms: number, fn: () => void): void {
    if (stopped) return;
    const t = setTimeout(() => {
      timers.delete(t);
      if (!stopped) fn();
    }, ms);
    t.unref?.();
    timers.add(t);
  }

  function safeMessage(e: unknown): { code: string; message: string } {
    const err = isOwpError(e) ? e : client.upstream(e, 'a sync request');
    return { code: err.code, message: client.redact(err.message) };
  }

  async function syncOne(policy: RepoPolicy, what: 'all' | 'prs', trigger: string): Promise<RepoSyncSummary> {
    const before = client.requests;
    const summary: RepoSyncSummary = {
      repo: policy.repo, added: 0, updated: 0, cancelled: 0, flagged: 0, unchanged: 0, requests: 0,
      rateLimitRemaining: null, flaggedTasks: [], problems: [], prLinks: 0, reviewIntents: 0,
      prsMerged: 0, prsClosed: 0, prsChangesRequested: 0,
    };
    try {
      // PRs first: a merged PR closes its issue, and the task should be done, not flagged.
      const prs = await trackPrs(ctx, policy);
      summary.prLinks = prs.linked;
      summary.reviewIntents = prs.intents.length;
      summary.prsMerged = prs.transitions.merged;
      summary.prsClosed = prs.transitions.closed;
      summary.prsChangesRequested = prs.transitions.changesRequested;
      if (what === 'all') {
        const r = await importIssues(ctx, policy);
        Object.assign(summary, {
          added: r.added, updated: r.updated, cancelled: r.cancelled, flagged: r.flagged, unchanged: r.unchanged,
          flaggedTasks: r.flaggedTasks, problems: r.problems,
        });
      }
    } catch (e) {
      summary.error = safeMessage(isOwpError(e) ? e : client.upstream(e, `the sync of ${policy.repo}`));
      log.warn('github: sync failed; nothing was applied for this repo', { repo: policy.repo, message: summary.error.message });
    }
    summary.requests = client.requests - before;
    summary.rateLimitRemaining = client.rateLimitRemaining ?? null;
    if (what === 'all' || summary.error) last.set(policy.repo, { ...summary, at: port.now(), trigger });
    return summary;
  }

  function sync(repo?: string, trigger = 'request'): Promise<RepoSyncSummary[]> {
    return enqueue(async () => {
      const repos = enabledRepos(port).filter((r) => !repo || r.repo.toLowerCase() === repo.toLowerCase());
      const out: RepoSyncSummary[] = [];
      for (const policy of repos) {
        if (stopped) break;
        out.push(await syncOne(policy, 'all', trigger));
      }
      return out;
    });
  }

  function scheduleSync(repo: string, what: 'all' | 'prs'): void {
    const key = `${repo.toLowerCase()}|${what}`;
    const prev = debounced.get(key);
    if (prev) {
      clearTimeout(prev);
      timers.delete(prev);
    }
    if (stopped) return;
    const t = setTimeout(() => {
      timers.delete(t);
      debounced.delete(key);
      if (stopped) return;
      const policy = enabledRepos(port).find((r) => r.repo.toLowerCase() === repo.toLowerCase());
      if (!policy) return;
      void enqueue(() => syncOne(policy, what, what === 'all' ? 'webhook' : 'pull-request'));
    }, debounceMs);
    t.unref?.();
    timers.add(t);
    debounced.set(key, t);
  }

  function runJob(job: WriteBackJob, attempt: number): void {
    void enqueue(async () => {
      if (stopped) return;
      try {
        await runWriteBack(ctx, job);
      } catch (e) {
        const msg = client.redact((e as Error).message ?? String(e));
        if (attempt + 1 >= attempts) {
          log.error('github: write-back gave up', { taskId: job.taskId, kind: job.kind, message: msg });
          return;
        }
        log.warn('github: write-back failed; will retry', { taskId: job.taskId, kind: job.kind, attempt: attempt + 1, message: msg });
        later(retryMs * 2 ** attempt, () => runJob(job, attempt + 1));
      }
    });
  }

  function onBatch(result: BatchResult): void {
    try {
      const board = port.board();
      for (const job of jobsForBatch(result, board)) runJob(job, 0);
      for (const ev of result.events) {
        if (ev.kind !== 'pr-submitted' || !ev.taskId) continue;
        const task = board.tasks[ev.taskId];
        if (task && board.repos[task.repo]?.github?.enabled) scheduleSync(task.repo, 'prs');
      }
    } catch (e) {
      log.error('github: could not handle a batch', { message: client.redact((e as Error).message ?? String(e)) });
    }
  }

  function fail(ctxr: RouteContext, e: OwpError): void {
    ctxr.send(httpStatusFor(e.code), { error: { code: e.code, message: e.message } });
  }

  const syncRoute: Route = {
    method: 'POST',
    path: '/api/github/sync',
    auth: ['admin', 'maintainer'],
    async handler(c) {
      const body = await c.json<{ repo?: unknown } | null>();
      if (body === null || typeof body !== 'object') return fail(c, new OwpError('invalid-json', 'The body must be a JSON object such as { "repo": "owner/name" }.'));
      const unknown = Object.keys(body).find((k) => k !== 'repo');
      if (unknown !== undefined) {
        return fail(c, new OwpError('invalid-field', `${quote(unknown)} is not a field of a sync request${didYouMean(unknown, ['repo'])}; its only field is repo (owner/name).`, unknown));
      }
      const repo = body.repo;
      if (repo !== undefined) {
        if (typeof repo !== 'string' || !/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(repo)) {
          return fail(c, new OwpError('invalid-field', 'repo must look like owner/name.', 'repo'));
        }
        const policy = Object.values(port.board().repos).find((r) => r.repo.toLowerCase() === repo.toLowerCase());
        if (!policy) return fail(c, new OwpError('unknown-repo', `No policy for ${repo}: add it with PUT /api/repos/${repo} first.`, 'repo'));
        if (!policy.github?.enabled) {
          return fail(c, new OwpError('invalid-field', `GitHub sync is off for ${repo}: set github.enabled to true in its policy.`, 'repo'));
        }
      }
      const repos = await sync(repo as string | undefined);
      c.send(200, { repos });
    },
  };

  const webhookRoute: Route = {
    method: 'POST',
    path: '/api/github/webhook',
    auth: 'none',
    async handler(c) {
      if (!opts.webhookSecret) {
        return fail(c, new OwpError('not-authorized', 'Webhooks are off: set OWP_GITHUB_WEBHOOK_SECRET on the relay and the same secret in the GitHub webhook settings.'));
      }
      const raw = await c.rawBody();
      if (!verifySignature(opts.webhookSecret, raw, c.req.headers['x-hub-signature-256'])) {
        return fail(c, new OwpError('unauthorized', 'The X-Hub-Signature-256 header is missing or does not match: check that the webhook secret on GitHub equals OWP_GITHUB_WEBHOOK_SECRET.'));
      }
      let payload: unknown;
      try {
        payload = JSON.parse(raw.toString('utf8'));
      } catch {
        return fail(c, new OwpError('invalid-json', 'The webhook body is not JSON: set the webhook content type to application/json.'));
      }
      const event = c.req.headers['x-github-event'];
      const action = actionFor(typeof event === 'string' ? event : undefined, payload);
      if (action.kind === 'ignore') return c.send(202, { accepted: false, reason: action.reason });
      const policy = enabledRepos(port).find((r) => r.repo.toLowerCase() === action.repo.toLowerCase());
      if (!policy) return c.send(202, { accepted: false, reason: `GitHub sync is not enabled for ${action.repo}` });
      scheduleSync(policy.repo, action.kind === 'pr' ? 'prs' : 'all');
      c.send(202, { accepted: true, repo: policy.repo, action: action.kind === 'pr' ? 'track-prs' : 'sync' });
    },
  };

  const statusRoute: Route = {
    method: 'GET',
    path: '/api/github/status',
    auth: ['admin', 'maintainer', 'viewer'],
    handler(c) {
      const repos = enabledRepos(port).map((p) => last.get(p.repo) ?? { repo: p.repo, at: null });
      c.send(200, { repos, intervalMs, webhooks: !!opts.webhookSecret, rateLimitRemaining: client.rateLimitRemaining ?? null });
    },
  };

  return {
    name: 'github',
    routes: [syncRoute, webhookRoute, statusRoute],
    sync,
    async idle() {
      // Jobs may queue more jobs (retries, debounced syncs); wait until nothing is queued,
      // waiting or debounced.
      while (!stopped) {
        await queue;
        if (pending === 0 && timers.size === 0) return;
        if (pending === 0) await new Promise((r) => setTimeout(r, 5));
      }
    },
    start() {
      stopped = false;
      unsubscribe = port.onBatch(onBatch);
      if (intervalMs > 0) {
        interval = setInterval(() => void sync(undefined, 'poll'), intervalMs);
        interval.unref?.();
      }
      if (opts.syncOnStart ?? true) void sync(undefined, 'start');
      log.info('github: sync on', { apiUrl: opts.apiUrl ?? 'https://api.github.com', auth: opts.app ? `GitHub App ${opts.app.appId}, installation ${opts.app.installationId}` : 'token', intervalMs, webhooks: !!opts.webhookSecret });
    },
    async stop() {
      stopped = true;
      unsubscribe?.();
      if (interval) clearInterval(interval);
      for (const t of timers) clearTimeout(t);
      timers.clear();
      debounced.clear();
      // Let the job in flight finish, but do not hold the relay's shutdown hostage to a
      // GitHub rate-limit wait: every job is idempotent and the next start redoes it.
      let limit: NodeJS.Timeout | undefined;
      await Promise.race([queue.catch(() => undefined), new Promise<void>((r) => { limit = setTimeout(r, opts.stopTimeoutMs ?? 5000); })]);
      if (limit) clearTimeout(limit);
    },
  };
}
