/**
 * The page's open task: which one (from the URL hash `#task=<id>`), its audit history and
 * the scheduler's explanation (loaded from the API), and the maintainer actions sent from it.
 *
 * Invariants:
 * - The hash is the only source of which task is open: opening sets it, closing clears
 *   it, Back and a pasted link work; an unknown id shows nothing and says so in the status.
 * - A destructive action is sent only after its confirmation (shared/dashboard DESTRUCTIVE).
 * - Every answer of the relay is shown: success in the action's live region, a refusal
 *   with the relay's own sentence. The relay enforces roles; the page only hides buttons.
 * - Loads for a task that is no longer open are dropped (a slow answer cannot show another
 *   task's history).
 */
import { DESTRUCTIVE, ACTION_TEXT, type ActionKey, type DetailEvent, type DetailUi } from '../../../shared/dashboard/index.js';
import type { AuditEvent } from '../../../shared/model.js';
import type { Explanation } from '../../../shared/scheduler/explain.js';

export interface Answer {
  status: number;
  body: { entries?: AuditEvent[]; explanation?: Explanation; error?: { message?: string }; [key: string]: unknown } | undefined;
}

export interface Api {
  token(): string | undefined;
  send(method: string, path: string, body?: unknown): Promise<Answer>;
}

const HASH_KEY = 'task';

export function taskFromHash(hash: string): string | undefined {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const id = params.get(HASH_KEY);
  return id ? id : undefined;
}

export function hashFor(taskId: string): string {
  return `#${HASH_KEY}=${encodeURIComponent(taskId)}`;
}

const path = (taskId: string, rest = ''): string => `/api/tasks/${encodeURIComponent(taskId)}${rest}`;

function request(action: ActionKey, value: string | undefined): { method: string; rest: string; body: unknown } | string {
  switch (action) {
    case 'merged':
    case 'closed':
    case 'changes-requested':
      return { method: 'POST', rest: '/review', body: { result: action } };
    case 'requeue':
      return { method: 'POST', rest: '/requeue', body: {} };
    case 'cancel':
      return { method: 'POST', rest: '/cancel', body: { reason: 'Cancelled by a maintainer from the dashboard.' } };
    case 'hold':
    case 'unhold':
      return { method: 'PATCH', rest: '', body: { held: action === 'hold' } };
    case 'priority': {
      const n = Number(value);
      if (value === undefined || value.trim() === '' || !Number.isInteger(n) || n < -100 || n > 100) return 'Priority must be a whole number from -100 to 100.';
      return { method: 'PATCH', rest: '', body: { priority: n } };
    }
  }
}

export class DetailController {
  taskId: string | undefined;
  events: AuditEvent[] = [];
  explanation: Explanation | undefined;
  ui: DetailUi = {};
  private seq = 0;
  private reloadTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly api: Api,
    private readonly changed: () => void,
  ) {}

  /** Follow the URL hash; returns true when the open task changed. */
  follow(hash: string): boolean {
    const id = taskFromHash(hash);
    if (id === this.taskId) return false;
    this.taskId = id;
    this.events = [];
    this.explanation = undefined;
    this.ui = {};
    if (id) void this.load();
    return true;
  }

  /** The board or ledger touched this task: load its history and explanation again, soon. */
  touched(): void {
    if (!this.taskId || this.reloadTimer) return;
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = undefined;
      void this.load();
    }, 250);
  }

  async load(): Promise<void> {
    const id = this.taskId;
    if (!id) return;
    const mine = ++this.seq;
    if (!this.api.token()) {
      this.ui = { ...this.ui, loading: false, unavailable: 'The history and the scheduler’s explanation need a token (a viewer token is enough).' };
      this.changed();
      return;
    }
    this.ui = { ...this.ui, loading: this.events.length === 0 };
    const [audit, why] = await Promise.all([
      this.api.send('GET', `/api/audit?task=${encodeURIComponent(id)}&limit=1000`),
      this.api.send('GET', path(id, '/explain')),
    ]);
    if (mine !== this.seq || id !== this.taskId) return;
    this.events = audit.status === 200 && Array.isArray(audit.body?.entries) ? audit.body.entries : [];
    this.explanation = why.status === 200 ? why.body?.explanation : undefined;
    this.ui = { ...this.ui, loading: false, unavailable: audit.status === 200 ? undefined : `The history could not be loaded (${audit.body?.error?.message ?? `HTTP ${audit.status}`}).` };
    this.changed();
  }

  /** Handle a click from the detail (shared/dashboard interact.ts). */
  async handle(e: DetailEvent, close: () => void): Promise<void> {
    if (e.type === 'close') return close();
    if (e.type === 'confirm-cancel') {
      this.ui = { ...this.ui, confirming: undefined };
      return this.changed();
    }
    if (!e.confirmed && DESTRUCTIVE.has(e.action)) {
      this.ui = { ...this.ui, confirming: e.action, message: undefined };
      return this.changed();
    }
    const req = request(e.action, e.value);
    if (typeof req === 'string') {
      this.ui = { ...this.ui, confirming: undefined, message: { kind: 'error', text: req } };
      return this.changed();
    }
    this.ui = { ...this.ui, confirming: undefined, message: { kind: 'ok', text: `Sending ${ACTION_TEXT[e.action].toLowerCase()}…` } };
    this.changed();
    const res = await this.api.send(req.method, path(e.taskId, req.rest), req.body);
    if (e.taskId !== this.taskId) return;
    const ok = res.status >= 200 && res.status < 300;
    const text = ok ? `${ACTION_TEXT[e.action]}: done.` : `${ACTION_TEXT[e.action]} refused: ${res.body?.error?.message ?? `HTTP ${res.status}`}`;
    this.ui = { ...this.ui, message: { kind: ok ? 'ok' : 'error', text } };
    this.changed();
    void this.load();
  }
}
