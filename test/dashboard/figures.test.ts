// @vitest-environment happy-dom
/**
 * The success figures and credits sections: rates as whole percents against the 80% target,
 * "—" for what the relay did not say, the flood gauge from the live board, credits, and the
 * selectors' hooks; tolerant reading of the relay's answer.
 */
import { describe, expect, it } from 'vitest';
import { buildDashboardModel, creditsFrom, figuresFrom, figuresSection } from '../../shared/dashboard/index.js';
import { builder } from '../../shared/dashboard/dom.js';
import { fixture, NOW } from '../helpers/dashboard-fixtures.js';

const model = () => buildDashboardModel({ ...fixture(), now: NOW });
const text = (el: Element, name: string) => el.querySelector(`[data-figure="${name}"] .owp-figure-value`)?.textContent;

describe('figuresSection', () => {
  it('shows rates, medians and throughput, and marks the completion rate against the 80% target', () => {
    const el = figuresSection(builder(document), model(), {
      window: '7d',
      figures: {
        granted: 20,
        done: 17,
        completionRate: 0.85,
        expired: 2,
        expiryRate: 0.1,
        requeued: 1,
        requeueRate: 0.05,
        medianMs: { firstClaim: 90_000, toPr: 3 * 3600_000 + 5 * 60_000, toMerge: null },
        workers: [{ workerId: 'alice', done: 10, merged: 8, points: 14 }],
      },
      credits: [{ workerId: 'alice', name: 'Alice', points: 14, mergedPrs: 8, tasks: 10 }],
    });
    expect(text(el, 'completion')).toBe('85%');
    expect(el.querySelector('[data-figure="completion"]')!.classList.contains('owp-figure-good')).toBe(true);
    expect(text(el, 'expiry')).toBe('10%');
    expect(text(el, 'requeue')).toBe('5%');
    expect(text(el, 'first-claim')).toBe('1m');
    expect(text(el, 'to-pr')).toBe('3h 05m');
    expect(text(el, 'to-merge')).toBe('—');
    expect(el.querySelector('[data-throughput-worker="alice"]')!.textContent).toBe('alice10814');
    expect(el.querySelector('[data-credit-worker="alice"]')!.textContent).toBe('Alice (alice)14810');
    expect((el.querySelector('#owp-figures-window') as HTMLSelectElement).value).toBe('7d');
  });

  it('flags a completion rate at or under 80%, and never shows NaN for missing numbers', () => {
    const el = figuresSection(builder(document), model(), { window: '24h', figures: { completionRate: 0.5, expiryRate: Number.NaN } });
    expect(el.querySelector('[data-figure="completion"]')!.classList.contains('owp-figure-bad')).toBe(true);
    expect(text(el, 'expiry')).toBe('—');
    expect(el.textContent).not.toContain('NaN');
  });

  it('draws the flood gauge from the live board, for the pool or one repo, and says why figures are missing', () => {
    const el = figuresSection(builder(document), model(), { window: '24h', unavailable: 'The figures need a token.' });
    const gauge = el.querySelector('[data-flood-repo="acme/app"] [role="progressbar"]')!;
    expect([gauge.getAttribute('aria-valuenow'), gauge.getAttribute('aria-valuemax')]).toEqual(['1', '4']);
    expect(el.querySelectorAll('[data-flood-repo]').length).toBe(2);
    expect(el.querySelector('[data-figures-unavailable]')!.textContent).toBe('The figures need a token.');
    const one = figuresSection(builder(document), model(), { window: '24h', repo: 'acme/app' });
    expect(one.querySelectorAll('[data-flood-repo]').length).toBe(1);
  });
});

describe('reading the relay', () => {
  it('takes the pool or the chosen repo, and credits with a worker id only', () => {
    const body = { pool: { completionRate: 0.9 }, repos: { 'acme/app': { completionRate: 0.7 } } };
    expect(figuresFrom(body)).toEqual({ completionRate: 0.9 });
    expect(figuresFrom(body, 'acme/app')).toEqual({ completionRate: 0.7 });
    expect(figuresFrom('nope')).toBeUndefined();
    expect(creditsFrom({ credits: [{ workerId: 'a', points: 1 }, { points: 2 }, null] })).toEqual([{ workerId: 'a', points: 1 }]);
    expect(creditsFrom({})).toBeUndefined();
  });
});
