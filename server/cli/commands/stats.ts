/**
 * `owp stats [--repo R] [--since D]`: the success figures (GET /api/stats), and
 * `owp credits [--repo R] [--since D] [--csv|--markdown]`: credit per worker
 * (GET /api/credits), ready for a CONTRIBUTORS file or release notes.
 *
 * `--since` is a duration ago (24h, 7d, 30d; default 7d) or an ISO time; the relay keeps
 * 30 days of figures.
 */
import { UsageError, flag, formatDuration, parseRepoArg, parseSince, str } from '../args.js';
import type { Command, Context } from '../command.js';
import { table, when } from '../output.js';
import type { Figures, ReviewGauge, StatsReport } from '../../../shared/stats/figures.js';

const SCOPE_OPTIONS = {
  repo: { type: 'string', arg: 'OWNER/NAME', help: 'only this repository' },
  since: { type: 'string', arg: 'D', help: 'a duration ago (24h, 7d, 30d; default 7d) or an ISO time (2026-01-31)' },
} as const;

/** The query string for --repo and --since (a duration is sent as it is, a time as epoch ms). */
function scopeQuery(ctx: Context): string {
  const q = new URLSearchParams();
  const repo = str(ctx.p, 'repo');
  if (repo !== undefined) q.set('repo', parseRepoArg(repo, '--repo').repo);
  const since = str(ctx.p, 'since');
  if (since !== undefined) q.set('since', /^\d+[mhd]$/.test(since.trim()) ? since.trim() : String(parseSince(since, ctx.now())));
  const qs = q.toString();
  return qs ? `?${qs}` : '';
}

const pct = (v: number | null): string => (v === null ? '-' : `${Math.round(v * 1000) / 10}%`);
const dur = (v: number | null): string => (v === null ? '-' : formatDuration(v));
const gauge = (g: ReviewGauge): string => `${g.prOpen} PR(s) awaiting review + ${g.leased} lease(s) = ${g.inUse}/${g.reviewBudget}${g.full ? ' FULL' : ''}`;

function windowText(r: { since: number; until: number; window?: string | null }): string {
  return r.window ? `last ${r.window}` : `since ${when(r.since)}`;
}

/** The human rendering of a stats report: the pool (or the repo asked for), then one row per repo. */
export function renderStats(r: StatsReport & { window?: string | null }): string[] {
  const f: Figures & { reviews: ReviewGauge } = r.repo ? (r.repos[r.repo] ?? r.pool) : r.pool;
  const lines = [
    `${r.repo ?? 'Pool'}, ${windowText(r)}:`,
    `  completion rate      ${pct(f.completionRate)} (${f.done} done of ${f.tasksGranted} task(s) granted; ${f.merged} merged, ${f.completed} completed)`,
    `  expiry rate          ${pct(f.expiryRate)} (${f.expired} of ${f.granted} lease(s) expired)`,
    `  requeue rate         ${pct(f.requeueRate)} (${f.requeued} handed back, ${f.closedUnmerged} PR(s) closed unmerged)`,
    `  time to first claim  ${dur(f.medianMs.firstClaim)} (median)`,
    `  time to PR           ${dur(f.medianMs.toPr)} (median, ${f.prsOpened} PR(s) opened)`,
    `  time to merge        ${dur(f.medianMs.toMerge)} (median)`,
    `  review queue         ${gauge(f.reviews)}`,
  ];
  const repos = Object.entries(r.repos);
  if (!r.repo && repos.length) {
    lines.push(
      '',
      ...table(
        ['REPO', 'GRANTED', 'DONE', 'COMPLETION', 'EXPIRY', 'REQUEUE', 'TO CLAIM', 'TO PR', 'TO MERGE', 'AWAITING REVIEW'],
        repos.map(([name, x]) => [
          name,
          x.granted,
          x.done,
          pct(x.completionRate),
          pct(x.expiryRate),
          pct(x.requeueRate),
          dur(x.medianMs.firstClaim),
          dur(x.medianMs.toPr),
          dur(x.medianMs.toMerge),
          `${x.reviews.prOpen} (${x.reviews.inUse}/${x.reviews.reviewBudget}${x.reviews.full ? ' full' : ''})`,
        ]),
      ),
    );
  }
  lines.push('', 'Throughput per worker:');
  lines.push(...(f.workers.length ? table(['  WORKER', 'TASKS DONE', 'MERGED', 'POINTS'], f.workers.map((w) => [`  ${w.workerId}`, w.done, w.merged, w.points])) : ['  (nothing finished in this window)']));
  return lines;
}

export const stats: Command = {
  name: 'stats',
  summary: 'success figures: completion, expiry and requeue rates, median times, review queue, throughput',
  options: { ...SCOPE_OPTIONS },
  details: 'Definitions: docs/CLI.md#stats-and-credits. The relay computes them from its audit log (kept for 30 days).',
  async run(ctx) {
    ctx.noMorePositionals(0);
    const r = await ctx.client().get<StatsReport & { window: string | null }>(`/api/stats${scopeQuery(ctx)}`);
    ctx.out.result(r, () => renderStats(r));
    return 0;
  },
};

export interface CreditsAnswer {
  since: number;
  until: number;
  window: string | null;
  repo: string | null;
  credits: { workerId: string; name: string; points: number; mergedPrs: number; tasks: number }[];
}

const csvCell = (v: string | number): string => {
  const s = String(v);
  // Quote what needs it; a leading = + - @ is neutralised so a spreadsheet never runs it.
  const safe = /^[=+\-@]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
};
const mdCell = (v: string | number): string => String(v).replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ');

export function creditsCsv(r: CreditsAnswer): string {
  return ['worker,name,points,merged_prs,tasks', ...r.credits.map((w) => [w.workerId, w.name, w.points, w.mergedPrs, w.tasks].map(csvCell).join(','))].join('\n') + '\n';
}

export function creditsMarkdown(r: CreditsAnswer): string {
  const head = `Contributors${r.repo ? ` to ${r.repo}` : ''}, ${windowText(r)}:`;
  if (!r.credits.length) return `${head}\n\nNobody finished a task in this window.\n`;
  return [head, '', '| Contributor | Points | Merged PRs | Tasks |', '|---|---:|---:|---:|', ...r.credits.map((w) => `| ${mdCell(w.name === w.workerId ? w.name : `${w.name} (${w.workerId})`)} | ${w.points} | ${w.mergedPrs} | ${w.tasks} |`)].join('\n') + '\n';
}

export const credits: Command = {
  name: 'credits',
  summary: 'points, merged PRs and tasks per worker (for a CONTRIBUTORS file or release notes)',
  options: {
    ...SCOPE_OPTIONS,
    csv: { type: 'boolean', help: 'print CSV (worker,name,points,merged_prs,tasks)' },
    markdown: { type: 'boolean', help: 'print a Markdown table' },
  },
  async run(ctx) {
    ctx.noMorePositionals(0);
    const formats = ['json', 'csv', 'markdown'].filter((f) => flag(ctx.p, f));
    if (formats.length > 1) throw new UsageError(`--${formats.join(' and --')} contradict each other: choose one output format`);
    const r = await ctx.client().get<CreditsAnswer>(`/api/credits${scopeQuery(ctx)}`);
    if (flag(ctx.p, 'csv')) process.stdout.write(creditsCsv(r));
    else if (flag(ctx.p, 'markdown')) process.stdout.write(creditsMarkdown(r));
    else
      ctx.out.result(r, () =>
        r.credits.length
          ? [`Credit${r.repo ? ` in ${r.repo}` : ''}, ${windowText(r)}:`, ...table(['WORKER', 'NAME', 'POINTS', 'MERGED PRS', 'TASKS'], r.credits.map((w) => [w.workerId, w.name, w.points, w.mergedPrs, w.tasks]))]
          : `Nobody finished a task${r.repo ? ` in ${r.repo}` : ''} ${windowText(r)}.`,
      );
    return 0;
  },
};
