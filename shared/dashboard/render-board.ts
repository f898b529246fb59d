/**
 * The board's parts: task cards (with their PR and issue links), repo columns, countdowns
 * and bars. Used by render.ts; same invariants (no HTML strings, no inline styles, only
 * http(s) links, only cards carry data-task-id and data-state).
 */
import type { Builder } from './dom.js';
import { safeHref } from './brief.js';
import { describeCountdown, formatCountdown } from './format.js';
import type { RepoView, TaskCard } from './model.js';
import { prNumber } from './detail.js';

export const STATE_TEXT: Record<string, string> = {
  queued: 'queued',
  leased: 'leased',
  pr_open: 'PR open',
  done: 'done',
  stuck: 'stuck',
  cancelled: 'cancelled',
};

export const URGENT_MS = 60_000;

const safeUrl = safeHref;

/** What a card's PR link says about the PR, from the task's state. */
const PR_STATE: Record<string, string> = { pr_open: 'open', leased: 'changes requested', done: 'merged' };

export function countdown(b: Builder, expiresAt: number, now: number): HTMLElement {
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
export function bar(b: Builder, value: number, max: number, label: string, cls: string): HTMLElement {
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

export function taskCard(b: Builder, c: TaskCard, now: number): HTMLElement {
  const li = b.el(
    'li',
    {
      class: `owp-task owp-task-${c.state}${c.held ? ' owp-task-held' : ''}`,
      tabindex: 0,
      'data-task-id': c.id,
      'data-state': c.state,
      'data-repo': c.repo,
      'aria-label': taskLabel(c, now),
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
    if (c.state === 'leased' && c.expiresAt !== undefined) holder.append(' · ', countdown(b, c.expiresAt, now));
    li.appendChild(holder);
  }
  const links: Node[] = [];
  if (c.prUrl) {
    const pr = safeUrl(c.prUrl);
    const n = prNumber(c.prUrl);
    const text = `${n !== undefined ? `PR #${n}` : 'pull request'} (${PR_STATE[c.state] ?? 'closed'})`;
    links.push(
      pr
        ? b.el('a', { class: 'owp-task-pr', href: pr, rel: 'noopener noreferrer', target: '_blank', 'data-pr-state': PR_STATE[c.state] ?? 'closed' }, text)
        : b.el('span', { class: 'owp-task-pr' }, c.prUrl),
    );
  }
  const issue = safeUrl(c.issueUrl);
  if (issue) {
    const n = /\/issues\/(\d+)/.exec(issue)?.[1];
    links.push(b.el('a', { class: 'owp-task-issue', href: issue, rel: 'noopener noreferrer', target: '_blank' }, n ? `issue #${n}` : 'issue'));
  }
  if (links.length) li.appendChild(b.el('span', { class: 'owp-task-links' }, ...links.flatMap((l, i) => (i ? [' · ', l] : [l]))));
  if (c.note) li.appendChild(b.el('span', { class: 'owp-task-note' }, c.note));
  if (c.attempt > 1) li.appendChild(b.el('span', { class: 'owp-task-attempt' }, `attempt ${c.attempt}`));
  return li;
}

export function repoBoard(b: Builder, r: RepoView, now: number): HTMLElement {
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
            ? b.el('ul', { class: 'owp-task-list', 'aria-label': `${r.repo}: ${col.label}` }, ...col.tasks.map((t) => taskCard(b, t, now)))
            : b.el('p', { class: 'owp-empty' }, 'None'),
          col.total > col.tasks.length ? b.el('p', { class: 'owp-more' }, `and ${col.total - col.tasks.length} more`) : null,
        ),
      ),
    ),
  );
}

