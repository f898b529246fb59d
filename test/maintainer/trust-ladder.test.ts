/**
 * The trust ladder's rules (shared/trust-ladder.ts) as properties, fixed seed (FC_SEED
 * overrides it), plus worked examples.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RiskTier } from '../../shared/model.js';
import { decideTrust, DEFAULT_TRUST_LADDER, type PrOutcome, type TrustLadder } from '../../shared/trust-ladder.js';

const SEED = Number(process.env.FC_SEED ?? 12006);
const opts = (numRuns: number) => ({ numRuns, seed: SEED });
const tier = fc.constantFrom<RiskTier>(0, 1, 2, 3);
const outcome: fc.Arbitrary<PrOutcome> = fc.record({ result: fc.constantFrom<'merged' | 'closed'>('merged', 'closed'), tier });
const ladder: fc.Arbitrary<TrustLadder> = fc.record({
  enabled: fc.constant(true),
  promoteAfter: fc.integer({ min: 1, max: 6 }),
  lookback: fc.integer({ min: 1, max: 8 }),
  demoteAfter: fc.integer({ min: 1, max: 4 }),
});
const ON: TrustLadder = { ...DEFAULT_TRUST_LADDER, enabled: true };

describe('trust ladder rules', () => {
  it('moves one tier at most, never above the highest tier or below 0, and says why', () => {
    fc.assert(
      fc.property(fc.array(outcome, { maxLength: 30 }), tier, ladder, tier, (history, current, l, highest) => {
        const c = decideTrust(history, current, l, highest, 'o/r');
        if (!c) return;
        expect(c.from).toBe(current);
        expect(Math.abs(c.to - c.from)).toBe(1);
        expect(c.to).toBeGreaterThanOrEqual(0);
        if (c.to > c.from) expect(c.to).toBeLessThanOrEqual(highest);
        expect(c.reason).toContain('o/r');
        expect(c.reason).toMatch(c.to > c.from ? /^Promoted/ : /^Demoted/);
      }),
      opts(2000),
    );
  });

  it('promotes exactly when N merged at the current tier and none closed among the last M', () => {
    fc.assert(
      fc.property(fc.array(outcome, { maxLength: 30 }), tier, ladder, (history, current, l) => {
        const c = decideTrust(history, current, l, 3, 'o/r');
        const demote = current > 0 && history.length >= l.demoteAfter && history.slice(-l.demoteAfter).every((o) => o.result === 'closed');
        const promote =
          current < 3 && history.filter((o) => o.result === 'merged' && o.tier === current).length >= l.promoteAfter && history.slice(-l.lookback).every((o) => o.result === 'merged');
        expect(c?.to ?? current).toBe(demote ? current - 1 : promote ? current + 1 : current);
      }),
      opts(2000),
    );
  });

  it('a closed PR among the last M blocks promotion, and a run of K closed always demotes (from tier 1 up)', () => {
    fc.assert(
      fc.property(fc.array(outcome, { maxLength: 20 }), fc.constantFrom<RiskTier>(1, 2, 3), ladder, (history, current, l) => {
        const closedRun: PrOutcome[] = Array.from({ length: l.demoteAfter }, () => ({ result: 'closed', tier: current }));
        expect(decideTrust([...history, ...closedRun], current, l, 3, 'o/r')?.to).toBe(current - 1);
        const merged: PrOutcome[] = Array.from({ length: l.promoteAfter + 5 }, () => ({ result: 'merged', tier: current }));
        const withClosed = [...merged, { result: 'closed' as const, tier: current }];
        const c = decideTrust(withClosed, current, l, 3, 'o/r');
        expect(c === undefined || c.to < current).toBe(true);
      }),
      opts(1000),
    );
  });

  it('does nothing when off (the default)', () => {
    fc.assert(
      fc.property(fc.array(outcome, { maxLength: 30 }), tier, tier, (history, current, highest) => {
        expect(decideTrust(history, current, DEFAULT_TRUST_LADDER, highest, 'o/r')).toBeUndefined();
      }),
      opts(300),
    );
  });

  it('worked examples', () => {
    const m = (t: RiskTier): PrOutcome => ({ result: 'merged', tier: t });
    const x = (t: RiskTier): PrOutcome => ({ result: 'closed', tier: t });
    expect(decideTrust([m(1), m(1), m(1), m(1)], 1, ON, 3, 'o/r')).toBeUndefined();
    expect(decideTrust([m(1), m(1), m(1), m(1), m(1)], 1, ON, 3, 'o/r')).toEqual({
      from: 1,
      to: 2,
      reason: 'Promoted from tier 1 to 2 in o/r: 5 pull request(s) merged at tier 1 and none closed without merge among the last 5.',
    });
    expect(decideTrust([m(1), m(1), m(1), m(1), m(1)], 1, ON, 1, 'o/r')).toBeUndefined();
    expect(decideTrust([m(0), m(0), m(0), m(0), m(0)], 1, ON, 3, 'o/r')).toBeUndefined();
    expect(decideTrust([m(1), x(1), x(1), x(1)], 1, ON, 3, 'o/r')?.to).toBe(0);
    expect(decideTrust([x(0), x(0), x(0)], 0, ON, 3, 'o/r')).toBeUndefined();
  });
});
