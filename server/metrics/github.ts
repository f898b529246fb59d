/**
 * GitHub request metrics from an Octokit instance's request hook: every request the relay
 * sends (after the throttling and retry plugins: one per logical request) is counted by
 * status, and `x-ratelimit-remaining` of each answer (or error answer) is kept as a gauge.
 */
import type { Octokit } from '@octokit/rest';
import type { MetricsPort } from './registry.js';

interface Answer {
  status?: number;
  headers?: Record<string, unknown>;
}

export function observeGithub(metrics: MetricsPort | undefined, octokit: Pick<Octokit, 'hook'>): void {
  if (!metrics) return;
  const requests = metrics.counter('owp_github_requests_total', 'Requests the relay sent to GitHub, by status (error: no answer).', ['status']);
  const remaining = metrics.gauge('owp_github_rate_limit_remaining', 'GitHub API requests left in the current rate-limit window (x-ratelimit-remaining of the latest answer).');
  const note = (a: Answer | undefined) => {
    requests.inc({ status: a?.status ?? 'error' });
    const r = Number(a?.headers?.['x-ratelimit-remaining']);
    if (a?.headers?.['x-ratelimit-remaining'] !== undefined && Number.isFinite(r)) remaining.set(r);
  };
  octokit.hook.wrap('request', async (request, options) => {
    try {
      const res = await request(options);
      note(res as Answer);
      return res;
    } catch (e) {
      const err = e as { status?: number; response?: Answer };
      note(err.response ?? (err.status ? { status: err.status } : undefined));
      throw e;
    }
  });
}
