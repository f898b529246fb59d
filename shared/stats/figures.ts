/**
 * The success figures of the pool (the brief's criteria: completion above 80 %, little
 * expiry and requeue, no PR floods), per repo or for the whole pool, over a window, and
 * the credit per worker. Pure functions of the facts (./facts.ts) and the current gauges.
 *
 * Definitions (docs/STATS.md):
 * - granted: leases granted in the window; tasksGranted: distinct tasks among them.
 * - completionRate = tasks finished (merged or completed) in the window / tasksGranted.
 * - expiryRate = leases expired / leases granted; requeueRate = leases handed back to the
 *   queue otherwise (release, fail, maintainer requeue, PR closed unmerged) / granted.
 * - medians: time from queued to first claim (first grants in the window), from the grant
 *   to its PR (PRs opened in the window), from PR to merge (merges in the window).
 * - A rate or median with nothing to divide or sort is null, never 0 or NaN.
 */
import type { Fact } from './facts.js';

export interface ReviewGauge {
  /** Tasks with a PR awaiting review now. */
  prOpen: number;
  /** Active leases without a PR yet (they count against the budget too). */
  leased: number;
  reviewBudget: number;
  /** prOpen + leased: what the budget limits. */
  inUse: number;
  /** inUse >= reviewBudget: no new claim in this repo until a review frees one. */
  full: boolean;
}

export interface WorkerThroughput {
  workerId: string;
  /** Tasks finished (merged or completed). */
  done: number;
  merged: number;
  points: number;
}

export interface Medians {
  /** Queued to first grant (first grants in the window). */
  firstClaim: number | null;
  /** Grant to its PR (PRs opened in the window). */
  toPr: number | null;
  /** PR to merge (merges in the window). */
  toMerge: number | null;
}

export interface Figures {
  granted: number;
  tasksGranted: number;
  done: number;
  merged: number;
  completed: number;
  expired: number;
  requeued: number;
  closedUnmerged: number;
  cancelled: number;
  prsOpened: number;
  completionRate: number | null;
  expiryRate: number | null;
  requeueRate: number | null;
  /** Median times in milliseconds. */
  medianMs: Medians;
  /** Throughput per worker in the window: points credited, most first (then by worker id). */
  workers: WorkerThroughput[];
}

export interface StatsReport {
  since: number;
  until: number;
  repo: string | null;
  pool: Figures & { reviews: ReviewGauge };
  repos: Record<string, Figures & { reviews: ReviewGauge }>;
}

/** The median of the numbers (mean of the middle two for an even count), or null. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >>> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const ratio = (n: number, d: number): number | null => (d > 0 ? n / d : null);

/** The figures of these facts (already limited to one window and scope). */
export function figuresOf(facts: Iterable<Fact>): Figures {
  let granted = 0;
  let merged = 0;
  let completed = 0;
  let expired = 0;
  let requeued = 0;
  let closedUnmerged = 0;
  let cancelled = 0;
  let prsOpened = 0;
  const tasks = new Set<string>();
  const toClaim: number[] = [];
  const toPr: number[] = [];
  const toMerge: number[] = [];
  const byWorker = new Map<string, WorkerThroughput>();
  for (const f of facts) {
    switch (f.kind) {
      case 'grant':
        granted += 1;
        tasks.add(f.taskId);
        if (f.durationMs !== undefined) toClaim.push(f.durationMs);
        break;
      case 'pr':
        prsOpened += 1;
        if (f.durationMs !== undefined) toPr.push(f.durationMs);
        break;
      case 'merge':
      case 'complete': {
        if (f.kind === 'merge') {
          merged += 1;
          if (f.durationMs !== undefined) toMerge.push(f.durationMs);
        } else completed += 1;
        if (f.workerId !== undefined) {
          const w = byWorker.get(f.workerId) ?? { workerId: f.workerId, done: 0, merged: 0, points: 0 };
          w.done += 1;
          if (f.kind === 'merge') w.merged += 1;
          w.points += f.points;
          byWorker.set(f.workerId, w);
        }
        break;
      }
      case 'expire':
        expired += 1;
        break;
      case 'requeue':
        requeued += 1;
        break;
      case 'closed-unmerged':
        closedUnmerged += 1;
        break;
      case 'cancel':
        cancelled += 1;
        break;
    }
  }
  const done = merged + completed;
  return {
    granted,
    tasksGranted: tasks.size,
    done,
    merged,
    completed,
    expired,
    requeued,
    closedUnmerged,
    cancelled,
    prsOpened,
    completionRate: ratio(done, tasks.size),
    expiryRate: ratio(expired, granted),
    requeueRate: ratio(requeued + closedUnmerged, granted),
    medianMs: { firstClaim: median(toClaim), toPr: median(toPr), toMerge: median(toMerge) },
    workers: [...byWorker.values()].sort((a, b) => b.points - a.points || (a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : 0)),
  };
}

/** The pool's gauge: the sum of the repos' gauges (full when any repo is full). */
export function poolGauge(gauges: Iterable<ReviewGauge>): ReviewGauge {
  const g: ReviewGauge = { prOpen: 0, leased: 0, reviewBudget: 0, inUse: 0, full: false };
  for (const x of gauges) {
    g.prOpen += x.prOpen;
    g.leased += x.leased;
    g.reviewBudget += x.reviewBudget;
    g.inUse += x.inUse;
    g.full ||= x.full;
  }
  return g;
}

/**
 * The report for facts already limited to the window: the pool and each repo (only the
 * one asked for when `repo` is given). `gauges` is the current review gauge per repo.
 */
export function statsReport(facts: readonly Fact[], gauges: Record<string, ReviewGauge>, since: number, until: number, repo: string | null): StatsReport {
  const byRepo = new Map<string, Fact[]>();
  const scoped = repo === null ? facts : facts.filter((f) => f.repo === repo);
  for (const f of scoped) {
    const list = byRepo.get(f.repo);
    if (list) list.push(f);
    else byRepo.set(f.repo, [f]);
  }
  const names = new Set<string>(byRepo.keys());
  for (const r of Object.keys(gauges)) if (repo === null || r === repo) names.add(r);
  if (repo !== null) names.add(repo);
  const empty: ReviewGauge = { prOpen: 0, leased: 0, reviewBudget: 0, inUse: 0, full: false };
  const repos: StatsReport['repos'] = {};
  for (const name of [...names].sort()) repos[name] = { ...figuresOf(byRepo.get(name) ?? []), reviews: gauges[name] ?? empty };
  const pool = { ...figuresOf(scoped), reviews: poolGauge(Object.values(repos).map((r) => r.reviews)) };
  return { since, until, repo, pool, repos };
}
