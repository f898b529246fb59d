/**
 * `owp trust WORKER [TIER] [--repo R] [--clear]` (maintainer): see a worker's trust levels
 * (base, and per repo: an override or a trust ladder's) and its recent trust changes, or
 * set them. Every change is in the audit log (`trust-changed`, who, before and after).
 */
import { UsageError, flag, parseRepoArg, parseTier, str } from '../args.js';
import type { Command } from '../command.js';
import { table, when } from '../output.js';
import type { TrustLevel } from '../../../shared/trust-ladder.js';

interface WorkerRow {
  profile?: { id: string } | null;
  runtime?: { workerId: string } | null;
  trust?: number;
  trustLevels?: Record<string, TrustLevel>;
}

interface TrustEntry {
  at: number;
  kind: string;
  actor: string;
  repo?: string;
  before?: number;
  after?: number;
  reason?: string;
}

const SOURCE: Record<TrustLevel['source'], string> = { override: 'override (set by a maintainer)', ladder: 'trust ladder', base: 'base (ladder on, no move yet)' };

export const trust: Command = {
  name: 'trust',
  args: 'WORKER [TIER]',
  summary: "see a worker's trust levels, or set the highest risk tier (0..3) it may take",
  options: {
    repo: { type: 'string', arg: 'OWNER/NAME', help: "override the worker's level in this repo only (pins it: the trust ladder leaves it alone)" },
    clear: { type: 'boolean', help: 'with --repo: remove the override (the ladder or base trust applies again)' },
  },
  details: 'Without TIER: the base trust, the level in each repo with an override or a trust ladder, and the last trust changes (docs/SCHEDULER.md, "Trust ladder").',
  async run(ctx) {
    const worker = ctx.positional(0, 'WORKER id');
    const tierText = ctx.p.positionals[1];
    ctx.noMorePositionals(tierText === undefined ? 1 : 2);
    const repo = str(ctx.p, 'repo') === undefined ? undefined : parseRepoArg(str(ctx.p, 'repo'), 'trust').repo;
    const client = ctx.client();
    if (flag(ctx.p, 'clear') || tierText !== undefined) {
      if (flag(ctx.p, 'clear') && (tierText !== undefined || !repo)) throw new UsageError('--clear takes --repo OWNER/NAME and no TIER');
      const tier = flag(ctx.p, 'clear') ? null : parseTier(tierText!, 'TIER');
      const r = await client.put<{ workerId: string; tier: number | null; repo?: string }>(`/api/trust/${encodeURIComponent(worker)}`, { tier, ...(repo ? { repo } : {}) });
      ctx.out.result(r, () =>
        r.repo
          ? r.tier === null
            ? `Worker ${r.workerId} has no override in ${r.repo} any more.`
            : `Worker ${r.workerId} is trusted up to tier ${r.tier} in ${r.repo} (override).`
          : `Worker ${r.workerId} is trusted up to tier ${r.tier}.`,
      );
      return 0;
    }
    if (repo) throw new UsageError('--repo sets an override: give a TIER, or --clear to remove it');
    const all = await client.get<{ workers: WorkerRow[] }>('/api/workers');
    const w = all.workers.find((x) => (x.profile?.id ?? x.runtime?.workerId) === worker);
    const audit = await client.get<{ entries: TrustEntry[] }>(`/api/audit?worker=${encodeURIComponent(worker)}&limit=1000`);
    const changes = audit.entries.filter((e) => e.kind === 'trust-changed').slice(-10);
    const levels = w?.trustLevels ?? {};
    const base = w?.trust ?? 1;
    ctx.out.result({ workerId: worker, trust: base, trustLevels: levels, changes }, () => [
      `Worker ${worker}${w ? '' : ' (no profile or runtime yet)'}: base trust tier ${base}.`,
      ...(Object.keys(levels).length
        ? ['', ...table(['  REPO', 'LEVEL', 'FROM', 'WHY'], Object.entries(levels).map(([r, l]) => [`  ${r}`, l.tier, SOURCE[l.source], l.reason ?? '']))]
        : []),
      ...(changes.length
        ? ['', 'Last trust changes:', ...table(['  AT', 'REPO', 'FROM>TO', 'BY', 'WHY'], changes.map((e) => [`  ${when(e.at)}`, e.repo ?? '(base)', `${e.before ?? '-'}>${e.after ?? '-'}`, e.actor, e.reason ?? '']))]
        : []),
    ]);
    return 0;
  },
};
