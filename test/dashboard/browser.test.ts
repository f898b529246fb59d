/**
 * The dashboard in real Chromium against a real relay: live updates from a claim made with
 * the real CLI, capacity bar, reconnect across a relay restart, CSP, XSS, phone width.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createDashboardFeature } from '../../server/web/index.js';
import { startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';
import { contrastRatios } from '../helpers/contrast.js';

const CHROMIUM = '/usr/bin/chromium';
const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser && process.env.CI) throw new Error(`${CHROMIUM} is missing and CI is set: install Debian's chromium package`);

const run = promisify(execFile);
const REPO = 'acme/web';
const features = (port: Parameters<typeof createDashboardFeature>[0]) => [createDashboardFeature(port, { publicDashboard: false })];

describe.skipIf(!haveBrowser)(`dashboard in Chromium${haveBrowser ? '' : ' (skipped: /usr/bin/chromium not installed)'}`, () => {
  let dataDir: string;
  let owpHome: string;
  let r: TestRelay;
  let browser: Browser;
  let page: Page;
  let port: number;
  let maintainer: string;
  let viewer: string;
  let alice: string;
  let bob: string;
  const consoleErrors: string[] = [];
  const dialogs: string[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'owp-browser-'));
    owpHome = await mkdtemp(join(tmpdir(), 'owp-browser-home-'));
    r = await startTestRelay({ dataDir, features });
    port = r.relay.port;
    maintainer = await r.token('maintainer');
    viewer = await r.token('viewer');
    alice = await r.token('worker', 'alice');
    bob = await r.token('worker', 'bob');
    const ok = (x: { status: number; body: unknown }) => {
      expect(x.status, JSON.stringify(x.body)).toBeLessThan(300);
    };
    ok(await r.api(maintainer, 'PUT', `/api/repos/${REPO}`, { reviewBudget: 5, allowedTiers: [0, 1], frozenAreas: ['infra/'] }));
    ok(
      await r.api(maintainer, 'POST', '/api/tasks', {
        createRepo: true,
        tasks: [
          { id: `${REPO}#1`, repo: REPO, title: 'Fix the login redirect', points: 2, skills: ['ts'], area: 'src/login/' },
          { id: `${REPO}#2`, repo: REPO, title: 'Document the API tokens', points: 1, skills: ['docs'], area: 'docs/' },
          { id: `${REPO}#3`, repo: REPO, title: '<img src=x onerror=alert(1)>', points: 1, skills: ['ts'], area: 'src/x/' },
          { id: `${REPO}#4`, repo: REPO, title: 'Add a dark theme', points: 3, skills: ['css'], area: 'src/theme/' },
        ],
      }),
    );
    ok(await r.api(alice, 'POST', '/api/workers/register', { name: 'Alice', skills: ['ts', 'docs'], capacity: 5, maxConcurrent: 2 }));
    ok(await r.api(bob, 'POST', '/api/workers/register', { name: 'Bob', skills: ['docs', 'css'], capacity: 4, maxConcurrent: 2 }));
    // Bob opens a PR on #2, so the board shows more than one state.
    const claim = await r.api(bob, 'POST', '/api/claim', { taskId: `${REPO}#2` });
    ok(claim);
    ok(await r.api(bob, 'POST', `/api/tasks/${encodeURIComponent(`${REPO}#2`)}/submit`, { fencingToken: claim.body.lease.fencingToken, prUrl: 'https://github.com/acme/web/pull/7' }));

    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
  });

  afterAll(async () => {
    await browser?.close();
    await r?.close();
    await rm(dataDir, { recursive: true, force: true });
    await rm(owpHome, { recursive: true, force: true });
  });

  const card = (id: string, state: string) => `.owp-task[data-task-id="${id}"][data-state="${state}"]`;

  it('opens with a token from the URL fragment and shows the board live', async () => {
    await page.goto(`${r.url}/#token=${viewer}`);
    await page.waitForSelector('#owp-status[data-status="live"]', { timeout: 30_000 });
    await page.waitForSelector(card(`${REPO}#1`, 'queued'), { timeout: 30_000 });
    await page.waitForSelector(card(`${REPO}#2`, 'pr_open'));
    // The token left the address bar.
    expect(page.url()).not.toContain('token=');
    expect(await page.locator('h1').textContent()).toBe('OWP Pool');
    expect(await page.locator('#owp-status').getAttribute('role')).toBe('status');
    expect(await page.locator('h2').allTextContents()).toEqual(expect.arrayContaining(['Board', 'Workers', 'Review budgets', 'Last hour', 'Recent events']));
  });

  it('renders a hostile title as text', async () => {
    const hostile = page.locator(`.owp-task[data-task-id="${REPO}#3"] .owp-task-title`);
    expect(await hostile.textContent()).toBe('<img src=x onerror=alert(1)>');
    expect(await page.locator('#owp-root img').count()).toBe(0);
    expect(dialogs).toEqual([]);
  });

  it('moves a card to leased and fills the capacity bar when the CLI claims, without a reload', async () => {
    const navigations: string[] = [];
    page.on('framenavigated', (f) => navigations.push(f.url()));
    const aliceBar = page.locator('[data-worker-id="alice"] .owp-capacity');
    await waitFor(async () => (await aliceBar.getAttribute('aria-valuenow')) === '0', 30_000, 'alice capacity 0');
    const cli = await run(process.execPath, ['bin/owp.js', 'claim', `${REPO}#1`], {
      env: { ...process.env, OWP_URL: r.url, OWP_TOKEN: alice, OWP_HOME: owpHome },
      timeout: 60_000,
    });
    expect(cli.stdout + cli.stderr).toContain(`${REPO}#1`);
    await page.waitForSelector(card(`${REPO}#1`, 'leased'), { timeout: 30_000 });
    // Exactly one element answers the selector the brief gives: the card itself.
    expect(await page.locator(`[data-task-id="${REPO}#1"][data-state="leased"]`).count()).toBe(1);
    await waitFor(async () => (await aliceBar.getAttribute('aria-valuenow')) === '2', 30_000, 'alice capacity 2');
    expect(await aliceBar.getAttribute('aria-valuemax')).toBe('5');
    expect(await page.locator(`[data-worker-id="alice"] .owp-lease[data-lease-task-id="${REPO}#1"] .owp-countdown`).count()).toBe(1);
    expect(navigations).toEqual([]);
    await mkdir('test-output', { recursive: true });
    await page.screenshot({ path: 'test-output/dashboard.png', fullPage: true });
  });

  it('says it is reconnecting while the relay restarts, then recovers by itself', async () => {
    await r.close();
    await page.waitForSelector('#owp-status[data-status="reconnecting"]', { timeout: 30_000 });
    expect(await page.locator('#owp-status').textContent()).toMatch(/Reconnecting/);
    r = await startTestRelay({ dataDir, port, features });
    await page.waitForSelector('#owp-status[data-status="live"]', { timeout: 30_000 });
    // State came back from LevelDB: the lease is still there.
    await page.waitForSelector(card(`${REPO}#1`, 'leased'), { timeout: 30_000 });
    // And it is live again: a new claim shows up.
    const again = await r.api(bob, 'POST', '/api/claim', { taskId: `${REPO}#4` });
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    await page.waitForSelector(card(`${REPO}#4`, 'leased'), { timeout: 30_000 });
    await waitFor(async () => (await page.locator('.owp-event').count()) > 0, 30_000, 'recent events listed');
    await page.screenshot({ path: 'test-output/dashboard-after-restart.png', fullPage: true });
    // Refresh the docs' screenshot when asked (or when it is missing), so ordinary runs
    // leave the working tree clean.
    if (process.env.OWP_UPDATE_SCREENSHOTS === '1' || !existsSync('docs/img/dashboard.png')) {
      await mkdir('docs/img', { recursive: true });
      await copyFile('test-output/dashboard-after-restart.png', 'docs/img/dashboard.png');
    }
  });

  it('ran without Content-Security-Policy violations or script errors', async () => {
    // Connection errors while the relay was down are expected; anything else is not.
    const unexpected = consoleErrors.filter((e) => !/ERR_CONNECTION_REFUSED|net::|EventSource|Failed to load resource/.test(e));
    expect(unexpected).toEqual([]);
  });

  it('keeps text contrast at WCAG AA (4.5:1) in light and dark colour schemes', async () => {
    const selectors = ['h1', 'h2', '.owp-status', '.owp-summary', '.owp-task-title', '.owp-task-id', '.owp-chip', '.owp-task-holder', '.owp-worker-stats', '.owp-repo-facts dt', '.owp-event-time', '.owp-event-text', '.owp-chart-summary', '.owp-empty', 'h4'];
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      const ratios = await contrastRatios(page, selectors);
      expect(Object.keys(ratios).length, scheme).toBeGreaterThan(10);
      if (process.env.OWP_DEBUG_CONTRAST) console.log(scheme, ratios);
      for (const [sel, ratio] of Object.entries(ratios)) expect(ratio, `${scheme} ${sel}`).toBeGreaterThanOrEqual(4.5);
    }
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: 'test-output/dashboard-dark.png' });
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('collapses to one column at phone width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const cols = await page.locator('.owp-grid').evaluate((el) => getComputedStyle(el).gridTemplateColumns.split(' ').length);
    expect(cols).toBe(1);
    const boardCols = await page.locator('.owp-columns').first().evaluate((el) => getComputedStyle(el).gridTemplateColumns.split(' ').length);
    expect(boardCols).toBe(1);
    await page.screenshot({ path: 'test-output/dashboard-phone.png', fullPage: false });
  });

  it('with a public dashboard, shows the board without any token', async () => {
    const pub = await startTestRelay({ publicDashboard: true, features: (p) => [createDashboardFeature(p, { publicDashboard: true })] });
    const fresh = await browser.newPage();
    try {
      const m = await pub.token('maintainer');
      await pub.api(m, 'PUT', `/api/repos/${REPO}`, {});
      await pub.api(m, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id: `${REPO}#9`, repo: REPO, title: 'Public task' }] });
      await fresh.goto(`${pub.url}/`);
      await fresh.waitForSelector('#owp-status[data-status="live"]', { timeout: 30_000 });
      await fresh.waitForSelector(card(`${REPO}#9`, 'queued'), { timeout: 30_000 });
      expect(await fresh.locator('#owp-token-form').isHidden()).toBe(true);
    } finally {
      await fresh.close();
      await pub.close();
    }
  });

  it('asks for a token when there is none, and refuses a bad one with a clear message', async () => {
    const fresh = await browser.newPage();
    try {
      await fresh.goto(`${r.url}/`);
      await fresh.waitForSelector('#owp-token-form:not([hidden])', { timeout: 30_000 });
      expect(await fresh.locator('label[for="owp-token-input"]').textContent()).toBe('Token');
      await fresh.fill('#owp-token-input', 'owp_not_a_real_token');
      await fresh.click('#owp-token-form button[type="submit"]');
      await fresh.waitForSelector('#owp-status[data-status="locked"]', { timeout: 30_000 });
      await waitFor(async () => /refused this token/.test((await fresh.locator('#owp-token-error').textContent()) ?? ''), 30_000, 'refusal message');
      await fresh.fill('#owp-token-input', viewer);
      await fresh.click('#owp-token-form button[type="submit"]');
      await fresh.waitForSelector('#owp-status[data-status="live"]', { timeout: 30_000 });
      await fresh.waitForSelector(card(`${REPO}#1`, 'leased'), { timeout: 30_000 });
    } finally {
      await fresh.close();
    }
  });
  it('stops and says so when its token is revoked while it is open', async () => {
    const t = await r.relay.tokens.create({ role: 'viewer', name: 'to be revoked' });
    const fresh = await browser.newPage();
    try {
      await fresh.goto(`${r.url}/#token=${t.token}`);
      await fresh.waitForSelector('#owp-status[data-status="live"]', { timeout: 30_000 });
      const del = await r.api(r.adminToken, 'DELETE', `/api/tokens/${t.id}`);
      expect(del.status, JSON.stringify(del.body)).toBe(200);
      await fresh.waitForSelector('#owp-status[data-status="locked"]', { timeout: 30_000 });
      expect(await fresh.locator('#owp-status').textContent()).toMatch(/refused this token/);
      expect(await fresh.locator('#owp-token-form').isVisible()).toBe(true);
    } finally {
      await fresh.close();
    }
  });
});
