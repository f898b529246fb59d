/**
 * The trust ladder: a repo policy may let the scheduler move a worker's trust one tier at a
 * time from its PR outcomes in that repo (reviews merged or closed unmerged). Off by
 * default. Also: a worker's trust level in a repo, as the tier filter reads it.
 *
 * Trust level of worker W in repo R (`trustLevel`), first that applies:
 * 1. a maintainer's override for W in R (board `trust["R/W"]`): it pins the level;
 * 2. when R's ladder is on, W's ladder state for R, if it started from W's current base;
 * 3. W's base trust (board `trust["W"]`, set by maintainers), else DEFAULTS.workerTrust.
 * A new base (a maintainer changed W's trust) restarts the ladder from it.
 *
 * Rules (pure; `decideTrust`):
 * - Only outcomes since the worker's last trust change count (a change starts afresh).
 * - Promote one tier after `promoteAfter` PRs merged at the worker's current tier, when
 *   none of its last `lookback` PRs (any tier) was closed unmerged; never above the
 *   policy's highest allowed tier.
 * - Demote one tier after `demoteAfter` PRs closed unmerged in a row (never below 0).
 * - Demotion is checked first: a run of closed PRs is never rewarded.
 */
import { DEFAULTS, type RiskTierValue as RiskTier } from './defaults.js';
import type { LadderState, WorkerRuntime } from './ledger.js';

export interface TrustLadder {
  enabled: boolean;
  promoteAfter: number;
  lookback: number;
  demoteAfter: number;
}

/** What a policy without `trustLadder` means (off); the thresholds are what `{ enabled: true }` gets. */
export const DEFAULT_TRUST_LADDER: TrustLadder = { enabled: false, promoteAfter: 5, lookback: 10, demoteAfter: 3 };
/** The most outcomes a ladder state remembers, and the largest lookback / demoteAfter a policy may set. */
export const LADDER_MEMORY = 50;

/** The board `trust` key of a maintainer's override for one repo (worker ids hold no '/'). */
export const trustKey = (workerId: string, repo?: string): string => (repo ? `${repo}/${workerId}` : workerId);

/** A board `trust` key read back: a worker's base trust, or an override for one repo. */
export function parseTrustKey(key: string): { workerId: string; repo?: string } {
  const m = /^([^/]+\/[^/]+)\/([^/]+)$/.exec(key);
  return m ? { workerId: m[2], repo: m[1] } : { workerId: key };
}

interface LevelPolicy {
  repo: string;
  trustLadder?: TrustLadder;
}

/** The ladder state of `workerState` for the policy's repo that still counts (on, and started from `base`). */
export function liveLadder(workerState: WorkerRuntime | undefined, policy: LevelPolicy, base: RiskTier): LadderState | undefined {
  if (!policy.trustLadder?.enabled || !workerState?.ladder || !Object.hasOwn(workerState.ladder, policy.repo)) return undefined;
  const s = workerState.ladder[policy.repo];
  return s.base === base ? s : undefined;
}

/** Worker W's trust level in the policy's repo (the rule above). `trust` is the board's trust map. */
export function trustLevel(trust: Record<string, RiskTier>, workerId: string, workerState: WorkerRuntime | undefined, policy: LevelPolicy): RiskTier {
  const key = trustKey(workerId, policy.repo);
  if (Object.hasOwn(trust, key)) return trust[key];
  const base = Object.hasOwn(trust, workerId) ? trust[workerId] : DEFAULTS.workerTrust;
  return liveLadder(workerState, policy, base)?.tier ?? base;
}

/**
 * Note one PR outcome in a ladder state (a fresh one from `base` when there is none) and
 * apply the rules: the next state and the change, if any. Pure.
 */
export function noteOutcome(
  prev: LadderState | undefined,
  base: RiskTier,
  outcome: PrOutcome,
  ladder: TrustLadder,
  highestTier: RiskTier,
  repo: string,
  now: number,
): { state: LadderState; change?: TrustChange } {
  const s: LadderState = prev ?? { tier: base, base, merged: 0, recent: '' };
  const recent = (s.recent + (outcome.result === 'merged' ? 'm' : 'c')).slice(-LADDER_MEMORY);
  const merged = s.merged + (outcome.result === 'merged' && outcome.tier === s.tier ? 1 : 0);
  const change = decideFromSummary(merged, [...recent].map((c) => (c === 'm' ? 'merged' : 'closed')), s.tier, ladder, highestTier, repo);
  if (!change) return { state: { ...s, merged, recent } };
  return { state: { tier: change.to, base, merged: 0, recent: '', changedAt: now, reason: change.reason }, change };
}

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
  const mergedAtTier = outcomes.filter((o) => o.result === 'merged' && o.tier === current).length;
  return decideFromSummary(mergedAtTier, outcomes.map((o) => o.result), current, ladder, highestTier, repo);
}

/** `decideTrust` from what a ladder state keeps: merged PRs at the current tier, and the results oldest first. */
export function decideFromSummary(
  mergedAtTier: number,
  results: readonly PrOutcome['result'][],
  current: RiskTier,
  ladder: TrustLadder,
  highestTier: RiskTier,
  repo: string,
): TrustChange | undefined {
  if (!ladder.enabled || results.length === 0) return undefined;
  const k = ladder.demoteAfter;
  if (current > 0 && results.length >= k && results.slice(-k).every((r) => r === 'closed')) {
    const to = (current - 1) as RiskTier;
    return { from: current, to, reason: `Demoted from tier ${current} to ${to} in ${repo}: ${k} pull request(s) in a row closed without merge.` };
  }
  if (current >= highestTier) return undefined;
  const recent = results.slice(-ladder.lookback);
  if (mergedAtTier >= ladder.promoteAfter && recent.every((r) => r === 'merged')) {
    const to = (current + 1) as RiskTier;
    return {
      from: current,
      to,
      reason: `Promoted from tier ${current} to ${to} in ${repo}: ${mergedAtTier} pull request(s) merged at tier ${current} and none closed without merge among the last ${recent.length}.`,
    };
  }
  return undefined;
}

/** A worker's level in one repo and where it comes from (what `owp trust W` and the dashboard show). */
export interface TrustLevel {
  tier: RiskTier;
  source: 'override' | 'ladder' | 'base';
  /** The ladder's last move here (ladder source). */
  reason?: string;
  changedAt?: number;
}

/**
 * The worker's level in every repo where it can differ from its base trust: a maintainer's
 * override, or a policy with the ladder on. Keys in code-unit order.
 */
export function trustLevels(trust: Record<string, RiskTier>, workerId: string, workerState: WorkerRuntime | undefined, policies: readonly LevelPolicy[]): Record<string, TrustLevel> {
  const out: Record<string, TrustLevel> = {};
  const base = Object.hasOwn(trust, workerId) ? trust[workerId] : DEFAULTS.workerTrust;
  for (const p of [...policies].sort((a, b) => (a.repo < b.repo ? -1 : a.repo > b.repo ? 1 : 0))) {
    const key = trustKey(workerId, p.repo);
    const live = liveLadder(workerState, p, base);
    let level: TrustLevel | undefined;
    if (Object.hasOwn(trust, key)) level = { tier: trust[key], source: 'override' };
    else if (live) level = { tier: live.tier, source: 'ladder', ...(live.reason ? { reason: live.reason } : {}), ...(live.changedAt !== undefined ? { changedAt: live.changedAt } : {}) };
    else if (p.trustLadder?.enabled) level = { tier: base, source: 'base' };
    if (level) Object.defineProperty(out, p.repo, { value: level, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
