/**
 * The success figures (issue 12 item 2) and credits (item 7) as dashboard sections. The
 * numbers come from the relay (`GET /api/stats?repo=&since=`, `GET /api/credits?repo=&since=`);
 * the flood gauge (PRs awaiting review against each repo's review budget) comes from the
 * live board, so it is right on a public page too.
 *
 * Invariants:
 * - Tolerant readers: a field that is missing or not a finite number shows as "—", never
 *   as 0 or NaN; unknown fields are ignored. Rates are shown as whole percents.
 * - DOM only through dom.ts; the window and repo selectors carry `data-figures` (window,
 *   repo) and stable ids, and are delegated in interact.ts.
 * - Every figure has `data-figure="<name>"` (tests, scripts).
 */
import type { Builder } from './dom.js';
import { formatAge } from './format.js';
import type { DashboardModel } from './model.js';
import { bar } from './render-board.js';

export const WINDOWS = ['24h', '7d', '30d'] as const;
export type StatsWindow = (typeof WINDOWS)[number];

export interface Figures {
  granted?: number;
  done?: number;
  completionRate?: number | null;
  expired?: number;
  expiryRate?: number | null;
  requeued?: number;
  requeueRate?: number | null;
  medianMs?: { firstClaim?: number | null; toPr?: number | null; toMerge?: number | null };
  workers?: { workerId: string; done?: number; merged?: number; points?: number }[];
}

export interface CreditRow {
  workerId: string;
  name?: string;
  points?: number;
  mergedPrs?: number;
  tasks?: number;
}

export interface FiguresView {
  window: StatsWindow;
  repo?: string;
  /** The figures for the pool, or the selected repo. undefined while loading. */
  figures?: Figures;
  credits?: CreditRow[];
  /** Why figures are missing (no token, endpoint not available, error). */
  unavailable?: string;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const pct = (v: unknown): string => {
  const n = num(v);
  return n === undefined ? '—' : `${Math.round(n * 100)}%`;
};
const dur = (v: unknown): string => {
  const n = num(v);
  return n === undefined ? '—' : formatAge(n);
};
const count = (v: unknown): string => {
  const n = num(v);
  return n === undefined ? '—' : String(n);
};

/** Read a figures object from the relay's answer (`{ pool, repos }` or a bare figures object). */
export function figuresFrom(body: unknown, repo?: string): Figures | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as Record<string, unknown>;
  const pick = repo && b.repos && typeof b.repos === 'object' ? (b.repos as Record<string, unknown>)[repo] : (b.pool ?? b.repo ?? b.figures ?? b);
  return pick && typeof pick === 'object' ? (pick) : undefined;
}

export function creditsFrom(body: unknown): CreditRow[] | undefined {
  const list = body && typeof body === 'object' ? (body as { credits?: unknown }).credits : undefined;
  if (!Array.isArray(list)) return undefined;
  return list.filter((r): r is CreditRow => !!r && typeof r === 'object' && typeof (r as CreditRow).workerId === 'string');
}

function tile(b: Builder, name: string, label: string, value: string, note?: string, good?: boolean): HTMLElement {
  return b.el(
    'div',
    { class: `owp-figure${good === undefined ? '' : good ? ' owp-figure-good' : ' owp-figure-bad'}`, 'data-figure': name },
    b.el('span', { class: 'owp-figure-label' }, label),
    b.el('span', { class: 'owp-figure-value' }, value),
    note ? b.el('span', { class: 'owp-figure-note' }, note) : null,
  );
}

function selectors(b: Builder, m: DashboardModel, v: FiguresView): HTMLElement {
  return b.el(
    'div',
    { class: 'owp-filters owp-figures-choice' },
    b.el(
      'span',
      { class: 'owp-filter' },
      b.el('label', { for: 'owp-figures-window' }, 'Over the last'),
      b.el('select', { id: 'owp-figures-window', class: 'owp-input', 'data-figures': 'window' }, ...WINDOWS.map((w) => b.el('option', { value: w, selected: w === v.window }, w))),
    ),
    b.el(
      'span',
      { class: 'owp-filter' },
      b.el('label', { for: 'owp-figures-repo' }, 'For'),
      b.el(
        'select',
        { id: 'owp-figures-repo', class: 'owp-input', 'data-figures': 'repo' },
        b.el('option', { value: '', selected: !v.repo }, 'the whole pool'),
        ...m.repos.map((r) => b.el('option', { value: r.repo, selected: r.repo === v.repo }, r.repo)),
      ),
    ),
  );
}

/** Flood gauge: PRs awaiting review against each repo's review budget (from the live board). */
function floodGauge(b: Builder, m: DashboardModel, repo?: string): HTMLElement {
  const repos = m.repos.filter((r) => !repo || r.repo === repo);
  return b.el(
    'div',
    { class: 'owp-flood', 'data-figure': 'flood' },
    b.el('h3', undefined, 'PRs awaiting review against the review budget'),
    repos.length
      ? b.el(
          'ul',
          { class: 'owp-repo-list' },
          ...repos.map((r) => b.el('li', { 'data-flood-repo': r.repo }, b.el('span', { class: 'owp-repo-name' }, r.repo), bar(b, r.counts.pr_open, r.budget.size, `PRs awaiting review in ${r.repo}`, 'owp-flood-bar'))),
        )
      : b.el('p', { class: 'owp-empty' }, 'No repositories yet.'),
  );
}

export function figuresSection(b: Builder, m: DashboardModel, v: FiguresView): HTMLElement {
  const f = v.figures;
  const rate = num(f?.completionRate);
  const tiles = f
    ? b.el(
        'div',
        { class: 'owp-figure-grid' },
        tile(b, 'completion', 'Completion rate', pct(f.completionRate), `${count(f.done)} done of ${count(f.granted)} granted · target above 80%`, rate === undefined ? undefined : rate > 0.8),
        tile(b, 'expiry', 'Lease expiry rate', pct(f.expiryRate), `${count(f.expired)} expired`),
        tile(b, 'requeue', 'Requeue rate', pct(f.requeueRate), `${count(f.requeued)} requeued`),
        tile(b, 'first-claim', 'Median time to first claim', dur(f.medianMs?.firstClaim)),
        tile(b, 'to-pr', 'Median time to PR', dur(f.medianMs?.toPr)),
        tile(b, 'to-merge', 'Median time to merge', dur(f.medianMs?.toMerge)),
      )
    : b.el('p', { class: 'owp-empty', 'data-figures-unavailable': '' }, v.unavailable ?? 'Loading the figures…');
  const workers = f?.workers?.length
    ? b.el(
        'table',
        { class: 'owp-table', 'data-figure': 'throughput' },
        b.el('caption', undefined, 'Throughput per worker'),
        b.el('thead', undefined, b.el('tr', undefined, b.el('th', { scope: 'col' }, 'Worker'), b.el('th', { scope: 'col' }, 'Tasks done'), b.el('th', { scope: 'col' }, 'PRs merged'), b.el('th', { scope: 'col' }, 'Points'))),
        b.el('tbody', undefined, ...f.workers.map((w) => b.el('tr', { 'data-throughput-worker': w.workerId }, b.el('th', { scope: 'row' }, w.workerId), b.el('td', undefined, count(w.done)), b.el('td', undefined, count(w.merged)), b.el('td', undefined, count(w.points))))),
      )
    : null;
  return b.el(
    'section',
    { class: 'owp-section owp-section-figures', 'aria-labelledby': 'owp-h-figures', id: 'owp-figures' },
    b.el('h2', { id: 'owp-h-figures' }, 'Success figures'),
    selectors(b, m, v),
    tiles,
    floodGauge(b, m, v.repo),
    workers,
    creditsTable(b, v),
  );
}

function creditsTable(b: Builder, v: FiguresView): HTMLElement | null {
  if (!v.credits) return null;
  return b.el(
    'div',
    { class: 'owp-credits', 'data-figure': 'credits' },
    b.el('h3', undefined, 'Credits'),
    v.credits.length
      ? b.el(
          'table',
          { class: 'owp-table' },
          b.el('thead', undefined, b.el('tr', undefined, b.el('th', { scope: 'col' }, 'Worker'), b.el('th', { scope: 'col' }, 'Points'), b.el('th', { scope: 'col' }, 'Merged PRs'), b.el('th', { scope: 'col' }, 'Tasks'))),
          b.el('tbody', undefined, ...v.credits.map((c) => b.el('tr', { 'data-credit-worker': c.workerId }, b.el('th', { scope: 'row' }, c.name && c.name !== c.workerId ? `${c.name} (${c.workerId})` : c.workerId), b.el('td', undefined, count(c.points)), b.el('td', undefined, count(c.mergedPrs)), b.el('td', undefined, count(c.tasks))))),
        )
      : b.el('p', { class: 'owp-empty' }, 'No credit earned in this window.'),
  );
}
