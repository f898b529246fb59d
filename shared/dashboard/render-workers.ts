/**
 * A worker's card on the dashboard: presence, skills, capacity in use, limits, credit, its
 * active leases, and its trust: the base tier, the level in each repo where it can differ
 * (override or trust ladder) with why, the last audited change, and, for a maintainer, the
 * override control.
 *
 * Invariants:
 * - DOM only through dom.ts; no listeners here (render.ts delegates on the root).
 * - Every worker has `data-worker-id`; its trust block `data-trust-base`, each repo level
 *   `data-trust-repo`, `data-trust-tier` and `data-trust-source` (never `data-repo`, which
 *   morph.ts keys repos by).
 * - A trust change is never sent from one click: "Set trust…" / "Clear override…" ask
 *   (`data-trust-set`, `data-trust-clear`), the confirmation row's `data-trust-confirm`
 *   sends. Controls appear only when the caller says the token may act (the relay
 *   enforces roles either way).
 */
import type { Builder } from './dom.js';
import type { WorkerView } from './model.js';
import { bar, countdown, STATE_TEXT } from './render-board.js';
import { describeEvent, formatStamp } from './format.js';
import { describeLevel } from './trust.js';

const TIERS = [0, 1, 2, 3] as const;

/** The trust change waiting for its confirmation, and the answer to the last one. */
export interface TrustUi {
  confirming?: { workerId: string; repo?: string; tier: number | null };
  message?: { workerId: string; kind: 'ok' | 'error'; text: string };
}

export interface WorkerCardOptions {
  now: number;
  /** Show the override control (maintainer or admin token). */
  canSetTrust?: boolean;
  trustUi?: TrustUi;
  /** Repos with a policy (the override control's choices). */
  repos?: readonly string[];
}

/** What a confirmation (and the audit) says the change is. */
export function describeTrustChange(workerId: string, repo: string | undefined, tier: number | null): string {
  if (tier === null) return `Clear the override of ${workerId} in ${repo ?? 'every repo'}? Its trust ladder or base trust applies there again.`;
  return repo
    ? `Trust ${workerId} up to tier ${tier} in ${repo}? This override pins the level there: the trust ladder leaves it alone until it is cleared.`
    : `Trust ${workerId} up to tier ${tier} in every repo without an override (its base trust)? A trust ladder restarts from the new base.`;
}

function trustControl(b: Builder, w: WorkerView, o: WorkerCardOptions): HTMLElement {
  const ui = o.trustUi ?? {};
  const confirming = ui.confirming?.workerId === w.id ? ui.confirming : undefined;
  const message = ui.message?.workerId === w.id ? ui.message : undefined;
  const repoId = `owp-trust-repo-${w.id}`;
  const tierId = `owp-trust-tier-${w.id}`;
  return b.el(
    'div',
    { class: 'owp-trust-control', role: 'group', 'aria-label': `Change the trust of ${w.name}` },
    b.el(
      'div',
      { class: 'owp-action-row' },
      b.el('label', { for: repoId }, 'Trust in '),
      b.el(
        'select',
        { id: repoId, class: 'owp-input', 'data-trust-input': 'repo' },
        b.el('option', { value: '' }, 'every repo (base)'),
        ...(o.repos ?? []).map((r) => b.el('option', { value: r }, r)),
      ),
      b.el('label', { for: tierId }, ' up to tier '),
      b.el('select', { id: tierId, class: 'owp-input', 'data-trust-input': 'tier' }, ...TIERS.map((t) => b.el('option', { value: t, selected: t === w.trust }, String(t)))),
      ' ',
      b.el('button', { type: 'button', class: 'owp-button owp-action', 'data-trust-set': w.id }, 'Set trust…'),
    ),
    confirming
      ? b.el(
          'div',
          { class: 'owp-confirm', role: 'alertdialog', 'aria-label': `Confirm the trust change of ${w.name}` },
          b.el('p', undefined, describeTrustChange(w.id, confirming.repo, confirming.tier)),
          b.el('button', { type: 'button', class: 'owp-button owp-action-danger', 'data-trust-confirm': w.id }, confirming.tier === null ? 'Yes, clear it' : 'Yes, set trust'),
          ' ',
          b.el('button', { type: 'button', class: 'owp-button', 'data-trust-cancel': w.id }, 'Keep it'),
        )
      : null,
    b.el('p', { class: `owp-action-message${message ? ` owp-action-${message.kind}` : ''}`, role: 'status', 'data-trust-result': message?.kind }, message?.text ?? ''),
  );
}

/** Null when there is nothing beyond the base tier the limits line already shows. */
function trustBlock(b: Builder, w: WorkerView, o: WorkerCardOptions): HTMLElement | null {
  const last = w.lastTrustChange;
  if (!w.trustLevels.length && !last && !o.canSetTrust) return null;
  return b.el(
    'div',
    { class: 'owp-worker-trust', 'data-trust-base': w.trust },
    b.el('p', { class: 'owp-trust-base' }, `Base trust: up to tier ${w.trust}${w.trustLevels.length ? '; per repo:' : ''}`),
    w.trustLevels.length
      ? b.el(
          'ul',
          { class: 'owp-trust-levels', 'aria-label': `Trust of ${w.name} per repo` },
          ...w.trustLevels.map((l) =>
            b.el(
              'li',
              { 'data-trust-repo': l.repo, 'data-trust-tier': l.tier, 'data-trust-source': l.source },
              b.el('span', { class: 'owp-trust-level' }, `${l.repo}: tier ${l.tier}`),
              ' ',
              b.el('span', { class: 'owp-trust-why' }, describeLevel(l)),
              l.reason ? b.el('span', { class: 'owp-trust-why' }, ` Last move: ${l.reason}`) : null,
              o.canSetTrust && l.source === 'override'
                ? b.el('button', { type: 'button', class: 'owp-link-button owp-trust-clear', 'data-trust-clear': w.id, 'data-trust-for': l.repo }, 'Clear override…')
                : null,
            ),
          ),
        )
      : null,
    last
      ? b.el('p', { class: 'owp-trust-last', 'data-trust-last-at': last.at }, `Last trust change (${formatStamp(last.at)}): ${describeEvent(last)}`)
      : null,
    o.canSetTrust ? trustControl(b, w, o) : null,
  );
}

export function workerCard(b: Builder, w: WorkerView, o: WorkerCardOptions): HTMLElement {
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
    trustBlock(b, w, o),
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
                ? countdown(b, l.expiresAt, o.now)
                : b.el('span', { class: 'owp-lease-state' }, STATE_TEXT[l.state] ?? l.state),
            ),
          ),
        )
      : b.el('p', { class: 'owp-empty' }, 'No active leases'),
  );
}
