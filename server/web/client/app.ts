/**
 * The dashboard page's script: token handling, the live connection, and rendering through
 * the shared dashboard (shared/dashboard). Bundled by esbuild (server/web/bundle.ts).
 *
 * Invariants:
 * - DOM is built only through shared/dashboard's renderer or textContent; never HTML strings.
 * - The status line (role=status) always says what the connection is doing.
 * - The token goes only to this origin: as a Bearer header for fetch, and as `?token=` for
 *   EventSource (which cannot send headers).
 */
import { buildDashboardModel, buildTaskDetail, figuresSection, renderDashboard, updateCountdowns, type TaskFilter } from '../../../shared/dashboard/index.js';
import { addEvents, applyDelta, applySnapshot, emptyLiveState, type DeltaMessage, type LiveState } from '../../../shared/dashboard/live.js';
import type { AuditEvent, WorkerProfile } from '../../../shared/model.js';
import { EVENT, type DeltaEvent } from '../../../shared/protocol.js';
import { LiveConnection, type ConnectionStatus } from './connection.js';
import { DetailController, hashFor, type Answer } from './detail.js';
import { FiguresController } from './figures.js';
import { TrustController } from './trust.js';
import { forgetToken, loadToken, saveToken, tokenFromFragment } from './token.js';

const HOUR_MS = 3600_000;

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`dashboard page is missing #${id}`);
  return el as T;
};

const root = $('owp-root');
const statusEl = $('owp-status');
const form = $<HTMLFormElement>('owp-token-form');
const tokenInput = $<HTMLInputElement>('owp-token-input');
const rememberInput = $<HTMLInputElement>('owp-token-remember');
const tokenError = $('owp-token-error');
const forgetButton = $<HTMLButtonElement>('owp-forget');
const publicDashboard = document.body.dataset.public === '1';

let state: LiveState = emptyLiveState();
let profiles: Record<string, WorkerProfile> = {};
let online: Record<string, boolean> | undefined;
let token: string | undefined;
let conn: LiveConnection | undefined;
let renderTimer: ReturnType<typeof setTimeout> | undefined;
let haveData = false;
/** Relay clock minus browser clock (ms), from the Date header; 0 until known or when small. */
let clockOffset = 0;
/** Maintainer actions are shown to maintainer and admin tokens only (from GET /api/me). */
let canAct = false;
let filter: TaskFilter = {};
const detail = new DetailController({ token: () => token, send }, () => scheduleRender());
const trust = new TrustController({ token: () => token, send }, () => scheduleRender());
const figures = new FiguresController({ token: () => token, send }, () => scheduleRender(), publicDashboard);

/** Lease expiries are relay times: read the relay's clock so countdowns are right on a skewed machine. */
function noteServerDate(res: Response): void {
  const at = Date.parse(res.headers.get('date') ?? '');
  if (!Number.isFinite(at)) return;
  const offset = at + 500 - Date.now(); // the header has whole seconds
  clockOffset = Math.abs(offset) > 2000 ? offset : 0;
}

const relayNow = (): number => Date.now() + clockOffset;

function setStatus(kind: string, text: string): void {
  statusEl.dataset.status = kind;
  if (statusEl.textContent !== text) statusEl.textContent = text;
}

function showStatus(s: ConnectionStatus): void {
  switch (s.kind) {
    case 'connecting':
      setStatus('connecting', 'Connecting to the relay…');
      break;
    case 'live':
      setStatus('live', 'Live: connected to the relay.');
      break;
    case 'reconnecting':
      setStatus('reconnecting', `Connection to the relay lost. Reconnecting… (attempt ${s.attempt})`);
      break;
    case 'unauthorized':
      setStatus('locked', s.message);
      showForm(s.message);
      break;
  }
}

const eventKey = (e: AuditEvent): string => `${e.batch}|${e.at}|${e.kind}|${e.taskId ?? ''}|${e.intentId ?? ''}`;

function render(): void {
  renderTimer = undefined;
  if (!haveData) return;
  const now = relayNow();
  // The relay's public projection (every role) first; /api/workers (token holders) fills gaps.
  const model = buildDashboardModel({ board: state.board, ledger: state.ledger, recent: state.recent, online, profiles: { ...profiles, ...state.profiles }, now, filter });
  let open;
  if (detail.taskId) {
    const seen = new Set(detail.events.map(eventKey));
    const events = [...detail.events, ...state.recent.filter((e) => e.taskId === detail.taskId && !seen.has(eventKey(e)))];
    open = buildTaskDetail({ board: state.board, ledger: state.ledger, taskId: detail.taskId, events, explanation: detail.explanation, canAct });
  }
  renderDashboard(root, model, {
    now,
    onOpenTask: openTask,
    detail: open,
    detailUi: detail.ui,
    onDetail: (e) => void detail.handle(e, closeTask),
    onFilter: (f) => {
      filter = f;
      scheduleRender();
    },
    extra: (b, m) => [figuresSection(b, m, figures.view)],
    onFigures: (c) => figures.choose(c),
    ...(canAct ? { onTrust: (e) => void trust.handle(e), trustUi: trust.ui } : {}),
  });
}

/** Coalesce bursts of deltas into one render. */
function scheduleRender(): void {
  if (renderTimer === undefined) renderTimer = setTimeout(render, 30);
}

function openTask(taskId: string): void {
  if (window.location.hash !== hashFor(taskId)) window.location.hash = hashFor(taskId);
  else followHash();
}

function closeTask(): void {
  window.history.pushState(null, '', window.location.pathname + window.location.search);
  followHash();
}

function followHash(): void {
  if (!detail.follow(window.location.hash)) return;
  render();
  if (detail.taskId) {
    const head = root.querySelector<HTMLElement>('[data-task-detail] h2');
    head?.scrollIntoView({ block: 'start' });
    head?.focus({ preventScroll: true });
  }
}

/** One API call with the token; never throws (a network failure is status 0). */
async function send(method: string, path: string, body?: unknown): Promise<Answer> {
  try {
    const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(path, { method, headers, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body) });
    noteServerDate(res);
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Answer['body']) : undefined };
  } catch {
    return { status: 0, body: { error: { message: 'The relay could not be reached; check the connection and retry.' } } };
  }
}

async function getJson<T>(path: string): Promise<T | undefined> {
  if (!token) return undefined;
  const res = await send('GET', path);
  return res.status === 200 ? (res.body as T) : undefined;
}

async function loadRole(): Promise<void> {
  const me = await getJson<{ role?: string }>('/api/me');
  const next = me?.role === 'maintainer' || me?.role === 'admin';
  if (next !== canAct) {
    canAct = next;
    scheduleRender();
  }
}

async function loadAudit(): Promise<void> {
  const since = relayNow() - HOUR_MS;
  const body = await getJson<{ entries?: AuditEvent[] }>(`/api/audit?sinceAt=${since}&limit=1000`);
  if (body?.entries?.length) {
    state = addEvents(state, body.entries);
    scheduleRender();
  }
}

let workersInFlight = false;
async function loadWorkers(): Promise<void> {
  if (workersInFlight) return;
  workersInFlight = true;
  try {
    const body = await getJson<{ workers?: { profile?: WorkerProfile; online?: boolean; runtime?: { workerId?: string } }[] }>('/api/workers');
    if (!body?.workers) return;
    const nextProfiles: Record<string, WorkerProfile> = {};
    const nextOnline: Record<string, boolean> = {};
    for (const w of body.workers) {
      const id = w.profile?.id ?? w.runtime?.workerId;
      if (!id) continue;
      if (w.profile) nextProfiles[id] = w.profile;
      nextOnline[id] = Boolean(w.online);
    }
    profiles = nextProfiles;
    online = nextOnline;
    scheduleRender();
  } finally {
    workersInFlight = false;
  }
}

function onSnapshot(data: unknown): void {
  state = applySnapshot(state, data as Parameters<typeof applySnapshot>[1]);
  haveData = true;
  form.hidden = true;
  forgetButton.hidden = !token;
  render();
  void loadAudit();
  void loadWorkers();
  void loadRole();
  void detail.load();
  void figures.load();
}

function onDelta(event: DeltaEvent, data: unknown): void {
  const d = data as DeltaMessage;
  state = applyDelta(state, event, d);
  // A worker we have no profile for (or whose capacity may have changed): ask again.
  if (event === EVENT.ledger && d.workers && typeof d.workers === 'object') {
    if (Object.keys(d.workers).some((id) => !profiles[id] && !state.profiles[id])) void loadWorkers();
  }
  if (detail.taskId && touches(d, detail.taskId)) detail.touched();
  scheduleRender();
}

function touches(d: DeltaMessage, taskId: string): boolean {
  const has = (m: unknown): boolean => !!m && typeof m === 'object' && Object.hasOwn(m, taskId);
  return has(d.tasks) || (Array.isArray(d.events) && d.events.some((e) => (e as AuditEvent)?.taskId === taskId));
}

function connect(): void {
  conn?.stop();
  conn = new LiveConnection(token, publicDashboard, { onSnapshot, onDelta, onStatus: showStatus });
  conn.start();
}

function showForm(message?: string): void {
  form.hidden = false;
  tokenError.textContent = message ?? '';
  tokenInput.focus();
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const value = tokenInput.value.trim();
  if (!value) {
    tokenError.textContent = 'Paste a token first (it starts with owp_).';
    return;
  }
  token = value;
  saveToken(value, rememberInput.checked);
  tokenInput.value = '';
  tokenError.textContent = '';
  connect();
});

forgetButton.addEventListener('click', () => {
  forgetToken();
  token = undefined;
  canAct = false;
  conn?.stop();
  forgetButton.hidden = true;
  if (publicDashboard) connect();
  else {
    setStatus('locked', 'Token forgotten. Enter a token to open the dashboard.');
    showForm();
  }
});

setInterval(() => updateCountdowns(root, relayNow()), 1000);
setInterval(() => void figures.load(), 60_000);
// Roll the chart window and "recently done" forward, refresh presence.
setInterval(() => {
  scheduleRender();
  void loadWorkers();
}, 15_000);

window.addEventListener('hashchange', followHash);
window.addEventListener('popstate', followHash);

const fromFragment = tokenFromFragment(window.location, window.history);
detail.follow(window.location.hash);
if (fromFragment) saveToken(fromFragment, false);
token = fromFragment ?? loadToken();

if (token || publicDashboard) connect();
else {
  setStatus('locked', 'Enter a token to open the dashboard.');
  showForm();
}
