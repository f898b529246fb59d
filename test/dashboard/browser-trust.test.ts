/**
 * A worker's trust on the web dashboard in real Chromium against a real relay (issue 12,
 * trust ladder): a merged PR moves the worker up through the relay's scheduler and the card
 * shows the level and why; a maintainer overrides it from the card after a confirmation
 * (PUT /api/trust, what `owp trust` sends), sees the audited change, and clears it again;
 * a viewer sees the levels and no control.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createDashboardFeature } from '../../server/web/index.js';
import { startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';
import { contrastRatios } from '../helpers/contrast.js';

const CHROMIUM = '/usr/bin/chromium';
const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser && process.env.CI) throw new Error(`${CHROMIUM} is missing and CI is set: install Debian's chromium package`);

const REPO = 'acme/ladder';
const enc = encodeURIComponent;

interface Entry {
  kind: string;
  actor: string;
  workerId?: string;
  repo?: string;
  before?: number;
  after?: number;
}

describe.skipIf(!haveBrowser)(`worker trust on the dashboard in Chromium${haveBrowser ? '' : ' (skipped: /usr/bin/chromium not installed)'}`, () => {
  let r: TestRelay;
  let browser: Browser;
  let page: Page;
  let maintainer: string;
  let viewer: string;
  const consoleErrors: string[] = [];
  const level = `[data-worker-id="wendy"] [data-trust-repo="${REPO}"]`;
  const ok = (x: { status: number; body: unknown }) => expect(x.status, JSON.stringify(x.body)).toBeLessThan(300);
  const trustChanges = async (): Promise<Entry[]> =>
    ((await r.api(maintainer, 'GET', '/api/audit?worker=wendy&since=0&limit=1000')).body.entries as Entry[]).filter((e) => e.kind === 'trust-changed');

  beforeAll(async () => {
    r = await startTestRelay({ features: (p) => [createDashboardFeature(p, { publicDashboard: false })] });
    maintainer = (await r.relay.tokens.create({ role: 'maintainer', name: 'ann' })).token;
    viewer = await r.token('viewer');
    const wendy = await r.token('worker', 'wendy');
    ok(await r.api(maintainer, 'PUT', `/api/repos/${REPO}`, { allowedTiers: [0, 1, 2], trustLadder: { enabled: true, promoteAfter: 1, lookback: 1, demoteAfter: 3 } }));
    ok(await r.api(maintainer, 'POST', '/api/tasks', { tasks: [{ id: `${REPO}:a`, repo: REPO, title: 'A', tier: 1 }] }));
    ok(await r.api(wendy, 'POST', '/api/workers/register', { name: 'Wendy', skills: [], capacity: 5, maxConcurrent: 2 }));
    const c = await r.api(wendy, 'POST', '/api/claim', { taskId: `${REPO}:a` });
    ok(c);
    ok(await r.api(wendy, 'POST', `/api/tasks/${enc(`${REPO}:a`)}/submit`, { fencingToken: c.body.lease.fencingToken, prUrl: `https://github.com/${REPO}/pull/1` }));
    ok(await r.api(maintainer, 'POST', `/api/tasks/${enc(`${REPO}:a`)}/review`, { result: 'merged' }));
    await waitFor(async () => (await trustChanges()).length === 1, 30_000, 'the ladder promoted wendy');

    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
  });

  afterAll(async () => {
    await browser?.close();
    await r?.close();
  });

  it('shows the level the trust ladder gave, and why', async () => {
    await page.goto(`${r.url}/#token=${maintainer}`);
    await page.waitForSelector(`${level}[data-trust-source="ladder"][data-trust-tier="2"]`, { timeout: 30_000 });
    expect(await page.locator('[data-worker-id="wendy"] [data-trust-base]').getAttribute('data-trust-base')).toBe('1');
    const why = (await page.locator(level).textContent()) ?? '';
    expect(why).toContain(`${REPO}: tier 2`);
    expect(why).toContain('set by the trust ladder: tier 2 is the highest this repo allows; 0 closed unmerged among the last 1');
    expect(why).toContain('Last move: Promoted from tier 1 to 2 in acme/ladder');
    await waitFor(async () => /trust changed.*1 -> 2 by scheduler/.test((await page.locator('[data-worker-id="wendy"] .owp-trust-last').textContent()) ?? ''), 30_000, 'the ladder’s move shown');
    const selectors = ['.owp-trust-base', '.owp-trust-level', '.owp-trust-why', '.owp-trust-last', '.owp-trust-control label', '.owp-trust-control .owp-action'];
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      const ratios = await contrastRatios(page, selectors);
      expect(Object.keys(ratios), scheme).toHaveLength(selectors.length);
      for (const [sel, ratio] of Object.entries(ratios)) expect(ratio, `${scheme} ${sel}`).toBeGreaterThanOrEqual(4.5);
    }
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('overrides the level only after a confirmation, and shows the audited change', async () => {
    const card = page.locator('[data-worker-id="wendy"]');
    await card.locator('[data-trust-input="repo"]').selectOption(REPO);
    await card.locator('[data-trust-input="tier"]').selectOption('0');
    await card.locator('[data-trust-set]').click();
    const ask = card.locator('[role="alertdialog"]');
    await ask.waitFor();
    expect(await ask.textContent()).toContain(`Trust wendy up to tier 0 in ${REPO}? This override pins the level there`);
    // "Keep it" sends nothing.
    await card.locator('[data-trust-cancel]').click();
    await waitFor(async () => (await card.locator('[data-trust-confirm]').count()) === 0, 10_000, 'confirmation gone');
    expect(await trustChanges()).toHaveLength(1);

    await card.locator('[data-trust-input="repo"]').selectOption(REPO);
    await card.locator('[data-trust-input="tier"]').selectOption('0');
    await card.locator('[data-trust-set]').click();
    await card.locator('[data-trust-confirm]').click();
    await page.waitForSelector(`${level}[data-trust-source="override"][data-trust-tier="0"]`, { timeout: 30_000 });
    await waitFor(async () => (await card.locator('[data-trust-result="ok"]').textContent()) === `Trusted up to tier 0 in ${REPO}: done.`, 10_000, 'done message');

    const audited = await waitFor(async () => (await trustChanges()).find((e) => e.actor === 'maintainer-ann'), 30_000, 'the override audited');
    expect(audited).toMatchObject({ workerId: 'wendy', repo: REPO, after: 0 });
    // The same audit entry reaches the page: in the recent events and on the worker.
    const event = page.locator('.owp-event[data-kind="trust-changed"]', { hasText: 'by maintainer-ann' });
    await event.first().waitFor({ timeout: 30_000 });
    expect(await event.first().textContent()).toContain(`trust changed: ${REPO} (wendy) - -> 0 by maintainer-ann`);
    await waitFor(async () => /by maintainer-ann/.test((await card.locator('.owp-trust-last').textContent()) ?? ''), 30_000, 'last change on the card');
    await mkdir('test-output', { recursive: true });
    await card.screenshot({ path: 'test-output/dashboard-trust.png' });
    // The relay schedules with it: the tier-1 task is above wendy's level now.
    ok(await r.api(maintainer, 'POST', '/api/tasks', { tasks: [{ id: `${REPO}:b`, repo: REPO, title: 'B', tier: 1 }] }));
    const why = await r.api(maintainer, 'GET', `/api/tasks/${enc(`${REPO}:b`)}/explain`);
    expect(JSON.stringify(why.body.explanation)).toContain('trust level 0');
  });

  it('clears the override after a confirmation: the ladder’s level applies again', async () => {
    const card = page.locator('[data-worker-id="wendy"]');
    await card.locator(`[data-trust-clear][data-trust-for="${REPO}"]`).click();
    expect(await card.locator('[role="alertdialog"]').textContent()).toContain(`Clear the override of wendy in ${REPO}?`);
    await card.locator('[data-trust-confirm]').click();
    await page.waitForSelector(`${level}[data-trust-source="ladder"][data-trust-tier="2"]`, { timeout: 30_000 });
    await waitFor(async () => (await trustChanges()).filter((e) => e.actor === 'maintainer-ann').length === 2, 30_000, 'the clear audited');
  });

  it('shows a viewer the levels without any control; the relay refuses a viewer anyway', async () => {
    const fresh = await browser.newPage();
    try {
      await fresh.goto(`${r.url}/#token=${viewer}`);
      await fresh.waitForSelector(`${level}[data-trust-tier="2"]`, { timeout: 30_000 });
      expect(await fresh.locator('[data-trust-set], [data-trust-clear], [data-trust-input]').count()).toBe(0);
      const refused = await r.api(viewer, 'PUT', '/api/trust/wendy', { tier: 3 });
      expect(refused.status).toBe(403);
    } finally {
      await fresh.close();
    }
  });

  it('ran without script errors', () => {
    expect(consoleErrors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
  });
});
