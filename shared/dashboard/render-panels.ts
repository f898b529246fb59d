/**
 * Panels above the board: the filter bar (repo, state, skill, worker, search) and the
 * "Awaiting review" queue, oldest first with age and links.
 *
 * Invariants:
 * - DOM only through dom.ts; links only for http(s) URLs.
 * - Filter controls have stable ids (morph.ts keys them), so a live update keeps the
 *   control, its focus and what the user typed. Their values are the model's filter.
 * - Review rows carry `data-review-task-id`, and a button `data-open-task` that opens the
 *   task's detail (delegated in render.ts); they never carry `data-task-id`.
 */
import type { Builder } from './dom.js';
import { safeHref } from './brief.js';
import { formatAge, formatStamp } from './format.js';
import type { DashboardModel } from './model.js';
import type { TaskFilter } from './filters.js';

const STATE_LABEL: Record<string, string> = { queued: 'Queued', leased: 'Leased', pr_open: 'PR open', done: 'Done', stuck: 'Stuck', cancelled: 'Cancelled' };

function select(b: Builder, key: keyof TaskFilter, label: string, values: readonly string[], current: string | undefined, text: (v: string) => string = (v) => v): HTMLElement {
  const id = `owp-filter-${key}`;
  const opts = current && !values.includes(current) ? [...values, current] : values;
  return b.el(
    'span',
    { class: 'owp-filter' },
    b.el('label', { for: id }, label),
    b.el(
      'select',
      { id, name: key, class: 'owp-input', 'data-filter': key },
      b.el('option', { value: '', selected: !current }, 'all'),
      ...opts.map((v) => b.el('option', { value: v, selected: v === current }, text(v))),
    ),
  );
}

export function filterBar(b: Builder, m: DashboardModel): HTMLElement {
  const f = m.filter;
  const filtering = m.matching.shown !== m.matching.all || Boolean(f.repo || f.state || f.skill || f.worker || f.text);
  return b.el(
    'form',
    { class: 'owp-filters', role: 'search', 'aria-label': 'Filter tasks', id: 'owp-filters' },
    select(b, 'repo', 'Repository', m.choices.repos, f.repo),
    select(b, 'state', 'State', m.choices.states, f.state, (v) => STATE_LABEL[v] ?? v),
    select(b, 'skill', 'Skill', m.choices.skills, f.skill),
    select(b, 'worker', 'Worker', m.choices.workers, f.worker),
    b.el(
      'span',
      { class: 'owp-filter owp-filter-search' },
      b.el('label', { for: 'owp-filter-text' }, 'Search'),
      b.el('input', { id: 'owp-filter-text', name: 'text', type: 'search', class: 'owp-input', 'data-filter': 'text', value: f.text ?? '', placeholder: 'title, id, area, brief…', autocomplete: 'off' }),
    ),
    b.el('button', { type: 'button', class: 'owp-button', 'data-filter-clear': '', disabled: !filtering }, 'Clear'),
    b.el('span', { class: 'owp-filter-count', 'data-matching': m.matching.shown, role: 'status' }, filtering ? `${m.matching.shown} of ${m.matching.all} tasks match` : `${m.matching.all} tasks`),
  );
}

export function reviewQueueSection(b: Builder, m: DashboardModel, now: number): HTMLElement {
  const items = m.awaitingReview;
  return b.el(
    'section',
    { class: 'owp-section owp-section-review', 'aria-labelledby': 'owp-h-review' },
    b.el('h2', { id: 'owp-h-review' }, `Awaiting review (${items.length})`),
    items.length
      ? b.el(
          'ol',
          { class: 'owp-review-list' },
          ...items.map((it) => {
            const pr = safeHref(it.prUrl);
            const issue = safeHref(it.issueUrl);
            return b.el(
              'li',
              { class: 'owp-review', 'data-review-task-id': it.id, 'data-since': it.since },
              b.el('button', { type: 'button', class: 'owp-link-button', 'data-open-task': it.id }, it.title),
              b.el('span', { class: 'owp-review-meta' }, `${it.repo} · ${it.id}${it.holder ? ` · by ${it.holder}` : ''}`),
              b.el('span', { class: 'owp-review-age', title: `in review since ${formatStamp(it.since)}` }, `waiting ${formatAge(now - it.since)}`),
              pr ? b.el('a', { href: pr, rel: 'noopener noreferrer', target: '_blank', class: 'owp-review-pr' }, it.prNumber !== undefined ? `PR #${it.prNumber}` : 'pull request') : null,
              issue ? b.el('a', { href: issue, rel: 'noopener noreferrer', target: '_blank', class: 'owp-review-issue' }, 'issue') : null,
            );
          }),
        )
      : b.el('p', { class: 'owp-empty' }, m.matching.shown !== m.matching.all ? 'No pull request matching the filter awaits review.' : 'No pull request awaits review.'),
  );
}
