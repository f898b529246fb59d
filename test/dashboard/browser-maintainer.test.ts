/**
 * The maintainer's side of the dashboard in real Chromium against a real relay: a task
 * detail opened by URL hash and by click (brief rendered safely, PR number and state,
 * issue link, attempts, lease timeline, the scheduler's explanation), actions with
 * confirmation (review, requeue, cancel, hold, priority) and none for a viewer, the
 * "Awaiting review" queue oldest first, and the filters and search box.
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

const REPO = 'acme/web';
const id = (n: number): string => `${REPO}#${n}`;
const HOSTILE_BRIEF = [
  '# Port the parser',
  'Read **carefully**: <script>window.__owned = 1</script> and <img src=x onerror="window.__owned = 2">.',
  '',
  '- [ ] keep `parse()` pure',
  '- see [the spec](https://example.org/spec) and [this](javascript:window.__owned=3)',
  '',
  '```',
  '<b>not bold</b>',
  '```',
].join('\n');

describe.skipIf(!haveBrowser)(`maintainer dashboard in Chromium${haveBrowser ? '' : ' (skipped: /usr/bin/chromium not installed)'}`, () => {
  let r: TestRelay;
  let browser: Browser;
  let page: Page;
  let maintainer: string;
  let viewer: string;
  const dialogs: string[] = [];
  const consoleErrors: string[] = [];

  const ok = (x: { status: number; body: unknown }) => expect(x.status, JSON.stringify(x.body)).toBeLessThan(300);
  const card = (n: number, state: string) => `.owp-task[data-task-id="${id(n)}"][data-state="${state}"]`;
  const detail = (n: number) => `[data-task-detail="${id(n)}"]`;

  beforeAll(async () => {
    r = await startTestRelay({ features: (p) => [createDashboardFeature(p, { publicDashboard: false })] });
    maintainer = await r.token('maintainer');
    viewer = await r.token('viewer');
    const alice = await r.token('worker', 'alice');
    const bob = await r.token('worker', 'bob');
    ok(await r.api(maintainer, 'PUT', `/api/repos/${REPO}`, { reviewBudget: 5, allowedTiers: [0, 1] }));
    ok(
      await r.api(maintainer, 'POST', '/api/tasks', {
        createRepo: true,
        tasks: [
          { id: id(1), repo: REPO, title: 'Port the parser to Rust', skills: ['rust'], body: HOSTILE_BRIEF, area: 'src/parser/' },
          { id: id(2), repo: REPO, title: 'Fix the login redirect', skills: ['ts'], issueNumber: 2, area: 'src/login/' },
          { id: id(3), repo: REPO, title: 'Document the tokens', skills: ['docs'], area: 'docs/' },
          { id: id(4), repo: REPO, title: 'Add a dark theme', skills: ['css'], area: 'src/theme/' },
        ],
      }),
    );
    ok(await r.api(alice, 'POST', '/api/workers/register', { name: 'Alice', skills: ['ts', 'docs'], capacity: 5, maxConcurrent: 3 }));
    ok(await r.api(bob, 'POST', '/api/workers/register', { name: 'Bob', skills: ['docs', 'css'], capacity: 5, maxConcurrent: 3 }));
    const submitPr = async (token: string, n: number, pr: number) => {
      const c = await r.api(token, 'POST', '/api/claim', { taskId: id(n) });
      ok(c);
      ok(await r.api(token, 'POST', `/api/tasks/${encodeURIComponent(id(n))}/submit`, { fencingToken: c.body.lease.fencingToken, prUrl: `https://github.com/${REPO}/pull/${pr}` }));
    };
    await submitPr(bob, 3, 5); // in review first: the oldest
    await new Promise((res) => setTimeout(res, 20)); // distinct submit times (the order is by time, then id)
    await submitPr(alice, 2, 7);
    ok(await r.api(bob, 'POST', '/api/claim', { taskId: id(4) }));

    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
  });

  afterAll(async () => {
    await browser?.close();
    await r?.close();
  });

  it('opens a task from the URL hash, with its brief rendered as safe text and why nobody takes it', async () => {
    await page.goto(`${r.url}/#token=${maintainer}&task=${encodeURIComponent(id(1))}`);
    await page.waitForSelector(detail(1), { timeout: 30_000 });
    expect(page.url()).not.toContain('token=');
    expect(page.url()).toContain(`#task=${encodeURIComponent(id(1))}`);
    const brief = page.locator(`${detail(1)} .owp-brief`);
    expect(await brief.locator('strong').allTextContents()).toContain('carefully');
    expect(await brief.textContent()).toContain('<script>window.__owned = 1</script>');
    expect(await brief.locator('pre code').textContent()).toBe('<b>not bold</b>');
    expect(await brief.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')))).toEqual(['https://example.org/spec']);
    expect(await page.locator('#owp-root script, #owp-root img, #owp-root b').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __owned?: number }).__owned)).toBeUndefined();
    const why = page.locator(`${detail(1)} .owp-why-summary`);
    await waitFor(async () => /no available worker has skill rust/.test((await why.textContent()) ?? ''), 30_000, 'explanation');
    expect(await page.locator(`${detail(1)} [data-why-worker="alice"]`).textContent()).toMatch(/rust/);
  });

  it('opens a card by click: PR number and state, issue link, attempts and the lease timeline', async () => {
    await page.click(`${card(2, 'pr_open')} .owp-task-title`);
    await page.waitForSelector(detail(2));
    expect(page.url()).toContain(`#task=${encodeURIComponent(id(2))}`);
    const d = page.locator(detail(2));
    expect(await d.locator('.owp-detail-pr-link').textContent()).toBe('#7');
    expect(await d.locator('.owp-detail-pr-link').getAttribute('href')).toBe(`https://github.com/${REPO}/pull/7`);
    expect(await d.locator('.owp-detail-pr').getAttribute('data-pr-state')).toBe('open');
    expect(await d.locator('.owp-detail-issue').getAttribute('href')).toBe(`https://github.com/${REPO}/issues/2`);
    expect(await d.locator('.owp-detail-facts').textContent()).toContain('1 of 3');
    await waitFor(async () => /Lease 1: alice/.test((await d.locator('.owp-lease-timeline').textContent()) ?? ''), 30_000, 'lease timeline');
    expect(await d.locator('.owp-detail-events [data-kind="pr-submitted"]').count()).toBe(1);
    await mkdir('test-output', { recursive: true });
    await page.screenshot({ path: 'test-output/dashboard-detail.png' });
    // The card's own PR link names the PR.
    expect(await page.locator(`${card(2, 'pr_open')} .owp-task-pr`).textContent()).toBe('PR #7 (open)');
    // Back closes it and reopens the previous one.
    await page.goBack();
    await page.waitForSelector(detail(1));
    await page.goForward();
    await page.waitForSelector(detail(2));
  });

  it('lists PRs awaiting review oldest first, with age and links, and opens one from the queue', async () => {
    const rows = page.locator('.owp-review');
    await waitFor(async () => (await rows.count()) === 2, 30_000, 'two in review');
    expect(await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-review-task-id')))).toEqual([id(3), id(2)]);
    expect(await rows.first().locator('.owp-review-age').textContent()).toMatch(/^waiting \d+s$/);
    expect(await rows.first().locator('.owp-review-pr').getAttribute('href')).toBe(`https://github.com/${REPO}/pull/5`);
    await rows.first().locator('[data-open-task]').click();
    await page.waitForSelector(detail(3));
  });

  it('asks before a destructive action, and records a review from the page', async () => {
    const d = page.locator(detail(3));
    await d.locator('[data-action="closed"]').click();
    await page.waitForSelector(`${detail(3)} [data-confirm="closed"]`);
    await d.locator('[data-confirm-cancel]').click();
    await waitFor(async () => (await d.locator('[data-confirm]').count()) === 0, 10_000, 'confirmation gone');
    expect((await r.api(maintainer, 'GET', `/api/tasks/${encodeURIComponent(id(3))}`)).body.runtime.state).toBe('pr_open');
    await d.locator('[data-action="merged"]').click();
    await page.waitForSelector(card(3, 'done'), { timeout: 30_000 });
    await waitFor(async () => (await d.locator('[data-action-result="ok"]').textContent())?.includes('Merged: done.'), 30_000, 'merged message');
    expect(await page.locator(`${detail(3)} [data-action]`).count()).toBe(0); // nothing left to do on a done task
    expect(dialogs).toEqual([]);
  });

  it('holds, lifts the hold, sets the priority, requeues and cancels with confirmation', async () => {
    await page.goto(`${r.url}/#task=${encodeURIComponent(id(1))}`);
    const d = page.locator(detail(1));
    await d.locator('[data-action="hold"]').click();
    await page.waitForSelector(`${card(1, 'queued')}.owp-task-held`, { timeout: 30_000 });
    await d.locator('[data-action="unhold"]').click();
    await page.waitForSelector(`${card(1, 'queued')}:not(.owp-task-held)`, { timeout: 30_000 });
    await d.locator('#owp-priority-input').fill('7');
    await d.locator('[data-action="priority"]').click();
    await waitFor(async () => (await r.api(maintainer, 'GET', `/api/tasks/${encodeURIComponent(id(1))}`)).body.task.priority === 7, 30_000, 'priority 7');
    await d.locator('#owp-priority-input').fill('500');
    await d.locator('[data-action="priority"]').click();
    await waitFor(async () => /from -100 to 100/.test((await d.locator('[data-action-result="error"]').textContent()) ?? ''), 10_000, 'priority refused');

    await page.goto(`${r.url}/#task=${encodeURIComponent(id(4))}`);
    const four = page.locator(detail(4));
    await four.locator('[data-action="requeue"]').click();
    await four.locator('[data-confirm="requeue"]').click();
    await page.waitForSelector(card(4, 'queued'), { timeout: 30_000 });
    await four.locator('[data-action="cancel"]').click();
    await four.locator('[data-confirm="cancel"]').click();
    await page.waitForSelector(card(4, 'cancelled'), { timeout: 30_000 });
  });

  it('filters the board by repo, state, skill and worker, and searches titles and briefs', async () => {
    await page.goto(`${r.url}/`);
    await page.waitForSelector(card(2, 'pr_open'), { timeout: 30_000 });
    const visible = async () => (await page.locator('.owp-task').evaluateAll((els) => els.map((e) => e.getAttribute('data-task-id')))).sort();
    await page.selectOption('#owp-filter-skill', 'rust');
    await waitFor(async () => JSON.stringify(await visible()) === JSON.stringify([id(1)]), 10_000, 'skill filter');
    await page.selectOption('#owp-filter-skill', '');
    await page.selectOption('#owp-filter-worker', 'alice');
    await waitFor(async () => JSON.stringify(await visible()) === JSON.stringify([id(2)]), 10_000, 'worker filter');
    await page.selectOption('#owp-filter-worker', '');
    await page.selectOption('#owp-filter-state', 'done');
    await waitFor(async () => JSON.stringify(await visible()) === JSON.stringify([id(3)]), 10_000, 'state filter');
    await page.click('[data-filter-clear]');
    await page.fill('#owp-filter-text', 'PARSE()');
    await waitFor(async () => JSON.stringify(await visible()) === JSON.stringify([id(1)]), 10_000, 'search in the brief');
    expect(await page.locator('.owp-filter-count').textContent()).toBe('1 of 4 tasks match');
    await page.fill('#owp-filter-text', '');
    await page.selectOption('#owp-filter-repo', REPO);
    await waitFor(async () => (await visible()).length === 4, 10_000, 'repo filter');
    await mkdir('test-output', { recursive: true });
    await page.screenshot({ path: 'test-output/dashboard-maintainer.png', fullPage: true });
  });

  it('shows the success figures: the flood gauge from the live board, and a window and repo choice', async () => {
    const gauge = page.locator(`[data-flood-repo="${REPO}"] [role="progressbar"]`);
    await waitFor(async () => (await gauge.getAttribute('aria-valuenow')) === '1', 30_000, 'one PR awaiting review');
    expect(await gauge.getAttribute('aria-valuemax')).toBe('5');
    await page.selectOption('#owp-figures-window', '7d');
    await page.selectOption('#owp-figures-repo', REPO);
    await waitFor(async () => (await page.locator('#owp-figures-window').inputValue()) === '7d' && (await page.locator('#owp-figures-repo').inputValue()) === REPO, 10_000, 'choice kept across renders');
    // The page shows the relay's own figures for the choice: rates, throughput and credits.
    const stats = await r.api(viewer, 'GET', `/api/stats?since=7d&repo=${encodeURIComponent(REPO)}`);
    expect(stats.status).toBe(200);
    const f = stats.body.repos[REPO];
    expect(f).toMatchObject({ granted: 3, done: 1, merged: 1 });
    const value = (name: string) => page.locator(`[data-figure="${name}"] .owp-figure-value`);
    const pct = (x: number) => `${Math.round(x * 100)}%`;
    await waitFor(async () => (await value('completion').textContent()) === pct(f.completionRate), 30_000, 'completion rate of the relay');
    expect(await value('requeue').textContent()).toBe(pct(f.requeueRate));
    expect(await value('expiry').textContent()).toBe(pct(f.expiryRate));
    expect(await page.locator('[data-figure="completion"]').getAttribute('class')).toContain('owp-figure-bad'); // 33% is under the 80% target
    const cells = async (sel: string) => page.locator(`${sel} td`).allTextContents();
    expect(await cells('[data-throughput-worker="bob"]')).toEqual(['1', '1', '1']);
    await waitFor(async () => (await page.locator('[data-credit-worker="bob"]').count()) === 1, 30_000, 'credits');
    const credits = (await r.api(viewer, 'GET', `/api/credits?since=7d&repo=${encodeURIComponent(REPO)}`)).body.credits as { workerId: string; points: number; mergedPrs: number; tasks: number }[];
    const bob = credits.find((c) => c.workerId === 'bob')!;
    expect(bob).toMatchObject({ mergedPrs: 1, tasks: 1 });
    expect(await cells('[data-credit-worker="bob"]')).toEqual([String(bob.points), '1', '1']);
  });

  it('sends changes requested from the page: the PR goes back to its author with a fresh lease', async () => {
    await page.goto(`${r.url}/#task=${encodeURIComponent(id(2))}`);
    const d = page.locator(detail(2));
    await d.locator('[data-action="changes-requested"]').click();
    await page.waitForSelector(card(2, 'leased'), { timeout: 30_000 });
    await waitFor(async () => (await d.locator('[data-action-result="ok"]').textContent()) === 'Changes requested: done.', 30_000, 'changes requested message');
    const rt = (await r.api(maintainer, 'GET', `/api/tasks/${encodeURIComponent(id(2))}`)).body.runtime;
    expect(rt).toMatchObject({ state: 'leased', lease: { workerId: 'alice' } });
    await waitFor(async () => (await d.locator('.owp-detail-events [data-kind="review-changes-requested"]').count()) === 1, 30_000, 'in the history');
  });

  it('keeps the new parts at WCAG AA text contrast in light and dark', async () => {
    await page.goto(`${r.url}/#task=${encodeURIComponent(id(1))}`);
    await page.waitForSelector(`${detail(1)} [data-action="cancel"]`, { timeout: 30_000 });
    await page.locator(`${detail(1)} [data-action="cancel"]`).click();
    await page.waitForSelector(`${detail(1)} [data-confirm]`);
    const selectors = ['.owp-detail-facts dt', '.owp-detail-facts dd', '.owp-why-summary', '.owp-brief code', '.owp-brief blockquote, .owp-brief p', '.owp-action', '.owp-action-danger', '.owp-confirm p', '.owp-review-meta', '.owp-review-age', '.owp-link-button', '.owp-filter label', '.owp-filter-count', '.owp-figure-label', '.owp-worker-limits', '.owp-task-pr'];
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      const ratios = await contrastRatios(page, selectors);
      expect(Object.keys(ratios).length, scheme).toBeGreaterThan(12);
      for (const [sel, ratio] of Object.entries(ratios)) expect(ratio, `${scheme} ${sel}`).toBeGreaterThanOrEqual(4.5);
    }
    await page.emulateMedia({ colorScheme: 'light' });
    await page.locator(`${detail(1)} [data-confirm-cancel]`).click();
  });

  it('shows a viewer the detail without any action; the relay refuses a viewer anyway', async () => {
    const fresh = await browser.newPage();
    try {
      await fresh.goto(`${r.url}/#token=${viewer}&task=${encodeURIComponent(id(2))}`);
      await fresh.waitForSelector(detail(2), { timeout: 30_000 });
      await waitFor(async () => /Lease 1: alice/.test((await fresh.locator('.owp-lease-timeline').textContent()) ?? ''), 30_000, 'timeline for viewer');
      expect(await fresh.locator('[data-action]').count()).toBe(0);
      const refused = await r.api(viewer, 'POST', `/api/tasks/${encodeURIComponent(id(2))}/review`, { result: 'merged' });
      expect(refused.status).toBe(403);
    } finally {
      await fresh.close();
    }
  });

  it('ran without script errors', () => {
    // The browser logs every non-2xx answer as a failed resource (a 404 from a relay without
    // /api/stats, the viewer's 403); anything else is a script error.
    expect(consoleErrors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
  });
});
