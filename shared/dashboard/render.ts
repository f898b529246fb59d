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
import type { DashboardModel, RepoView, TaskCard, WorkerView } from './model.js';
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
}

const STATE_TEXT: Record<string, string> = {
  queued: 'queued',
  leased: 'leased',
  pr_open: 'PR open',
  done: 'done',
  stuck: 'stuck',
  cancelled: 'cancelled',
};

const URGENT_MS = 60_000;

function safeUrl(u: string | undefined): string | undefined {
  return u && /^https?:\/\/[^\s]+$/i.test(u) ? u : undefined;
}

function countdown(b: Builder, expiresAt: number, now: number): HTMLElement {
  const left = expiresAt - now;
  return b.el(
    'span',
    {
      class: left < URGENT_MS ? 'owp-countdown owp-countdown-urgent' : 'owp-countdown',
      'data-expires-at': expiresAt,
      title: describeCountdown(left),
    },
    formatCountdown(left),
  );
}

/** A horizontal bar as SVG attributes (no inline style, CSP-safe), wrapped as a progressbar. */
function bar(b: Builder, value: number, max: number, label: string, cls: string): HTMLElement {
  const pct = max > 0 ? Math.max(0, Math.min(100, (value / max) * 100)) : 0;
  const over = max > 0 && value > max;
  return b.el(
    'div',
    {
      class: `owp-bar ${cls}${over ? ' owp-bar-over' : ''}${pct >= 80 ? ' owp-bar-high' : ''}`,
      role: 'progressbar',
      'aria-label': label,
      'aria-valuemin': 0,
      'aria-valuemax': max,
      'aria-valuenow': value,
      'aria-valuetext': `${value} of ${max}`,
      'data-value': value,
      'data-max': max,
    },
    b.svg(
      'svg',
      { viewBox: '0 0 100 8', preserveAspectRatio: 'none', 'aria-hidden': 'true', focusable: 'false' },
      b.svg('rect', { class: 'owp-bar-track', x: 0, y: 0, width: 100, height: 8, rx: 2 }),
      b.svg('rect', { class: 'owp-bar-fill', x: 0, y: 0, width: Math.round(pct * 10) / 10, height: 8, rx: 2 }),
    ),
    b.el('span', { class: 'owp-bar-text' }, `${value} / ${max}`),
  );
}

function taskLabel(c: TaskCard, now: number): string {
  const parts = [`${c.title}`, `${STATE_TEXT[c.state] ?? c.state}`, `${c.points} point${c.points === 1 ? '' : 's'}`, `tier ${c.tier}`];
  if (c.skills.length) parts.push(`skills ${c.skills.join(', ')}`);
  if (c.area) parts.push(`area ${c.area}`);
  if (c.holder) parts.push(`held by ${c.holder}`);
  if (c.expiresAt !== undefined && c.state === 'leased') parts.push(describeCountdown(c.expiresAt - now));
  if (c.held) parts.push('on hold');
  return parts.join(', ');
}

function taskCard(b: Builder, c: TaskCard, opts: RenderOptions): HTMLElement {
  const li = b.el(
    'li',
    {
      class: `owp-task owp-task-${c.state}${c.held ? ' owp-task-held' : ''}`,
      tabindex: 0,
      'data-task-id': c.id,
      'data-state': c.state,
      'data-repo': c.repo,
      'aria-label': taskLabel(c, opts.now),
    },
    b.el('span', { class: 'owp-task-title' }, c.title),
    b.el(
      'span',
      { class: 'owp-task-meta' },
      b.el('span', { class: 'owp-task-id' }, c.id),
      b.el('span', { class: 'owp-chip owp-chip-points' }, `${c.points} pt`),
      b.el('span', { class: `owp-chip owp-chip-tier owp-tier-${c.tier}` }, `T${c.tier}`),
      c.area ? b.el('span', { class: 'owp-chip owp-chip-area' }, c.area) : null,
      ...c.skills.map((s) => b.el('span', { class: 'owp-chip owp-chip-skill' }, s)),
      c.held ? b.el('span', { class: 'owp-chip owp-chip-held' }, 'on hold') : null,
      c.state === 'cancelled' ? b.el('span', { class: 'owp-chip owp-chip-cancelled' }, 'cancelled') : null,
    ),
  );
  if (c.holder) {
    const holder = b.el('span', { class: 'owp-task-holder' }, c.holder);
    if (c.state === 'leased' && c.expiresAt !== undefined) holder.append(' · ', countdown(b, c.expiresAt, opts.now));
    li.appendChild(holder);
  }
  const pr = safeUrl(c.prUrl);
  if (c.prUrl) {
    li.appendChild(
      pr
        ? b.el('a', { class: 'owp-task-pr', href: pr, rel: 'noopener noreferrer', target: '_blank' }, 'pull request')
        : b.el('span', { class: 'owp-task-pr' }, c.prUrl),
    );
  }
  if (c.note) li.appendChild(b.el('span', { class: 'owp-task-note' }, c.note));
  if (c.attempt > 1) li.appendChild(b.el('span', { class: 'owp-task-attempt' }, `attempt ${c.attempt}`));
  return li;
}

function repoBoard(b: Builder, r: RepoView, opts: RenderOptions): HTMLElement {
  const headId = `owp-repo-${r.repo.replace(/[^A-Za-z0-9_-]/g, '-')}`;
  return b.el(
    'section',
    { class: 'owp-repo-board', 'data-repo': r.repo, 'aria-labelledby': headId },
    b.el('h3', { id: headId, class: 'owp-repo-name' }, r.repo),
    b.el(
      'div',
      { class: 'owp-columns' },
      ...r.columns.map((col) =>
        b.el(
          'div',
          { class: `owp-column owp-column-${col.key}`, 'data-column': col.key },
          b.el('h4', { class: 'owp-column-title' }, `${col.label} `, b.el('span', { class: 'owp-count' }, `(${col.total})`)),
          col.tasks.length
            ? b.el('ul', { class: 'owp-task-list', 'aria-label': `${r.repo}: ${col.label}` }, ...col.tasks.map((t) => taskCard(b, t, opts)))
            : b.el('p', { class: 'owp-empty' }, 'None'),
          col.total > col.tasks.length ? b.el('p', { class: 'owp-more' }, `and ${col.total - col.tasks.length} more`) : null,
        ),
      ),
    ),
  );
}

function workerCard(b: Builder, w: WorkerView, opts: RenderOptions): HTMLElement {
  const status = w.online === undefined ? 'unknown' : w.online ? 'online' : 'offline';
  // Without presence (public page, plugin) the profile still says whether it takes work.
  const shown = status === 'unknown' && w.available !== undefined ? (w.available ? 'available' : 'unavailable') : status;
  return b.el(
    'li',
    {
      class: `owp-worker owp-worker-${status}`,
      tabindex: 0,
      'data-worker-id': w.id,
      'data-online': status,
      'aria-label': `${w.name}, ${shown}, ${w.pointsInUse} of ${w.capacity} capacity points in use, ${w.leases.length} active lease${w.leases.length === 1 ? '' : 's'}`,
    },
    b.el(
      'div',
      { class: 'owp-worker-head' },
      b.el('span', { class: `owp-dot owp-dot-${status}`, 'aria-hidden': 'true' }),
      b.el('span', { class: 'owp-worker-name' }, w.name),
      w.name !== w.id ? b.el('span', { class: 'owp-worker-id' }, w.id) : null,
      b.el('span', { class: 'owp-worker-status' }, shown),
      w.available === false && shown !== 'unavailable' ? b.el('span', { class: 'owp-chip owp-chip-held' }, 'unavailable') : null,
    ),
    w.skills.length
      ? b.el('div', { class: 'owp-worker-skills' }, ...w.skills.map((s) => b.el('span', { class: 'owp-chip owp-chip-skill' }, s)))
      : null,
    bar(b, w.pointsInUse, w.capacity, `Capacity in use for ${w.name}`, 'owp-capacity'),
    w.maxConcurrent !== undefined
      ? b.el('p', { class: 'owp-worker-limits', 'data-capacity': w.capacity, 'data-max-concurrent': w.maxConcurrent, 'data-trust': w.trust }, `capacity ${w.capacity} · at most ${w.maxConcurrent} at once · trusted up to tier ${w.trust}`)
      : b.el('p', { class: 'owp-worker-limits owp-empty' }, 'No profile published yet (owp worker register)'),
    b.el('p', { class: 'owp-worker-stats' }, `credit ${w.credit} · done ${w.completed} · expired ${w.expired}`),
    w.leases.length
      ? b.el(
          'ul',
          { class: 'owp-lease-list', 'aria-label': `Active leases of ${w.name}` },
          ...w.leases.map((l) =>
            b.el(
              'li',
              { class: 'owp-lease', 'data-lease-task-id': l.taskId, 'data-lease-state': l.state },
              b.el('span', { class: 'owp-lease-title' }, l.title),
              ' ',
              l.state === 'leased' && l.expiresAt !== undefined
                ? countdown(b, l.expiresAt, opts.now)
                : b.el('span', { class: 'owp-lease-state' }, STATE_TEXT[l.state] ?? l.state),
            ),
          ),
        )
      : b.el('p', { class: 'owp-empty' }, 'No active leases'),
  );
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
    ...(model.repos.length ? model.repos.map((r) => repoBoard(b, r, opts)) : [b.el('p', { class: 'owp-empty' }, 'No tasks yet.')]),
  );
  const workers = section(
    b,
    'workers',
    'Workers',
    model.workers.length
      ? b.el('ul', { class: 'owp-worker-list' }, ...model.workers.map((w) => workerCard(b, w, opts)))
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

  const fresh = doc.createElement('div');
  fresh.append(summary, b.el('div', { class: 'owp-grid' }, board, workers, repos, charts, recent));
  morphChildren(root, fresh);
  root.classList.add('owp-dashboard');
  delegate(root, opts.onOpenTask);

  const esc = (s: string): string => s.replace(/["\\]/g, '\\$&');
  const again = focusTask
    ? root.querySelector<HTMLElement>(`.owp-task[data-task-id="${esc(focusTask)}"]`)
    : focusWorker
      ? root.querySelector<HTMLElement>(`[data-worker-id="${esc(focusWorker)}"]`)
      : null;
  if (again && doc.activeElement !== again) again.focus();
}

const openers = new WeakMap<HTMLElement, { open?: (taskId: string) => void }>();

/** One click + keydown listener per root; each render only swaps the callback. */
function delegate(root: HTMLElement, open: ((taskId: string) => void) | undefined): void {
  const known = openers.get(root);
  if (known) {
    known.open = open;
    return;
  }
  const slot: { open?: (taskId: string) => void } = { open };
  openers.set(root, slot);
  const cardOf = (target: EventTarget | null): HTMLElement | null => {
    const el = target as Element | null;
    const card = el?.closest?.('.owp-task') as HTMLElement | null;
    return card && root.contains(card) ? card : null;
  };
  root.addEventListener('click', (ev) => {
    const card = cardOf(ev.target);
    if (!card || !slot.open || (ev.target as Element).closest('a')) return;
    slot.open(card.getAttribute('data-task-id') ?? '');
  });
  root.addEventListener('keydown', (ev) => {
    const key = (ev as KeyboardEvent).key;
    if (key !== 'Enter' && key !== ' ') return;
    const card = cardOf(ev.target);
    if (!card || card !== ev.target || !slot.open) return;
    ev.preventDefault();
    slot.open(card.getAttribute('data-task-id') ?? '');
  });
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
