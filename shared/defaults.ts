/**
 * Defaults used wherever an input leaves a field out. Documented in docs/PROTOCOL.md and
 * docs/SCHEDULER.md.
 *
 * Invariant: plain constants with no imports, so the browser dashboard and the plugin can
 * read them without pulling in the validation library.
 */
export type RiskTierValue = 0 | 1 | 2 | 3;

export const DEFAULTS = {
  points: 1,
  tier: 0 as RiskTierValue,
  area: '',
  priority: 0,
  reviewBudget: 5,
  allowedTiers: [0, 1] as RiskTierValue[],
  leaseTtlMs: 2 * 60 * 60 * 1000,
  maxAttempts: 3,
  cooldownMs: 10 * 60 * 1000,
  dailyQuota: 20,
  workerTrust: 1 as RiskTierValue,
  capacity: 3,
  maxConcurrent: 1,
  /** Pull requests awaiting review (plus leases in progress) a worker may have at once. */
  maxOpenPrs: 3,
  /** Share (0..1) of scoring weight given to workers with no credit yet. */
  newcomerBoost: 0.25,
} as const;
