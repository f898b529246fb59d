/**
 * Renders a DashboardModel into DOM nodes (web page and Obsidian view share it).
 *
 * Invariants:
 * - No HTML strings anywhere: nodes come from dom.ts, text goes through textContent, so a
 *   task title like `<img src=x onerror=...>` shows as text and creates no element.
 * - `renderDashboard(root, ...)` owns `root`'s content: after a render it holds exactly the
 *   new view (anything else there is removed). Updates are keyed (morph.ts): unchanged cards
 *   keep their DOM nodes, and keyboard focus stays on the same task card / worker.
 * - Opening a task is delegated on `root` (one click and one keydown listener per root,
 *   reading the latest `onOpenTask`), so no card carries a listener of its own.
 * - Only task cards carry `data-task-id` and `data-state` (so `[data-task-id=..][data-state=..]`
 *   finds exactly one element); a worker's lease rows use `data-lease-task-id`, events
 *   `data-event-task-id`. Every worker has `data-worker-id`; every lease countdown
 *   `data-expires-at`, so `updateCountdowns` can tick them in place.
 * - Links are only ever http(s) URLs; anything else is shown as text.
 * - CSS classes are prefixed `owp-`; no inline styles (the page runs under a strict CSP).
 */
import { builder, type Builder } from './dom.js';
import { morphChildren } from './morph.js';
import { renderChart } from './charts.js';
import { describeCountdown, describeEvent, formatClock, formatCountdown } from './format.js';
import type { DashboardModel, RepoView } from './model.js';
import { bar, repoBoard, URGENT_MS } from './render-board.js';
import { workerCard, type TrustUi } from './render-workers.js';
import { filterBar, reviewQueueSection } from './render-panels.js';
import { renderTaskDetail, type DetailUi } from './render-detail.js';
import type { TaskDetail } from './detail.js';
import type { TaskFilter } from './filters.js';
import { delegate, syncControls, type DetailEvent, type FiguresChoice, type TrustEvent } from './interact.js';
import { DEFAULTS } from '../defaults.js';

/** A repo without a policy is scheduled with DEFAULTS, not left out (shared/defaults.ts has no zod). */
const DEFAULT_POLICY = { reviewBudget: DEFAULTS.reviewBudget, allowedTiers: DEFAULTS.allowedTiers };
const NO_POLICY_TEXT = `No policy set for this repo: defaults apply (review budget ${DEFAULT_POLICY.reviewBudget}, tiers ${andList(DEFAULT_POLICY.allowedTiers.map(String))})`;

function andList(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? 'none') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

export interface RenderOptions {
  now: number;
  doc?: Document;
  onOpenTask?: (taskId: string) => void;
  /** The open task's detail (web page), shown above the board, and its UI state. */
  detail?: TaskDetail;
  detailUi?: DetailUi;
  onDetail?: (e: DetailEvent) => void;
  /** Show the filter bar (the model's filter is its value) and report changes. */
  onFilter?: (f: TaskFilter) => void;
  /** Extra sections (e.g. success figures, credits), placed after the review queue. */
  extra?: (b: Builder, model: DashboardModel) => HTMLElement[];
  onFigures?: (c: FiguresChoice) => void;
  /** Show each worker's trust override control (maintainer or admin token) and report its use. */
  onTrust?: (e: TrustEvent) => void;
  trustUi?: TrustUi;
}

function repoPolicy(b: Builder, r: RepoView): HTMLElement {
  return b.el(
    'li',
    { class: 'owp-repo', 'data-repo': r.repo },
    b.el('span', { class: 'owp-repo-name' }, r.repo),
    r.policy
      ? bar(b, r.budget.inUse, r.budget.size, `Review budget in use for ${r.repo}`, 'owp-budget')
      : b.el('p', { class: 'owp-empty' }, NO_POLICY_TEXT),
    b.el(
      'dl',
      { class: 'owp-repo-facts' },
      b.el('dt', undefined, 'Allowed tiers'),
      b.el('dd', undefined, r.allowedTiers.length ? r.allowedTiers.map((t) => `T${t}`).join(' ') : 'none'),
      b.el('dt', undefined, 'Frozen areas'),
      b.el('dd', undefined, r.frozenAreas.length ? r.frozenAreas.join(', ') : 'none'),
      b.el('dt', undefined, 'Tasks'),
      b.el(
        'dd',
        undefined,
        `${r.counts.queued} queued · ${r.counts.leased} leased · ${r.counts.pr_open} PR open · ${r.counts.stuck} stuck · ${r.counts.done} done`,
      ),
    ),
  );
}

function section(b: Builder, key: string, title: string, ...children: HTMLElement[]): HTMLElement {
  const id = `owp-h-${key}`;
  return b.el('section', { class: `owp-section owp-section-${key}`, 'aria-labelledby': id }, b.el('h2', { id }, title), ...children);
}

export function renderDashboard(root: HTMLElement, model: DashboardModel, opts: RenderOptions): void {
  const doc = opts.doc ?? root.ownerDocument;
  const b = builder(doc);

  // Remember focus so a live update does not throw keyboard users out of their place.
  const active = doc.activeElement;
  const focusTask = active && root.contains(active) ? active.getAttribute('data-task-id') : null;
  const focusWorker = active && root.contains(active) ? active.getAttribute('data-worker-id') : null;

  const t = model.totals;
  const summary = b.el(
    'p',
    { class: 'owp-summary', 'data-batch': model.batch },
    `${t.queued} queued · ${t.leased} leased · ${t.pr_open} PR open · ${t.stuck} stuck · ${t.done} done · `,
    `capacity ${model.capacity.inUse} / ${model.capacity.total} points · batch ${model.batch}`,
  );

  const board = section(
    b,
    'board',
    'Board',
    ...(model.repos.length ? model.repos.map((r) => repoBoard(b, r, opts.now)) : [b.el('p', { class: 'owp-empty' }, 'No tasks yet.')]),
  );
  const workers = section(
    b,
    'workers',
    'Workers',
    model.workers.length
      ? b.el('ul', { class: 'owp-worker-list' }, ...model.workers.map((w) => workerCard(b, w, { now: opts.now, canSetTrust: Boolean(opts.onTrust), trustUi: opts.trustUi, repos: model.policyRepos })))
      : b.el('p', { class: 'owp-empty' }, 'No workers yet.'),
  );
  const repos = section(
    b,
    'repos',
    'Review budgets',
    model.repos.length
      ? b.el('ul', { class: 'owp-repo-list' }, ...model.repos.map((r) => repoPolicy(b, r)))
      : b.el('p', { class: 'owp-empty' }, 'No repositories yet.'),
  );
  const charts = section(b, 'charts', 'Last hour', b.el('div', { class: 'owp-charts' }, ...model.charts.map((s) => renderChart(b, s))));
  const recent = section(
    b,
    'recent',
    'Recent events',
    model.recent.length
      ? b.el(
          'ol',
          { class: 'owp-events' },
          ...model.recent.map((e) =>
            b.el(
              'li',
              { class: `owp-event owp-event-${e.kind}`, 'data-kind': e.kind, 'data-event-task-id': e.taskId },
              b.el('time', { class: 'owp-event-time', datetime: new Date(e.at).toISOString() }, formatClock(e.at)),
              ' ',
              b.el('span', { class: 'owp-event-text' }, describeEvent(e.event)),
            ),
          ),
        )
      : b.el('p', { class: 'owp-empty' }, 'No events yet.'),
  );

  // prefer-create-el warning kept on purpose: shared with the web page (no Obsidian createDiv there).
  const fresh = doc.createElement('div');
  const detail = opts.detail ? renderTaskDetail(b, opts.detail, opts.now, opts.detailUi) : null;
  const review = reviewQueueSection(b, model, opts.now);
  const extra = opts.extra?.(b, model) ?? [];
  fresh.append(summary);
  if (opts.onFilter) fresh.append(filterBar(b, model));
  const grid = b.el('div', { class: 'owp-grid' }, detail, review, board, ...extra, workers, repos, charts, recent);
  fresh.append(grid);
  morphChildren(root, fresh);
  root.classList.add('owp-dashboard');
  syncControls(root);
  delegate(root, { open: opts.onOpenTask, detail: opts.onDetail, filter: opts.onFilter, figures: opts.onFigures, trust: opts.onTrust });

  const esc = (s: string): string => s.replace(/["\\]/g, '\\$&');
  const again = focusTask
    ? root.querySelector<HTMLElement>(`.owp-task[data-task-id="${esc(focusTask)}"]`)
    : focusWorker
      ? root.querySelector<HTMLElement>(`[data-worker-id="${esc(focusWorker)}"]`)
      : null;
  if (again && doc.activeElement !== again) again.focus();
}

/** Tick every lease countdown under `root` to `now` without rebuilding anything else. */
export function updateCountdowns(root: HTMLElement, now: number): void {
  for (const el of Array.from(root.querySelectorAll<HTMLElement>('[data-expires-at]'))) {
    const at = Number(el.getAttribute('data-expires-at'));
    if (!Number.isFinite(at)) continue;
    const left = at - now;
    const text = formatCountdown(left);
    if (el.textContent !== text) el.textContent = text;
    el.setAttribute('title', describeCountdown(left));
    el.classList.toggle('owp-countdown-urgent', left < URGENT_MS);
  }
}
