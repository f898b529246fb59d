/**
 * The dashboard's user input, delegated on its root: opening a task (card click or
 * Enter/Space, review rows), the detail's actions and confirmations, the filter bar, the
 * figures' selectors and a worker's trust override control.
 *
 * Invariants:
 * - One set of listeners per root, whatever the number of renders; each render only swaps
 *   the handlers (so reused nodes never carry stale listeners).
 * - A destructive action's first click only asks (`confirmed: false`); the confirmation
 *   row's button sends it (`confirmed: true`). The caller decides what to show.
 * - Links keep their own behaviour: a click on an <a> inside a card does not open the card.
 */
import type { ActionKey } from './detail.js';
import type { TaskFilter } from './filters.js';
import type { TaskState } from '../model.js';

export type DetailEvent =
  | { type: 'action'; taskId: string; action: ActionKey; confirmed: boolean; value?: string }
  | { type: 'confirm-cancel' }
  | { type: 'close' };

/**
 * A worker's trust control: `ask` to set (tier) or clear (null) a level (only asks for a
 * confirmation), `confirm` sends what was asked, `cancel` keeps things as they are.
 */
export type TrustEvent = { type: 'ask'; workerId: string; repo?: string; tier: number | null } | { type: 'confirm'; workerId: string } | { type: 'cancel' };

export interface FiguresChoice {
  window?: string;
  repo?: string;
}

export interface Handlers {
  open?: (taskId: string) => void;
  detail?: (e: DetailEvent) => void;
  filter?: (f: TaskFilter) => void;
  figures?: (c: FiguresChoice) => void;
  trust?: (e: TrustEvent) => void;
}

const slots = new WeakMap<HTMLElement, Handlers>();

function readFilter(root: HTMLElement): TaskFilter {
  const f: TaskFilter = {};
  for (const el of Array.from(root.querySelectorAll<HTMLInputElement | HTMLSelectElement>('[data-filter]'))) {
    const v = el.value;
    if (!v) continue;
    const key = el.getAttribute('data-filter') as keyof TaskFilter;
    if (key === 'state') f.state = v as TaskState;
    else if (key === 'repo' || key === 'skill' || key === 'worker' || key === 'text') f[key] = v;
  }
  return f;
}

function readFigures(root: HTMLElement): FiguresChoice {
  const c: FiguresChoice = {};
  for (const el of Array.from(root.querySelectorAll<HTMLSelectElement>('[data-figures]'))) {
    const key = el.getAttribute('data-figures');
    if (key === 'window' || key === 'repo') c[key] = el.value || undefined;
  }
  return c;
}

/** A click on a worker's trust control, as its event (undefined when it is not one). */
function trustClick(inside: (sel: string) => HTMLElement | null): TrustEvent | undefined {
  const card = inside('[data-worker-id]');
  const workerId = card?.getAttribute('data-worker-id') ?? '';
  if (inside('[data-trust-set]') && card) {
    const repo = card.querySelector<HTMLSelectElement>('[data-trust-input="repo"]')?.value || undefined;
    const tier = Number(card.querySelector<HTMLSelectElement>('[data-trust-input="tier"]')?.value);
    return { type: 'ask', workerId, ...(repo ? { repo } : {}), tier };
  }
  const clear = inside('[data-trust-clear]');
  if (clear && card) return { type: 'ask', workerId, repo: clear.getAttribute('data-trust-for') ?? undefined, tier: null };
  if (inside('[data-trust-confirm]') && card) return { type: 'confirm', workerId };
  if (inside('[data-trust-cancel]')) return { type: 'cancel' };
  return undefined;
}

function onClick(root: HTMLElement, h: Handlers, ev: Event): void {
  const target = ev.target as Element | null;
  if (!target?.closest) return;
  const inside = (sel: string): HTMLElement | null => {
    const el = target.closest<HTMLElement>(sel);
    return el && root.contains(el) ? el : null;
  };
  const trust = h.trust ? trustClick(inside) : undefined;
  if (trust && h.trust) return h.trust(trust);
  const detail = inside('[data-task-detail]');
  const taskId = detail?.getAttribute('data-task-detail') ?? '';
  const action = inside('[data-action]');
  if (action && detail && h.detail) {
    const a = action.getAttribute('data-action') as ActionKey;
    const value = a === 'priority' ? (detail.querySelector<HTMLInputElement>('#owp-priority-input')?.value ?? '') : undefined;
    h.detail({ type: 'action', taskId, action: a, confirmed: false, value });
    return;
  }
  const confirm = inside('[data-confirm]');
  if (confirm && detail && h.detail) {
    h.detail({ type: 'action', taskId, action: confirm.getAttribute('data-confirm') as ActionKey, confirmed: true });
    return;
  }
  if (inside('[data-confirm-cancel]') && h.detail) return h.detail({ type: 'confirm-cancel' });
  if (inside('[data-detail-close]') && h.detail) return h.detail({ type: 'close' });
  if (inside('[data-filter-clear]') && h.filter) {
    // Reset the controls now: input typed before the next render must not bring old values back.
    for (const el of Array.from(root.querySelectorAll<HTMLInputElement | HTMLSelectElement>('[data-filter]'))) el.value = '';
    return h.filter({});
  }
  const opener = inside('[data-open-task]');
  if (opener && h.open) return h.open(opener.getAttribute('data-open-task') ?? '');
  const card = inside('.owp-task[data-task-id]');
  if (card && h.open && !target.closest('a')) h.open(card.getAttribute('data-task-id') ?? '');
}

/**
 * Make the filter and figures controls show what was rendered. A control the user touched
 * no longer follows its `value`/`selected` attributes (HTML's dirty flags), so after a
 * render that changed them (Clear, options that moved) the properties are set here.
 */
export function syncControls(root: HTMLElement): void {
  for (const el of Array.from(root.querySelectorAll<HTMLInputElement | HTMLSelectElement>('[data-filter], [data-figures]'))) {
    const want = el.tagName === 'SELECT' ? (el.querySelector('option[selected]')?.getAttribute('value') ?? '') : (el.getAttribute('value') ?? '');
    if (el.value !== want) el.value = want;
  }
}

/** Install (once) or update the handlers of a dashboard root. */
export function delegate(root: HTMLElement, handlers: Handlers): void {
  const known = slots.get(root);
  if (known) {
    Object.assign(known, { open: undefined, detail: undefined, filter: undefined, figures: undefined, trust: undefined }, handlers);
    return;
  }
  const h: Handlers = { ...handlers };
  slots.set(root, h);
  root.addEventListener('click', (ev) => onClick(root, h, ev));
  root.addEventListener('keydown', (ev) => {
    const key = (ev).key;
    if (key === 'Escape' && h.detail && root.querySelector('[data-task-detail]')) {
      h.detail({ type: 'close' });
      return;
    }
    if (key !== 'Enter' && key !== ' ') return;
    const card = ev.target as HTMLElement;
    if (!card.matches?.('.owp-task[data-task-id]') || !h.open) return;
    ev.preventDefault();
    h.open(card.getAttribute('data-task-id') ?? '');
  });
  const changed = (ev: Event): void => {
    const el = ev.target as Element;
    if (el.hasAttribute?.('data-filter') && h.filter) h.filter(readFilter(root));
    else if (el.hasAttribute?.('data-figures') && h.figures) h.figures(readFigures(root));
  };
  root.addEventListener('input', changed);
  root.addEventListener('change', changed);
  root.addEventListener('submit', (ev) => ev.preventDefault());
}
