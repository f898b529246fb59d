// @vitest-environment happy-dom
/**
 * A worker's trust on the shared dashboard: the levels are the scheduler's own (override,
 * trust ladder, base), the ladder's counts say why, the last audited change is shown, and
 * a maintainer's override control asks before it sends (the relay side is in
 * test/dashboard/browser-trust.test.ts).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { buildDashboardModel, describeLevel, renderDashboard, workerTrust, type TrustEvent, type TrustUi } from '../../shared/dashboard/index.js';
import { parseRepoPolicy, type AuditEvent } from '../../shared/model.js';
import { trustLevel } from '../../shared/trust-ladder.js';
import { fixture, NOW } from '../helpers/dashboard-fixtures.js';

function withLadder() {
  const f = fixture();
  f.board.repos['acme/app'] = parseRepoPolicy({ repo: 'acme/app', allowedTiers: [0, 1, 2], trustLadder: { enabled: true, promoteAfter: 3, lookback: 4, demoteAfter: 2 } });
  f.board.repos['acme/docs'] = parseRepoPolicy({ repo: 'acme/docs' });
  // alice: moved to tier 2 by the ladder, then one merged and one closed at tier 2.
  f.ledger.workers.alice!.ladder = { 'acme/app': { tier: 2, base: 1, merged: 1, recent: 'mc', changedAt: NOW - 5000, reason: 'Promoted from tier 1 to 2 in acme/app: 3 pull request(s) merged.' } };
  // bob: a maintainer's override in acme/docs, base 0.
  f.board.trust.bob = 0;
  f.board.trust['acme/docs/bob'] = 3;
  const change: AuditEvent = { kind: 'trust-changed', at: NOW - 1000, batch: 41, actor: 'maintainer-ann', workerId: 'bob', repo: 'acme/docs', after: 3 };
  f.recent.push(change);
  return f;
}

describe('workerTrust', () => {
  it('gives the scheduler’s level in each repo where it can differ, with the ladder’s counts', () => {
    const f = withLadder();
    const alice = workerTrust(f.board, f.ledger.workers.alice, 'alice', f.recent);
    expect(alice.base).toBe(1);
    expect(alice.levels).toEqual([
      expect.objectContaining({ repo: 'acme/app', tier: 2, source: 'ladder', ladder: { promoteAfter: 3, lookback: 4, demoteAfter: 2, merged: 1, closed: 1, closedInARow: 1, highest: 2 } }),
    ]);
    expect(alice.levels[0]!.tier).toBe(trustLevel(f.board.trust, 'alice', f.ledger.workers.alice, f.board.repos['acme/app']!));
    expect(describeLevel(alice.levels[0]!)).toBe('set by the trust ladder: tier 2 is the highest this repo allows; 1 closed unmerged among the last 4 (1 of 2 in a row demote)');
    expect(alice.lastChange).toBeUndefined();

    const bob = workerTrust(f.board, f.ledger.workers.bob, 'bob', f.recent);
    expect(bob.base).toBe(0);
    expect(bob.levels.map((l) => [l.repo, l.tier, l.source])).toEqual([
      ['acme/app', 0, 'base'],
      ['acme/docs', 3, 'override'],
    ]);
    expect(describeLevel(bob.levels[0]!)).toBe('base trust (the trust ladder has not moved it here yet): 0 of 3 merged at tier 0 toward tier 1; 0 closed unmerged among the last 4');
    expect(describeLevel(bob.levels[1]!)).toMatch(/^override set by a maintainer/);
    expect(bob.lastChange).toMatchObject({ kind: 'trust-changed', actor: 'maintainer-ann' });
  });

  it('has no levels when no repo has an override or a ladder', () => {
    const f = fixture();
    expect(workerTrust(f.board, f.ledger.workers.alice, 'alice', f.recent)).toEqual({ base: 1, levels: [] });
  });
});

describe('the trust on a worker card', () => {
  beforeEach(() => document.body.replaceChildren());

  function render(opts: { onTrust?: (e: TrustEvent) => void; trustUi?: TrustUi } = {}): HTMLElement {
    const f = withLadder();
    const root = document.createElement('div');
    document.body.appendChild(root);
    renderDashboard(root, buildDashboardModel({ ...f, now: NOW }), { now: NOW, ...opts });
    return root;
  }

  it('shows each level and why to everyone, and no control without a maintainer', () => {
    const root = render();
    const bob = root.querySelector('[data-worker-id="bob"]')!;
    expect(bob.querySelector('[data-trust-base]')!.getAttribute('data-trust-base')).toBe('0');
    const docs = bob.querySelector('[data-trust-repo="acme/docs"]')!;
    expect(docs.getAttribute('data-trust-tier')).toBe('3');
    expect(docs.getAttribute('data-trust-source')).toBe('override');
    expect(bob.querySelector('.owp-trust-last')!.textContent).toContain('trust changed: acme/docs (bob) - -> 3 by maintainer-ann');
    const alice = root.querySelector('[data-worker-id="alice"] [data-trust-repo="acme/app"]')!;
    expect(alice.textContent).toContain('Last move: Promoted from tier 1 to 2');
    expect(root.querySelectorAll('[data-trust-set], [data-trust-clear], [data-trust-input]')).toHaveLength(0);
    // carol: no ladder state, the app ladder applies from her base.
    expect(root.querySelector('[data-worker-id="carol"] [data-trust-repo="acme/app"]')!.getAttribute('data-trust-source')).toBe('base');
  });

  it('asks before a maintainer sets or clears a level, and confirms what it asked', () => {
    const events: TrustEvent[] = [];
    let root = render({ onTrust: (e) => events.push(e) });
    const bob = () => root.querySelector<HTMLElement>('[data-worker-id="bob"]')!;
    expect([...bob().querySelectorAll('[data-trust-input="repo"] option')].map((o) => o.getAttribute('value'))).toEqual(['', 'acme/app', 'acme/docs']);
    bob().querySelector<HTMLSelectElement>('[data-trust-input="repo"]')!.value = 'acme/app';
    bob().querySelector<HTMLSelectElement>('[data-trust-input="tier"]')!.value = '2';
    bob().querySelector<HTMLElement>('[data-trust-set]')!.click();
    bob().querySelector<HTMLElement>('[data-trust-clear]')!.click();
    expect(events).toEqual([
      { type: 'ask', workerId: 'bob', repo: 'acme/app', tier: 2 },
      { type: 'ask', workerId: 'bob', repo: 'acme/docs', tier: null },
    ]);
    document.body.replaceChildren();
    root = render({ onTrust: (e) => events.push(e), trustUi: { confirming: { workerId: 'bob', repo: 'acme/app', tier: 2 } } });
    expect(bob().querySelector('[role="alertdialog"]')!.textContent).toContain('Trust bob up to tier 2 in acme/app? This override pins the level there');
    expect(root.querySelectorAll('[data-trust-confirm]')).toHaveLength(1);
    bob().querySelector<HTMLElement>('[data-trust-confirm]')!.click();
    bob().querySelector<HTMLElement>('[data-trust-cancel]')!.click();
    expect(events.slice(2)).toEqual([{ type: 'confirm', workerId: 'bob' }, { type: 'cancel' }]);
  });
});
