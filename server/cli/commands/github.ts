/**
 * `owp github sync [OWNER/NAME]`: ask the relay to import from GitHub now. The GitHub token
 * stays in the relay; the CLI only sees the summary. A repo whose sync failed makes the
 * command exit 1 with that repo's error code (the others' summaries are still printed).
 */
import { RefusedError, parseRepoArg } from '../args.js';
import type { Command } from '../command.js';
import { table } from '../output.js';

export interface RepoSyncSummary {
  repo: string;
  added: number;
  updated: number;
  cancelled: number;
  unchanged: number;
  flagged?: number;
  prsMerged?: number;
  prsClosed?: number;
  prsChangesRequested?: number;
  requests: number;
  rateLimitRemaining: number | null;
  problems?: { message?: string; taskId?: string; label?: string; issue?: number }[];
  error?: { code: string; message: string };
}

/** `1 merged, 2 changes requested` (the PR transitions a sync applied), or `-`. */
export function prTransitions(x: Pick<RepoSyncSummary, 'prsMerged' | 'prsClosed' | 'prsChangesRequested'>): string {
  const parts = [
    x.prsMerged ? `${x.prsMerged} merged` : '',
    x.prsClosed ? `${x.prsClosed} closed` : '',
    x.prsChangesRequested ? `${x.prsChangesRequested} changes requested` : '',
  ].filter(Boolean);
  return parts.join(', ') || '-';
}

export const githubSync: Command = {
  name: 'github sync',
  args: '[OWNER/NAME]',
  summary: 'import labelled issues and PR states from GitHub now (the relay holds the GitHub token)',
  details: 'Without OWNER/NAME every repo with GitHub enabled (`owp repo add ... --github`) is synced.',
  async run(ctx) {
    const repo = ctx.p.positionals[0];
    if (repo !== undefined) parseRepoArg(repo, 'github sync');
    ctx.noMorePositionals(1);
    const r = await ctx
      .client()
      .post<{ repos: RepoSyncSummary[] }>('/api/github/sync', repo ? { repo } : {}, 10 * 60_000)
      .catch((e: unknown) => {
        // The relay mounts /api/github/* only when it was started with OWP_GITHUB_TOKEN.
        if (e instanceof RefusedError && e.code === 'not-found' && e.status === 404)
          throw new RefusedError(
            'not-found',
            `the relay at ${ctx.url} has no GitHub integration: restart it with OWP_GITHUB_TOKEN set (and OWP_GITHUB_API_URL for GitHub Enterprise or a local fake); see docs/GITHUB.md`,
            404,
          );
        throw e;
      });
    const repos = r.repos ?? [];
    const failed = repos.find((x) => x.error);
    if (!ctx.out.json || !failed)
      ctx.out.result(r, () =>
        repos.length
          ? [
              ...table(
                ['REPO', 'ADDED', 'UPDATED', 'CANCELLED', 'UNCHANGED', 'PR TRANSITIONS', 'REQUESTS', 'RATE LIMIT LEFT', 'RESULT'],
                repos.map((x) => [x.repo, x.added, x.updated, x.cancelled, x.unchanged, prTransitions(x), x.requests, x.rateLimitRemaining ?? '?', x.error ? `${x.error.code}: ${x.error.message}` : 'ok']),
              ),
              ...repos.flatMap((x) => (x.problems ?? []).map((p) => `  ${p.taskId ?? `${x.repo}${p.issue ? `#${p.issue}` : ''}`}: ${p.message ?? JSON.stringify(p)}`)),
            ]
          : 'No repository has GitHub sync enabled: `owp repo set OWNER/NAME --github`.',
      );
    if (failed) throw new RefusedError(failed.error!.code, `GitHub sync of ${failed.repo} failed: ${failed.error!.message}`, 502, r);
    return 0;
  },
};
