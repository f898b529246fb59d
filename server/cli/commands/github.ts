/** `owp github sync [OWNER/NAME]`: ask the relay to import from GitHub now. */
import { parseRepoArg } from '../args.js';
import type { Command } from '../command.js';

interface SyncSummary {
  added?: number | string[];
  updated?: number | string[];
  cancelled?: number | string[];
  unchanged?: number | string[];
  requestsUsed?: number;
  rateLimitRemaining?: number;
  [k: string]: unknown;
}

const count = (v: number | string[] | undefined): number => (Array.isArray(v) ? v.length : (v ?? 0));

export const githubSync: Command = {
  name: 'github sync',
  args: '[OWNER/NAME]',
  summary: 'import labelled issues and PR states from GitHub now (the relay holds the GitHub token)',
  async run(ctx) {
    const repo = ctx.p.positionals[0];
    if (repo !== undefined) parseRepoArg(repo, 'github sync');
    ctx.noMorePositionals(1);
    const r = await ctx.client().post<SyncSummary>('/api/github/sync', repo ? { repo } : {});
    const left = r.rateLimitRemaining ?? (r as { rateLimitLeft?: number }).rateLimitLeft ?? (r as { rateLimit?: { remaining?: number } }).rateLimit?.remaining;
    ctx.out.result(r, () =>
      `GitHub sync${repo ? ` of ${repo}` : ''}: ${count(r.added)} added, ${count(r.updated)} updated, ${count(r.cancelled)} cancelled, ${count(r.unchanged)} unchanged; ${r.requestsUsed ?? '?'} request(s) used, rate limit left ${left ?? '?'}.`,
    );
    return 0;
  },
};
