// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from 'vitest';
import { buildDashboardModel, renderDashboard, updateCountdowns } from '../../shared/dashboard/index.js';
import { DEFAULTS, parseTask } from '../../shared/model.js';
import { fixture, NOW } from '../helpers/dashboard-fixtures.js';

function setup(mutate?: (f: ReturnType<typeof fixture>) => void, onOpenTask?: (id: string) => void): HTMLElement {
  const f = fixture();
  mutate?.(f);
  const root = document.createElement('div');
  document.body.appendChild(root);
  renderDashboard(root, buildDashboardModel({ ...f, now: NOW, online: { alice: true } }), { now: NOW, onOpenTask });
  return root;
}

/** Readable serialisation of a DOM tree for the approval file (tag, sorted attributes, text). */
function serialise(node: Node, depth = 0): string {
  const pad = '  '.repeat(depth);
  if (node.nodeType === 3) {
    const t = (node.textContent ?? '').trim();
    return t ? `${pad}"${t}"\n` : '';
  }
  if (node.nodeType !== 1) return '';
  const el = node as Element;
  const attrs = [...el.attributes]
    .map((a) => `${a.name}="${a.value}"`)
    .sort()
    .join(' ');
  let out = `${pad}<${el.tagName.toLowerCase()}${attrs ? ' ' + attrs : ''}>\n`;
  for (const c of el.childNodes) out += serialise(c, depth + 1);
  return out;
}

describe('renderDashboard', () => {
  beforeEach(() => {
    document.body.replaceChildren();
  });

  it('gives every task card data-task-id and data-state, and every worker data-worker-id', () => {
    const root = setup();
    const leased = root.querySelector('.owp-task[data-task-id="acme/app#1"]')!;
    expect(leased.getAttribute('data-state')).toBe('leased');
    expect(leased.closest('[data-column]')!.getAttribute('data-column')).toBe('leased');
    expect(root.querySelector('.owp-task[data-task-id="acme/app#2"]')!.getAttribute('data-state')).toBe('pr_open');
    expect(root.querySelector('.owp-task[data-task-id="acme/app#4"]')!.getAttribute('data-state')).toBe('stuck');
    expect(root.querySelector('.owp-task[data-task-id="acme/app#6"]')).toBeNull(); // old done task hidden
    // Only cards carry data-task-id, so the pair of attributes finds exactly the card.
    expect(root.querySelectorAll('[data-task-id="acme/app#1"]')).toHaveLength(1);
    expect(root.querySelector('[data-worker-id="alice"] [data-lease-task-id="acme/app#1"]')!.getAttribute('data-lease-state')).toBe('leased');
    const workers = [...root.querySelectorAll('[data-worker-id]')].map((w) => w.getAttribute('data-worker-id'));
    expect(workers).toEqual(['alice', 'bob', 'carol']);
    expect(root.querySelector('[data-worker-id="alice"]')!.getAttribute('data-online')).toBe('online');
    expect(root.querySelector('[data-worker-id="carol"]')!.getAttribute('data-online')).toBe('offline');
  });

  it('renders a hostile task title as text and creates no element from it', () => {
    const evil = '<img src=x onerror=alert(1)>';
    const root = setup((f) => {
      f.board.tasks['acme/app#3'] = parseTask({ ...f.board.tasks['acme/app#3']!, title: evil, area: '<b>x</b>/' });
    });
    expect(root.querySelector('img')).toBeNull();
    expect(root.querySelector('b')).toBeNull();
    const card = root.querySelector('.owp-task[data-task-id="acme/app#3"]')!;
    expect(card.querySelector('.owp-task-title')!.textContent).toBe(evil);
    expect(card.getAttribute('aria-label')).toContain(evil);
  });

  it('links only http(s) PR URLs', () => {
    const root = setup((f) => {
      f.ledger.tasks['acme/app#4'] = { ...f.ledger.tasks['acme/app#4']!, prUrl: 'javascript:alert(1)' };
    });
    const link = root.querySelector('.owp-task[data-task-id="acme/app#2"] a')!;
    expect(link.getAttribute('href')).toBe('https://github.com/acme/app/pull/9');
    expect(link.getAttribute('rel')).toContain('noopener');
    expect(root.querySelector('.owp-task[data-task-id="acme/app#4"] a')).toBeNull();
    expect(root.querySelector('.owp-task[data-task-id="acme/app#4"] .owp-task-pr')!.textContent).toBe('javascript:alert(1)');
  });

  it('has h2 section headings and labelled, focusable cards', () => {
    const root = setup();
    const h2 = [...root.querySelectorAll('h2')].map((h) => h.textContent);
    expect(h2).toEqual(['Awaiting review (1)', 'Board', 'Workers', 'Review budgets', 'Last hour', 'Recent events']);
    expect(root.querySelector('h3')!.textContent).toBe('acme/app');
    for (const card of root.querySelectorAll('.owp-task')) {
      expect(card.getAttribute('tabindex')).toBe('0');
      expect(card.getAttribute('aria-label')!.length).toBeGreaterThan(0);
    }
    const label = root.querySelector('.owp-task[data-task-id="acme/app#1"]')!.getAttribute('aria-label');
    expect(label).toBe('Task acme/app#1, leased, 2 points, tier 0, skills ts, held by alice, 4 minutes 5 seconds left');
  });

  it('shows capacity and review budget as labelled progress bars', () => {
    const root = setup();
    const cap = root.querySelector('[data-worker-id="alice"] .owp-capacity')!;
    expect(cap.getAttribute('role')).toBe('progressbar');
    expect(cap.getAttribute('aria-valuenow')).toBe('2');
    expect(cap.getAttribute('aria-valuemax')).toBe('5');
    expect(cap.querySelector('.owp-bar-fill')!.getAttribute('width')).toBe('40');
    const budget = root.querySelector('.owp-repo[data-repo="acme/app"] .owp-budget')!;
    expect(budget.getAttribute('aria-valuetext')).toBe('2 of 4');
    expect(root.querySelector('.owp-repo[data-repo="acme/app"] dd')!.textContent).toBe('T0 T1');
  });

  it('draws the three charts as inline SVG with one bar per busy minute', () => {
    const root = setup();
    const charts = [...root.querySelectorAll('[data-chart]')].map((c) => c.getAttribute('data-chart'));
    expect(charts).toEqual(['assignments', 'expiries', 'utilisation']);
    expect(root.querySelectorAll('[data-chart="assignments"] rect.owp-chart-bar')).toHaveLength(3);
    expect(root.querySelectorAll('[data-chart="expiries"] rect.owp-chart-bar')).toHaveLength(1);
    expect(root.querySelector('[data-chart="utilisation"] polyline')).not.toBeNull();
    expect(root.querySelector('[data-chart="assignments"] svg')!.getAttribute('role')).toBe('img');
  });

  it('replaces its content on re-render and keeps focus on the same task card', () => {
    const f = fixture();
    const root = document.createElement('div');
    document.body.appendChild(root);
    renderDashboard(root, buildDashboardModel({ ...f, now: NOW }), { now: NOW });
    (root.querySelector('.owp-task[data-task-id="acme/app#3"]') as HTMLElement).focus();
    f.ledger.tasks['acme/app#3'] = { ...f.ledger.tasks['acme/app#3']!, state: 'leased' };
    renderDashboard(root, buildDashboardModel({ ...f, now: NOW }), { now: NOW });
    expect(root.querySelectorAll('.owp-grid')).toHaveLength(1);
    expect(root.querySelectorAll('.owp-task[data-task-id="acme/app#3"]')).toHaveLength(1);
    expect(document.activeElement!.getAttribute('data-task-id')).toBe('acme/app#3');
    expect(document.activeElement!.getAttribute('data-state')).toBe('leased');
  });

  it('updates in place: unchanged cards keep their nodes, moved ones change column, stale ones go', () => {
    const f = fixture();
    const root = document.createElement('div');
    document.body.appendChild(root);
    root.append(document.createElement('blink'), 'loading…');
    renderDashboard(root, buildDashboardModel({ ...f, now: NOW }), { now: NOW });
    expect(root.querySelector('blink')).toBeNull();
    expect(root.textContent).not.toContain('loading…');
    const stuck = root.querySelector('.owp-task[data-task-id="acme/app#4"]');
    const queued = root.querySelector('.owp-task[data-task-id="acme/app#3"]');
    f.ledger.tasks['acme/app#3'] = { ...f.ledger.tasks['acme/app#3']!, state: 'leased' };
    delete f.board.tasks['acme/app#7'];
    f.board.tasks['acme/app#4'] = { ...f.board.tasks['acme/app#4']!, title: 'Renamed' };
    renderDashboard(root, buildDashboardModel({ ...f, now: NOW }), { now: NOW });
    expect(root.querySelector('.owp-task[data-task-id="acme/app#4"]')).toBe(stuck);
    expect(stuck!.querySelector('.owp-task-title')!.textContent).toBe('Renamed');
    const moved = root.querySelector('.owp-task[data-task-id="acme/app#3"]')!;
    expect(moved).not.toBe(queued);
    expect(moved.getAttribute('data-state')).toBe('leased');
    expect(moved.closest('[data-column]')!.getAttribute('data-column')).toBe('leased');
    expect(root.querySelector('[data-task-id="acme/app#7"]')).toBeNull();
    // The result is exactly a fresh render.
    const fresh = document.createElement('div');
    renderDashboard(fresh, buildDashboardModel({ ...f, now: NOW }), { now: NOW });
    expect(serialise(root)).toBe(serialise(fresh));
  });

  it('uses the latest onOpenTask after a re-render', () => {
    const f = fixture();
    const root = document.createElement('div');
    document.body.appendChild(root);
    const first: string[] = [];
    const second: string[] = [];
    renderDashboard(root, buildDashboardModel({ ...f, now: NOW }), { now: NOW, onOpenTask: (id) => first.push(id) });
    renderDashboard(root, buildDashboardModel({ ...f, now: NOW }), { now: NOW, onOpenTask: (id) => second.push(id) });
    (root.querySelector('.owp-task[data-task-id="acme/app#3"] .owp-task-title') as HTMLElement).click();
    expect(first).toEqual([]);
    expect(second).toEqual(['acme/app#3']);
    renderDashboard(root, buildDashboardModel({ ...f, now: NOW }), { now: NOW });
    (root.querySelector('.owp-task[data-task-id="acme/app#3"]') as HTMLElement).click();
    expect(second).toEqual(['acme/app#3']);
  });

  it('ticks countdowns in place without rebuilding', () => {
    const root = setup();
    const card = root.querySelector('.owp-task[data-task-id="acme/app#1"]')!;
    const cd = card.querySelector('.owp-countdown')!;
    expect(cd.textContent).toBe('4m 05s');
    updateCountdowns(root, NOW + 200_000);
    expect(root.querySelector('.owp-task[data-task-id="acme/app#1"]')).toBe(card);
    expect(cd.textContent).toBe('45s');
    expect(cd.classList.contains('owp-countdown-urgent')).toBe(true);
    updateCountdowns(root, NOW + 300_000);
    expect(cd.textContent).toBe('expired');
    // The worker's lease list ticks too.
    expect(root.querySelector('[data-worker-id="alice"] .owp-countdown')!.textContent).toBe('expired');
  });

  it('calls onOpenTask on click and on Enter', () => {
    const opened: string[] = [];
    const root = setup(undefined, (id) => opened.push(id));
    const card = root.querySelector('.owp-task[data-task-id="acme/app#3"]') as HTMLElement;
    card.click();
    card.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
    card.dispatchEvent(new KeyboardEvent('keydown', { key: 'a', bubbles: true }));
    expect(opened).toEqual(['acme/app#3', 'acme/app#3']);
  });

  it('shows "and N more" when a column is capped', () => {
    const f = fixture();
    const root = document.createElement('div');
    renderDashboard(root, buildDashboardModel({ ...f, now: NOW, maxCardsPerColumn: 1 }), { now: NOW, doc: document });
    const queued = root.querySelector('.owp-repo-board[data-repo="acme/app"] [data-column="queued"]')!;
    expect(queued.querySelectorAll('.owp-task')).toHaveLength(1);
    expect(queued.querySelector('h4')!.textContent).toBe('Queued (2)');
    expect(queued.querySelector('.owp-more')!.textContent).toBe('and 1 more');
  });

  it('renders the fixture exactly as approved (review test/dashboard/render.approved.txt)', async () => {
    const root = setup();
    // Charts are long lists of SVG nodes; the approval keeps their summaries, not every bar.
    for (const svg of root.querySelectorAll('svg.owp-chart-svg')) svg.replaceChildren();
    await expect(serialise(root)).toMatchFileSnapshot('./render.approved.txt');
  });

  it('a repo without a policy says the defaults apply, as the scheduler does', () => {
    const root = setup();
    const other = root.querySelector('.owp-repo[data-repo="other/lib"] .owp-empty')!;
    const tiers = DEFAULTS.allowedTiers.length > 1 ? `${DEFAULTS.allowedTiers.slice(0, -1).join(', ')} and ${DEFAULTS.allowedTiers.at(-1)}` : String(DEFAULTS.allowedTiers[0]);
    expect(other.textContent).toBe(`No policy set for this repo: defaults apply (review budget ${DEFAULTS.reviewBudget}, tiers ${tiers})`);
    expect(other.textContent).toContain('(review budget 5, tiers 0 and 1)');
    expect(root.textContent).not.toContain('tasks are not offered');
  });

  it('says so when there is nothing yet', () => {
    const root = document.createElement('div');
    renderDashboard(
      root,
      buildDashboardModel({ board: { tasks: {}, repos: {}, trust: {} }, ledger: { batch: 0, tasks: {}, workers: {}, outcomes: {} }, recent: [], now: NOW }),
      { now: NOW, doc: document },
    );
    expect(root.textContent).toContain('No tasks yet.');
    expect(root.textContent).toContain('No workers yet.');
    expect(root.textContent).toContain('No events yet.');
  });
});
