/**
 * Read-only summaries of a ledger for dashboards, the relay's /api/status and tests.
 *
 * Invariants: pure; computed from task runtimes (the source of truth), never from the
 * worker runtime's cached counters.
 */
import { DEFAULTS, type Ledger } from '../model.js';

export interface ReviewLoad {
  repo: string;
  leased: number;
  prOpen: number;
  /** leased + prOpen: what the review budget is checked against. */
  total: number;
}

/** Active leases (leased or pr_open) of a repo, or of every repo when `repo` is omitted. */
export function activeLeaseCount(ledger: Ledger, repo?: string): number {
  let n = 0;
  for (const id in ledger.tasks) {
    const runtime = ledger.tasks[id]!;
    if ((runtime.state === 'leased' || runtime.state === 'pr_open') && (repo === undefined || runtime.repo === repo)) n++;
  }
  return n;
}

/** How much of a repo's review budget is in use. */
export function reviewLoad(ledger: Ledger, repo: string): ReviewLoad {
  let leased = 0;
  let prOpen = 0;
  for (const id in ledger.tasks) {
    const runtime = ledger.tasks[id]!;
    if (runtime.repo !== repo) continue;
    if (runtime.state === 'leased') leased++;
    else if (runtime.state === 'pr_open') prOpen++;
  }
  return { repo, leased, prOpen, total: leased + prOpen };
}

/** Points a worker holds, summed from the leases themselves. */
export function pointsInUse(ledger: Ledger, workerId: string): number {
  let n = 0;
  for (const id in ledger.tasks) {
    const lease = ledger.tasks[id]!.lease;
    if (lease && lease.workerId === workerId) n += lease.points ?? DEFAULTS.points;
  }
  return n;
}
