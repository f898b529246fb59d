/**
 * `owp task show ID` (a task's brief, state, PR and history) and `owp reviews [--repo R]`
 * (PRs awaiting review, oldest first, with links and age), plus the PR and lease cells
 * `owp tasks` and `owp status` share.
 *
 * A PR awaiting review does not expire (only `leased` leases do), so it is shown as
 * `awaiting review <age>`, never as a countdown.
 */
import { formatDuration, parseRepoArg, str } from '../args.js';
import { taskPath } from '../client.js';
import type { Command } from '../command.js';
import { table, when } from '../output.js';
import { fromTo } from './audit.js';
import type { Task, TaskRuntime } from '../../../shared/model.js';

/** `#12` for a GitHub-style PR URL, else the URL itself; empty without one. */
export function prLabel(prUrl: string | undefined): string {
  if (!prUrl) return '';
  const m = /\/pull\/(\d+)(?:[/?#]|$)/.exec(prUrl);
  return m ? `#${m[1]}` : prUrl;
}

/** The lease cell: a countdown for a lease, `awaiting review <age>` for a PR, `lapsed` past expiry. */
export function leaseCell(rt: Pick<TaskRuntime, 'state' | 'lease' | 'updatedAt'> | undefined, now: number, prSince?: number): string {
  if (!rt?.lease) return '';
  if (rt.state === 'pr_open') return `awaiting review ${formatDuration(Math.max(0, now - (prSince ?? rt.updatedAt)))}`;
  const left = rt.lease.expiresAt - now;
  return left > 0 ? `in ${formatDuration(left)}` : 'lapsed';
}

interface AuditEntry {
  seq: number;
  at: number;
  kind: string;
  actor: string;
  workerId?: string;
  from?: string;
  to?: string;
  reason?: string;
  code?: string;
  before?: number | boolean;
  after?: number | boolean;
}

interface Explanation {
  summary?: string;
}

export const taskShow: Command = {
  name: 'task show',
  args: 'TASK_ID',
  summary: "a task's brief, state, PR, lease and history",
  async run(ctx) {
    const id = ctx.positional(0, 'TASK_ID');
    ctx.noMorePositionals(1);
    const client = ctx.client();
    const v = await client.get<{ task: Task | null; runtime: TaskRuntime | null }>(taskPath(id));
    const history = await client.get<{ entries: AuditEntry[] }>(`/api/audit?task=${encodeURIComponent(id)}&limit=1000&since=0`);
    const state = v.runtime?.state ?? (v.task?.cancelled ? 'cancelled' : 'queued');
    let why: string | undefined;
    if (state === 'queued') why = (await client.get<{ explanation: Explanation }>(taskPath(id, '/explain')).catch(() => undefined))?.explanation?.summary;
    const prAt = [...history.entries].reverse().find((e) => e.kind === 'pr-submitted')?.at;
    const now = ctx.now();
    ctx.out.result({ ...v, history: history.entries, ...(why ? { why } : {}) }, () => {
      const t = v.task;
      const rt = v.runtime;
      const lines = [`${id}${t ? `: ${t.title}` : ''}`, ''];
      lines.push(`  state     ${state}${rt?.note ? ` (${rt.note})` : ''}`);
      if (why) lines.push(`  waiting   ${why}`);
      if (t) {
        lines.push(`  repo      ${t.repo}${t.issueUrl ? `  ${t.issueUrl}` : ''}`);
        lines.push(`  points    ${t.points}   tier ${t.tier}   priority ${t.priority}   skills ${t.skills.join(',') || '-'}   area ${t.area || '-'}`);
        if (t.held) lines.push('  held      yes (not offered until unheld)');
      }
      if (rt?.prUrl) lines.push(`  PR        ${prLabel(rt.prUrl)} ${rt.prUrl}`);
      if (rt?.lease) lines.push(`  lease     ${rt.lease.workerId}, fencing token ${rt.lease.fencingToken}, ${leaseCell(rt, now, prAt)}`);
      lines.push(`  attempts  ${rt?.attempt ?? 0}`);
      lines.push('', 'Brief:', ...(t?.body ? t.body.split('\n').map((l) => `  ${l}`) : ['  (none)']));
      lines.push('', 'History:');
      lines.push(
        ...(history.entries.length
          ? table(
              ['  AT', 'EVENT', 'WORKER', 'FROM>TO', 'BY', 'REASON'],
              history.entries.map((e) => [`  ${when(e.at)}`, e.kind, e.workerId ?? '', fromTo(e), e.actor, [e.code, e.reason].filter(Boolean).join(' ')]),
            )
          : ['  (nothing yet)']),
      );
      return lines;
    });
    return 0;
  },
};

export interface ReviewRow {
  taskId: string;
  repo: string;
  title: string | null;
  workerId: string;
  prUrl: string | null;
  issueUrl: string | null;
  since: number;
  ageMs: number;
}

export const reviews: Command = {
  name: 'reviews',
  summary: 'PRs awaiting review, oldest first, with links and age',
  options: { repo: { type: 'string', arg: 'OWNER/NAME', help: 'only this repository' } },
  async run(ctx) {
    ctx.noMorePositionals(0);
    const repo = str(ctx.p, 'repo');
    if (repo !== undefined) parseRepoArg(repo, '--repo');
    const r = await ctx.client().get<{ reviews: ReviewRow[] }>(`/api/reviews${repo ? `?repo=${encodeURIComponent(repo)}` : ''}`);
    ctx.out.result(r, () =>
      r.reviews.length
        ? [
            `${r.reviews.length} PR(s) awaiting review${repo ? ` in ${repo}` : ''}, oldest first:`,
            ...table(
              ['WAITING', 'TASK', 'PR', 'WORKER', 'TITLE'],
              r.reviews.map((x) => [formatDuration(x.ageMs), x.taskId, x.prUrl ?? '-', x.workerId, x.title ?? '']),
            ),
            '',
            'Record a review with `owp review TASK_ID --merged|--closed|--changes-requested`.',
          ]
        : `No PR awaits review${repo ? ` in ${repo}` : ''}.`,
    );
    return 0;
  },
};
