/**
 * `GET /api/stats` (the success figures), `GET /api/credits` (credit per worker) and
 * `GET /api/reviews`, answered from the StatsIndex in memory (a request made while it is
 * still opening after a start waits for it: ./lazy.ts).
 *
 * Invariants:
 * - Readable by every role that may read the dashboard (worker, maintainer, viewer, admin;
 *   without a token too when the dashboard is public).
 * - `since` is a duration ago (`24h`, `7d`, `30d`), an ISO time or epoch milliseconds; it
 *   defaults to 7 days and may reach back at most the index's retention (30 days).
 * - Unknown query parameters are refused (`invalid-field`, with a did-you-mean).
 */
import { didYouMean } from '../../shared/did-you-mean.js';
import { OwpError, quote, untrusted } from '../../shared/errors.js';
import { statsReport } from '../../shared/stats/figures.js';
import type { Board, Ledger } from '../../shared/model.js';
import type { Route } from '../ports.js';
import { DAY_MS, type StatsIndex } from './index.js';

const READERS = ['worker', 'maintainer', 'viewer'] as const;
const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: DAY_MS };
const REPO = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

export interface StatsRouteDeps {
  /** The index, once open. */
  index(): Promise<StatsIndex>;
  board(): Board;
  ledger(): Ledger;
  now(): number;
  publicDashboard: boolean;
  /** Display names of workers (profiles), for credits. */
  names(): Record<string, string>;
}

/** `since` as epoch ms, and its label when it was a duration. */
export function parseSinceParam(raw: string | null, now: number, retentionMs: number): { since: number; window: string | null } {
  const text = (raw ?? '7d').trim();
  let since: number;
  let window: string | null = null;
  const d = /^(\d+)(m|h|d)$/.exec(text);
  if (d) {
    since = now - Number(d[1]) * UNIT_MS[d[2]!]!;
    window = text;
  } else if (/^\d{10,}$/.test(text)) since = Number(text);
  else {
    since = Date.parse(text);
    if (Number.isNaN(since)) throw new OwpError('invalid-field', `since must be a duration ago such as 24h, 7d or 30d, an ISO time such as 2026-01-31, or epoch milliseconds; got ${quote(text)}.`, 'since');
  }
  if (since < now - retentionMs - 60_000) {
    throw new OwpError('invalid-field', `since reaches back further than the ${Math.round(retentionMs / DAY_MS)} days the relay keeps figures for; ask for 30d or less.`, 'since');
  }
  return { since, window };
}

function checkParams(url: URL, known: readonly string[]): void {
  for (const k of url.searchParams.keys()) {
    if (!known.includes(k)) throw new OwpError('invalid-field', `${quote(k)} is not a parameter of ${untrusted(url.pathname, 200)}${didYouMean(k, known)}; its parameters are ${known.join(', ')}.`, k);
  }
}

function repoParam(url: URL): string | null {
  const repo = url.searchParams.get('repo');
  if (repo === null || repo === '') return null;
  if (!REPO.test(repo)) throw new OwpError('invalid-field', `repo must look like owner/name; got ${quote(repo)}.`, 'repo');
  return repo;
}

/** One worker's credit: the shape of a CONTRIBUTORS line. */
export interface CreditRow {
  workerId: string;
  name: string;
  points: number;
  mergedPrs: number;
  tasks: number;
}

export function statsRoutes(deps: StatsRouteDeps): Route[] {
  const auth = deps.publicDashboard ? ('none' as const) : [...READERS];
  const scope = (url: URL, index: StatsIndex) => {
    checkParams(url, ['repo', 'since']);
    const now = deps.now();
    const { since, window } = parseSinceParam(url.searchParams.get('since'), now, index.retentionMs);
    return { now, since, window, repo: repoParam(url) };
  };
  return [
    {
      method: 'GET',
      path: '/api/stats',
      auth,
      async handler(ctx) {
        const index = await deps.index();
        const { now, since, window, repo } = scope(ctx.url, index);
        ctx.send(200, { window, ...statsReport(index.since(since), index.gauges(), since, now, repo) });
      },
    },
    {
      method: 'GET',
      path: '/api/reviews',
      auth,
      async handler(ctx) {
        checkParams(ctx.url, ['repo']);
        const repo = repoParam(ctx.url);
        const index = await deps.index();
        const now = deps.now();
        const board = deps.board();
        const tasks = deps.ledger().tasks;
        const reviews = [];
        for (const id in tasks) {
          const rt = tasks[id]!;
          if (rt.state !== 'pr_open' || !rt.lease || (repo !== null && rt.repo !== repo)) continue;
          const task = Object.hasOwn(board.tasks, id) ? board.tasks[id] : undefined;
          const since = index.prOpenedAt(id) ?? rt.updatedAt;
          reviews.push({ taskId: id, repo: rt.repo, title: task?.title ?? null, workerId: rt.lease.workerId, prUrl: rt.prUrl ?? null, issueUrl: task?.issueUrl ?? null, since, ageMs: Math.max(0, now - since) });
        }
        reviews.sort((a, b) => a.since - b.since || (a.taskId < b.taskId ? -1 : 1));
        ctx.send(200, { reviews });
      },
    },
    {
      method: 'GET',
      path: '/api/credits',
      auth,
      async handler(ctx) {
        const index = await deps.index();
        const { now, since, window, repo } = scope(ctx.url, index);
        const report = statsReport(index.since(since), {}, since, now, repo);
        const names = deps.names();
        const credits: CreditRow[] = report.pool.workers.map((w) => ({
          workerId: w.workerId,
          name: Object.hasOwn(names, w.workerId) ? names[w.workerId]! : w.workerId,
          points: w.points,
          mergedPrs: w.merged,
          tasks: w.done,
        }));
        ctx.send(200, { window, since, until: now, repo, credits });
      },
    },
  ];
}
