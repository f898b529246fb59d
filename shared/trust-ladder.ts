/**
 * The trust ladder: a repo policy may let the relay move a worker's trust one tier at a
 * time from its PR outcomes in that repo. Off by default.
 *
 * Rules (pure; `decideTrust`):
 * - Only outcomes since the worker's last trust change count (a change starts afresh).
 * - Promote one tier after `promoteAfter` PRs merged at the worker's current tier, when
 *   none of its last `lookback` PRs (any tier) was closed unmerged; never above the
 *   policy's highest allowed tier.
 * - Demote one tier after `demoteAfter` PRs closed unmerged in a row (never below 0).
 * - Demotion is checked first: a run of closed PRs is never rewarded.
 */
import type { RiskTier } from './model.js';

export interface TrustLadder {
  enabled: boolean;
  promoteAfter: number;
  lookback: number;
  demoteAfter: number;
}

export const DEFAULT_TRUST_LADDER: TrustLadder = { enabled: false, promoteAfter: 5, lookback: 10, demoteAfter: 3 };

/** One PR outcome of a worker in a repo, oldest first. `tier` is the task's risk tier. */
export interface PrOutcome {
  result: 'merged' | 'closed';
  tier: RiskTier;
}

export interface TrustChange {
  from: RiskTier;
  to: RiskTier;
  reason: string;
}

/** The change the ladder makes after these outcomes (since the last change), if any. */
export function decideTrust(outcomes: readonly PrOutcome[], current: RiskTier, ladder: TrustLadder, highestTier: RiskTier, repo: string): TrustChange | undefined {
  if (!ladder.enabled || outcomes.length === 0) return undefined;
  const k = ladder.demoteAfter;
  if (current > 0 && outcomes.length >= k && outcomes.slice(-k).every((o) => o.result === 'closed')) {
    const to = (current - 1) as RiskTier;
    return { from: current, to, reason: `Demoted from tier ${current} to ${to} in ${repo}: ${k} pull request(s) in a row closed without merge.` };
  }
  if (current >= highestTier) return undefined;
  const mergedAtTier = outcomes.filter((o) => o.result === 'merged' && o.tier === current).length;
  const recent = outcomes.slice(-ladder.lookback);
  if (mergedAtTier >= ladder.promoteAfter && recent.every((o) => o.result === 'merged')) {
    const to = (current + 1) as RiskTier;
    return {
      from: current,
      to,
      reason: `Promoted from tier ${current} to ${to} in ${repo}: ${mergedAtTier} pull request(s) merged at tier ${current} and none closed without merge among the last ${recent.length}.`,
    };
  }
  return undefined;
}
