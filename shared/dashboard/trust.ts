/**
 * A worker's trust as the dashboards show it: the base tier, the level in each repo where
 * it can differ (a maintainer's override, or a repo whose trust ladder is on), and why:
 * the ladder's counts since its last move and the last audited trust change seen.
 *
 * Invariants:
 * - Pure: reads the board, the ledger and the events given; the levels are exactly the
 *   scheduler's (shared/trust-ladder.ts `trustLevels`), so the page never disagrees with a claim.
 * - Counts come from the ladder state the scheduler keeps (merged at the current tier since
 *   the last move, closed unmerged among the last `lookback` and in a row); none are invented.
 */
import type { AuditEvent, Board, RiskTier } from '../model.js';
import type { WorkerRuntime } from '../ledger.js';
import { DEFAULTS } from '../defaults.js';
import { DEFAULT_TRUST_LADDER, liveLadder, trustLevels, type TrustLevel } from '../trust-ladder.js';

export interface TrustLevelView extends TrustLevel {
  repo: string;
  /** The repo's ladder, when it is on: its thresholds and where the worker stands. */
  ladder?: {
    promoteAfter: number;
    lookback: number;
    demoteAfter: number;
    /** Pull requests merged at the current tier since the last move. */
    merged: number;
    /** Closed unmerged among the last `lookback` reviews since the last move. */
    closed: number;
    /** Closed unmerged in a row, most recent last. */
    closedInARow: number;
    /** The highest tier the policy allows (the ladder never goes above it). */
    highest: RiskTier;
  };
}

export interface WorkerTrustView {
  /** The worker's base trust (a maintainer's `owp trust W N`, else the default). */
  base: RiskTier;
  levels: TrustLevelView[];
  /** The newest `trust-changed` event of this worker among the events given. */
  lastChange?: AuditEvent;
}

function trailing(s: string, c: string): number {
  let n = 0;
  for (let i = s.length - 1; i >= 0 && s[i] === c; i--) n++;
  return n;
}

export function workerTrust(board: Board, runtime: WorkerRuntime | undefined, workerId: string, events: readonly AuditEvent[]): WorkerTrustView {
  const base = Object.hasOwn(board.trust, workerId) ? board.trust[workerId] : DEFAULTS.workerTrust;
  const policies = Object.values(board.repos);
  const levels = Object.entries(trustLevels(board.trust, workerId, runtime, policies)).map(([repo, level]): TrustLevelView => {
    const policy = board.repos[repo];
    if (!policy?.trustLadder?.enabled) return { repo, ...level };
    const settings = { ...DEFAULT_TRUST_LADDER, ...policy.trustLadder };
    const state = liveLadder(runtime, policy, base);
    const recent = state?.recent ?? '';
    const tiers = policy.allowedTiers.length ? policy.allowedTiers : [0 as RiskTier];
    return {
      repo,
      ...level,
      ladder: {
        promoteAfter: settings.promoteAfter,
        lookback: settings.lookback,
        demoteAfter: settings.demoteAfter,
        merged: state?.merged ?? 0,
        closed: [...recent.slice(-settings.lookback)].filter((c) => c === 'c').length,
        closedInARow: trailing(recent, 'c'),
        highest: Math.max(...tiers) as RiskTier,
      },
    };
  });
  let lastChange: AuditEvent | undefined;
  for (const e of events) if (e.kind === 'trust-changed' && e.workerId === workerId && (!lastChange || e.at >= lastChange.at)) lastChange = e;
  return { base, levels, ...(lastChange ? { lastChange } : {}) };
}

/** Why a level is what it is, in one sentence (the worker card and its title). */
export function describeLevel(l: TrustLevelView): string {
  if (l.source === 'override') return `override set by a maintainer; the trust ladder leaves it alone until it is cleared`;
  const head = l.source === 'ladder' ? 'set by the trust ladder' : 'base trust (the trust ladder has not moved it here yet)';
  if (!l.ladder) return head;
  const x = l.ladder;
  const up = l.tier >= x.highest ? `tier ${l.tier} is the highest this repo allows` : `${x.merged} of ${x.promoteAfter} merged at tier ${l.tier} toward tier ${l.tier + 1}`;
  return `${head}: ${up}; ${x.closed} closed unmerged among the last ${x.lookback}${x.closedInARow > 0 && l.tier > 0 ? ` (${x.closedInARow} of ${x.demoteAfter} in a row demote)` : ''}`;
}
