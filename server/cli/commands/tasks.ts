/**
 * `owp tasks` and `owp status`. A task with a PR awaiting review shows its PR (`#12`) and
 * `awaiting review <age>` (since the PR was submitted, from GET /api/reviews): such a lease
 * does not expire, so no countdown. A held task reads `queued,held` (one word, so columns
 * still split on spaces); PRIO is the priority the scheduler orders the queue by.
 */
import { UsageError, parseRepoArg, str } from '../args.js';
import type { Command, Context } from '../command.js';
import { table } from '../output.js';
import { leaseCell, prLabel, type ReviewRow } from './task-show.js';
import { TASK_STATES, type Task, type TaskRuntime, type TaskState } from '../../../shared/model.js';

export const tasks: Command = {
  name: 'tasks',
  summary: 'list tasks with their state, lease holder and expiry',
  options: {
    state: { type: 'string', arg: 'STATE', help: `only tasks in this state (${TASK_STATES.join(', ')})` },
    repo: { type: 'string', arg: 'OWNER/NAME', help: 'only tasks of this repository' },
  },
  async run(ctx) {
    ctx.noMorePositionals(0);
    const state = str(ctx.p, 'state');
    if (state !== undefined && !TASK_STATES.includes(state as TaskState)) throw new UsageError(`--state must be one of ${TASK_STATES.join(', ')}`);
    const repo = str(ctx.p, 'repo');
    if (repo !== undefined) parseRepoArg(repo, '--repo');
    const q = new URLSearchParams();
    if (state) q.set('state', state);
    if (repo) q.set('repo', repo);
    const qs = q.toString();
    const r = await ctx.client().get<{ tasks: { task: Task; runtime?: TaskRuntime }[] }>(`/api/tasks${qs ? `?${qs}` : ''}`);
    const now = ctx.now();
    const prSince = r.tasks.some((t) => t.runtime?.state === 'pr_open') ? await reviewSince(ctx) : new Map<string, ReviewRow>();
    ctx.out.result(r, () =>
      r.tasks.length
        ? table(
            ['TASK', 'STATE', 'PTS', 'TIER', 'PRIO', 'SKILLS', 'AREA', 'HOLDER', 'PR', 'LEASE', 'TITLE'],
            r.tasks.map(({ task, runtime }) => [
              task.id,
              `${runtime?.state ?? '?'}${task.held ? ',held' : ''}`,
              task.points,
              task.tier,
              task.priority,
              task.skills.join(',') || '-',
              task.area || '-',
              runtime?.lease?.workerId ?? '',
              prLabel(runtime?.prUrl),
              leaseCell(runtime, now, prSince.get(task.id)?.since),
              task.title.length > 60 ? task.title.slice(0, 57) + '...' : task.title,
            ]),
          )
        : 'No tasks match.',
    );
    return 0;
  },
};

/** The PRs awaiting review by task id (GET /api/reviews; an older relay without it: none). */
async function reviewSince(ctx: Context): Promise<Map<string, ReviewRow>> {
  const r = await ctx.client().get<{ reviews: ReviewRow[] }>('/api/reviews').catch(() => ({ reviews: [] as ReviewRow[] }));
  return new Map(r.reviews.map((x) => [x.taskId, x]));
}

/** Render any JSON as indented lines: objects as `key: value`, arrays of objects as tables. */
export function renderTree(value: unknown, indent = ''): string[] {
  if (value === null || typeof value !== 'object') return [`${indent}${String(value)}`];
  if (Array.isArray(value)) {
    if (!value.length) return [`${indent}-`];
    if (value.every((v) => v && typeof v === 'object' && !Array.isArray(v))) {
      const keys = [...new Set(value.flatMap((v) => Object.keys(v as object)))];
      const flat = (x: unknown): string => (x && typeof x === 'object' ? JSON.stringify(x) : x === undefined ? '' : String(x));
      return table(keys.map((k) => k.toUpperCase()), value.map((v) => keys.map((k) => flat((v as Record<string, unknown>)[k])))).map((l) => indent + l);
    }
    return [`${indent}${value.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(', ')}`];
  }
  const lines: string[] = [];
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v !== null && typeof v === 'object' && (Array.isArray(v) ? v.some((x) => typeof x === 'object') : Object.keys(v).length)) {
      lines.push(`${indent}${k}:`);
      lines.push(...renderTree(v, indent + '  '));
    } else lines.push(`${indent}${k}: ${Array.isArray(v) ? v.join(', ') || '-' : typeof v === 'object' && v ? '-' : String(v)}`);
  }
  return lines;
}

interface StatusAnswer {
  batch?: number;
  queue?: Record<string, Partial<Record<TaskState, number>>>;
  leases?: { taskId: string; repo: string; state: string; workerId: string; fencingToken: number; expiresAt: number }[];
  capacity?: { workers: number; points: number; pointsInUse: number };
  budgets?: Record<string, { reviewBudget: number; inUse: number }>;
  invalidTasks?: unknown[];
  invalidProfiles?: unknown[];
  [k: string]: unknown;
}

/** The one-screen view of `GET /api/status`; unknown extra fields are shown as a tree. */
export function renderStatus(r: StatusAnswer, url: string, now: number, reviewsById: Map<string, ReviewRow> = new Map()): string[] {
  const lines = [`Relay ${url} (batch ${r.batch ?? '?'})`, ''];
  const repos = [...new Set([...Object.keys(r.queue ?? {}), ...Object.keys(r.budgets ?? {})])].sort();
  lines.push('Queue by repo:');
  lines.push(
    ...(repos.length
      ? table(
          ['  REPO', ...TASK_STATES.map((s) => s.toUpperCase()), 'REVIEW BUDGET'],
          repos.map((repo) => [
            `  ${repo}`,
            ...TASK_STATES.map((s) => r.queue?.[repo]?.[s] ?? 0),
            r.budgets?.[repo] ? `${r.budgets[repo].inUse}/${r.budgets[repo].reviewBudget}` : '',
          ]),
        )
      : ['  (no tasks)']),
  );
  lines.push('', 'Leases:');
  const leases = r.leases ?? [];
  lines.push(
    ...(leases.length
      ? table(
          ['  TASK', 'STATE', 'WORKER', 'TOKEN', 'PR', 'LEASE'],
          leases.map((l) => {
            const pr = reviewsById.get(l.taskId);
            const rt = { state: l.state as TaskState, lease: l as unknown as TaskRuntime['lease'], updatedAt: now };
            return [`  ${l.taskId}`, l.state, l.workerId, l.fencingToken, prLabel(pr?.prUrl ?? undefined), leaseCell(rt, now, pr?.since)];
          }),
        )
      : ['  (none)']),
  );
  if (r.capacity) lines.push('', `Capacity: ${r.capacity.pointsInUse}/${r.capacity.points} points in use across ${r.capacity.workers} worker(s)`);
  if (r.invalidTasks?.length) lines.push('', `Invalid tasks (ignored by the scheduler): ${r.invalidTasks.length}`, ...renderTree(r.invalidTasks, '  '));
  if (r.invalidProfiles?.length) lines.push('', `Invalid worker profiles: ${r.invalidProfiles.length}`, ...renderTree(r.invalidProfiles, '  '));
  return lines;
}

export const status: Command = {
  name: 'status',
  summary: 'one screen: queue by repo, leases, capacity, review budgets',
  async run(ctx) {
    ctx.noMorePositionals(0);
    const r = await ctx.client().get<StatusAnswer>('/api/status');
    const reviewsById = (r.leases ?? []).some((l) => l.state === 'pr_open') ? await reviewSince(ctx) : new Map<string, ReviewRow>();
    ctx.out.result(r, () => renderStatus(r, ctx.url, ctx.now(), reviewsById));
    return 0;
  },
};
