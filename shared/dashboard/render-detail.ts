/**
 * Renders a TaskDetail (detail.ts) as a section of the dashboard: facts, the brief
 * (brief.ts), why nobody takes it, the lease timeline, and the maintainer actions.
 *
 * Invariants:
 * - DOM only through dom.ts (text via Text nodes); links only for http(s) URLs.
 * - The section carries `data-task-detail="<task id>"`; each action button carries
 *   `data-action` (merged, closed, changes-requested, requeue, cancel, hold, unhold,
 *   priority) and `data-task-id`-free attributes only, so card selectors stay unique.
 * - A destructive action (detail.ts DESTRUCTIVE) is never sent from one click: its button
 *   asks, and the confirmation row (`data-confirm="<action>"`) sends it.
 * - No listeners here: render.ts delegates clicks on the dashboard root.
 */
import type { Builder } from './dom.js';
import { renderBrief, safeHref } from './brief.js';
import { ACTION_TEXT, DESTRUCTIVE, type ActionKey, type TaskDetail } from './detail.js';
import { describeCountdown, formatCountdown, formatStamp } from './format.js';

export interface DetailUi {
  /** The destructive action waiting for its confirmation, if any. */
  confirming?: ActionKey;
  /** The answer to the last action (shown in a live region). */
  message?: { kind: 'ok' | 'error'; text: string };
  /** Still loading the audit history / explanation. */
  loading?: boolean;
  /** Why the history or explanation cannot be shown (e.g. no token on a public page). */
  unavailable?: string;
}

const STATE_TEXT: Record<string, string> = { queued: 'queued', leased: 'leased', pr_open: 'PR open, awaiting review', done: 'done', stuck: 'stuck', cancelled: 'cancelled' };

const CONFIRM_TEXT: Partial<Record<ActionKey, string>> = {
  closed: 'Record the pull request as closed without merge? The task goes back to the queue.',
  cancel: 'Cancel this task? It ends now, with any lease on it.',
  requeue: 'Requeue this task? Its current holder loses the lease.',
};

function linkOr(b: Builder, url: string | undefined, text: string, cls: string): Node {
  const href = safeHref(url);
  return href ? b.el('a', { class: cls, href, rel: 'noopener noreferrer', target: '_blank' }, text) : b.doc.createTextNode(url ? `${text} (${url})` : text);
}

function facts(b: Builder, d: TaskDetail, now: number): HTMLElement {
  const rows: [string, Node | string][] = [
    ['State', STATE_TEXT[d.state] ?? d.state],
    ['Repository', d.repo],
    ['Issue', d.issueUrl ? linkOr(b, d.issueUrl, d.issueUrl.replace(/^https?:\/\/github\.com\//, ''), 'owp-detail-issue') : 'none'],
    [
      'Pull request',
      d.pr
        ? b.el('span', { class: 'owp-detail-pr', 'data-pr-state': d.pr.state }, linkOr(b, d.pr.url, d.pr.number !== undefined ? `#${d.pr.number}` : 'pull request', 'owp-detail-pr-link'), ` (${d.pr.state})`)
        : 'none',
    ],
    ['Attempts', `${d.attempt} of ${d.maxAttempts}`],
    ['Holder', d.holder ? (d.expiresAt !== undefined && d.state === 'leased' ? `${d.holder}, ${describeCountdown(d.expiresAt - now)}` : d.holder) : 'nobody'],
    ['Points · tier', `${d.points} · T${d.tier}`],
    ['Skills', d.skills.length ? d.skills.join(', ') : 'none'],
    ['Area', d.area || 'whole repository'],
    ['Priority', `${d.priority}${d.held ? ' · on hold' : ''}`],
  ];
  if (d.note) rows.push(['Note', d.note]);
  return b.el('dl', { class: 'owp-detail-facts' }, ...rows.flatMap(([k, v]) => [b.el('dt', undefined, k), b.el('dd', undefined, v)]));
}

function why(b: Builder, d: TaskDetail, ui: DetailUi): HTMLElement | null {
  if (d.state !== 'queued') return null;
  const ex = d.explanation;
  return b.el(
    'div',
    { class: 'owp-detail-why', 'data-why': '' },
    b.el('h3', undefined, 'Why nobody takes it'),
    ex
      ? b.el('p', { class: 'owp-why-summary' }, ex.summary)
      : b.el('p', { class: 'owp-empty' }, ui.unavailable ?? (ui.loading ? 'Asking the scheduler…' : 'The scheduler gave no explanation.')),
    ex && ex.workers.length
      ? b.el(
          'ul',
          { class: 'owp-why-workers' },
          ...ex.workers.map((w) =>
            b.el(
              'li',
              { 'data-why-worker': w.workerId, 'data-fits': w.refusal ? 'false' : 'true' },
              b.el('span', { class: 'owp-worker-name' }, w.workerId),
              w.online === undefined ? null : b.el('span', { class: 'owp-why-online' }, w.online ? ' (online)' : ' (offline)'),
              ': ',
              w.refusal ? w.refusal.message : 'could take it now',
            ),
          ),
        )
      : null,
  );
}

function leases(b: Builder, d: TaskDetail): HTMLElement {
  return b.el(
    'div',
    { class: 'owp-detail-leases' },
    b.el('h3', undefined, 'Lease timeline'),
    d.leases.length
      ? b.el(
          'ol',
          { class: 'owp-lease-timeline' },
          ...d.leases.map((l) =>
            b.el(
              'li',
              { 'data-fencing-token': l.fencingToken },
              `Lease ${l.fencingToken}: ${l.workerId}, ${formatStamp(l.from)} → `,
              l.to !== undefined ? `${formatStamp(l.to)}, ${l.end ?? 'ended'}` : l.pr ? 'held, PR awaiting review' : 'still held',
            ),
          ),
        )
      : b.el('p', { class: 'owp-empty' }, 'Never leased (in the audit history loaded).'),
    d.timeline.length
      ? b.el(
          'ol',
          { class: 'owp-events owp-detail-events' },
          ...d.timeline.map((e) =>
            b.el('li', { class: 'owp-event', 'data-kind': e.kind }, b.el('time', { datetime: new Date(e.at).toISOString() }, formatStamp(e.at)), ' ', e.text),
          ),
        )
      : null,
  );
}

function actions(b: Builder, d: TaskDetail, ui: DetailUi): HTMLElement | null {
  if (!d.actions.length && !ui.message) return null;
  const button = (a: ActionKey) =>
    b.el(
      'button',
      { type: 'button', class: `owp-button owp-action${DESTRUCTIVE.has(a) ? ' owp-action-danger' : ''}`, 'data-action': a, 'aria-pressed': ui.confirming === a ? 'true' : undefined },
      DESTRUCTIVE.has(a) ? `${ACTION_TEXT[a]}…` : ACTION_TEXT[a],
    );
  const plain = d.actions.filter((a) => a !== 'priority');
  return b.el(
    'div',
    { class: 'owp-detail-actions', role: 'group', 'aria-label': 'Maintainer actions' },
    b.el('h3', undefined, 'Actions'),
    plain.length ? b.el('div', { class: 'owp-action-row' }, ...plain.map(button)) : null,
    d.actions.includes('priority')
      ? b.el(
          'div',
          { class: 'owp-action-row' },
          b.el('label', { for: 'owp-priority-input' }, 'Priority (-100 to 100) '),
          b.el('input', { id: 'owp-priority-input', type: 'number', min: -100, max: 100, step: 1, value: d.priority, class: 'owp-input' }),
          ' ',
          button('priority'),
        )
      : null,
    ui.confirming
      ? b.el(
          'div',
          { class: 'owp-confirm', role: 'alertdialog', 'aria-label': `Confirm ${ACTION_TEXT[ui.confirming]}` },
          b.el('p', undefined, CONFIRM_TEXT[ui.confirming] ?? `${ACTION_TEXT[ui.confirming]}?`),
          b.el('button', { type: 'button', class: 'owp-button owp-action-danger', 'data-confirm': ui.confirming }, `Yes, ${ACTION_TEXT[ui.confirming].toLowerCase()}`),
          ' ',
          b.el('button', { type: 'button', class: 'owp-button', 'data-confirm-cancel': '' }, 'Keep it'),
        )
      : null,
    b.el('p', { class: `owp-action-message${ui.message ? ` owp-action-${ui.message.kind}` : ''}`, role: 'status', 'data-action-result': ui.message?.kind }, ui.message?.text ?? ''),
  );
}

export function renderTaskDetail(b: Builder, d: TaskDetail, now: number, ui: DetailUi = {}): HTMLElement {
  const headId = 'owp-detail-title';
  return b.el(
    'section',
    { class: `owp-section owp-detail owp-task-${d.state}`, 'data-task-detail': d.id, 'aria-labelledby': headId, id: 'owp-detail' },
    b.el(
      'div',
      { class: 'owp-detail-head' },
      b.el('h2', { id: headId, tabindex: -1 }, d.title),
      b.el('span', { class: 'owp-task-id' }, d.id),
      d.state === 'leased' && d.expiresAt !== undefined
        ? b.el('span', { class: 'owp-countdown', 'data-expires-at': d.expiresAt, title: describeCountdown(d.expiresAt - now) }, formatCountdown(d.expiresAt - now))
        : null,
      b.el('button', { type: 'button', class: 'owp-button owp-detail-close', 'data-detail-close': '', 'aria-label': 'Close the task detail' }, 'Close'),
    ),
    facts(b, d, now),
    actions(b, d, ui),
    why(b, d, ui),
    b.el('div', { class: 'owp-detail-brief' }, b.el('h3', undefined, 'Brief'), renderBrief(b, d.body)),
    leases(b, d),
    ui.loading ? b.el('p', { class: 'owp-empty' }, 'Loading the history…') : ui.unavailable ? b.el('p', { class: 'owp-empty' }, ui.unavailable) : null,
  );
}
