/**
 * Live dashboard state fed by the relay's event stream (`GET /api/events`, see
 * docs/PROTOCOL.md): a `snapshot` ({ board, ledger, recent, profiles }) followed by `ledger`
 * and `board` deltas ({ batch, tasks?, workers?, profiles?, repos?, trust?, events? }).
 * `profiles` is the public worker projection (what the scheduler uses per worker).
 *
 * Invariants:
 * - Pure: each function returns a new state and never mutates its input state.
 * - A delta entry whose value is null (or listed in `removed`) deletes that key; any other
 *   value replaces the entry whole (the ledger replaces runtimes whole).
 * - Tolerant of shape: a map may also arrive as an array of entries carrying their id
 *   (`taskId`, `workerId`, `id`, `repo`); unknown fields are ignored, never thrown on.
 * - `recent` keeps only events newer than `keepMs` before the newest, at most `maxEvents`.
 */
import { EVENT } from '../protocol.js';
import type { AuditEvent, Board, Ledger, RepoPolicy, RiskTier, Task, TaskRuntime, WorkerProfile, WorkerRuntime } from '../model.js';

// Local copies (not imported from ../model.js) so the browser bundle does not pull in zod.
const emptyBoard = (): Board => ({ tasks: {}, repos: {}, trust: {} });
const emptyLedger = (): Ledger => ({ batch: 0, tasks: {}, workers: {}, outcomes: {} });

export interface LiveState {
  board: Board;
  ledger: Ledger;
  recent: AuditEvent[];
  /** Public worker profiles (skills, capacity, max concurrent, availability). */
  profiles: Record<string, WorkerProfile>;
  /** Highest batch seen. */
  batch: number;
}

export interface SnapshotMessage {
  board?: Partial<Board>;
  ledger?: Partial<Ledger>;
  events?: AuditEvent[];
  recent?: AuditEvent[];
  profiles?: unknown;
}

export interface DeltaMessage {
  batch?: number;
  tasks?: unknown;
  workers?: unknown;
  repos?: unknown;
  trust?: unknown;
  events?: unknown;
  profiles?: unknown;
  removed?: { tasks?: string[]; workers?: string[]; repos?: string[] };
}

export const KEEP_MS = 60 * 60 * 1000;
export const MAX_EVENTS = 5000;

export function emptyLiveState(): LiveState {
  return { board: emptyBoard(), ledger: emptyLedger(), recent: [], profiles: {}, batch: 0 };
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/**
 * Public profiles as published by the relay (the event stream's `profiles`, or the
 * `owp/ledger` document's `profiles` map as JSON). An entry without a usable shape is left
 * out rather than shown with made-up numbers.
 */
export function publicProfilesFrom(raw: unknown, base: Record<string, WorkerProfile> = {}): Record<string, WorkerProfile> {
  if (!isObj(raw)) return base;
  const out: Record<string, WorkerProfile> = { ...base };
  for (const [id, v] of Object.entries(raw)) {
    if (v === null || v === undefined) {
      delete out[id];
      continue;
    }
    if (!isObj(v) || !isStrings(v.skills) || !isCount(v.capacity) || !isCount(v.maxConcurrent)) continue;
    out[id] = {
      id,
      name: typeof v.name === 'string' && v.name ? v.name : id,
      skills: [...v.skills],
      capacity: v.capacity,
      maxConcurrent: v.maxConcurrent,
      available: v.available !== false,
    };
  }
  return out;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function idOf(v: unknown, keys: readonly string[]): string | undefined {
  if (!isObj(v)) return undefined;
  for (const k of keys) if (typeof v[k] === 'string') return v[k];
  return undefined;
}

/** Merge a delta map (object or array of entries) into a record; null deletes. */
function mergeMap<T>(base: Record<string, T>, delta: unknown, idKeys: readonly string[], removed?: string[]): Record<string, T> {
  if (delta === undefined && !removed?.length) return base;
  const out: Record<string, T> = { ...base };
  if (Array.isArray(delta)) {
    for (const v of delta) {
      const id = idOf(v, idKeys);
      if (id !== undefined) out[id] = v as T;
    }
  } else if (isObj(delta)) {
    for (const [k, v] of Object.entries(delta)) {
      if (v === null || v === undefined) delete out[k];
      else out[k] = v as T;
    }
  }
  for (const k of removed ?? []) delete out[k];
  return out;
}

function trimEvents(events: AuditEvent[], keepMs: number, maxEvents: number): AuditEvent[] {
  if (events.length === 0) return events;
  const newest = events.reduce((m, e) => Math.max(m, Number.isFinite(e.at) ? e.at : 0), 0);
  const kept = events.filter((e) => Number.isFinite(e.at) && e.at >= newest - keepMs);
  return kept.length > maxEvents ? kept.slice(kept.length - maxEvents) : kept;
}

const eventKey = (e: AuditEvent): string => `${e.batch}|${e.at}|${e.kind}|${e.taskId ?? ''}|${e.workerId ?? ''}|${e.intentId ?? ''}`;

/** Add events, dropping ones already present (the same event may come from /api/audit and SSE). */
export function addEvents(state: LiveState, events: readonly AuditEvent[], keepMs = KEEP_MS, maxEvents = MAX_EVENTS): LiveState {
  if (!events.length) return state;
  const seen = new Set(state.recent.map(eventKey));
  const added = events.filter((e) => isObj(e) && typeof e.kind === 'string' && !seen.has(eventKey(e)));
  if (!added.length) return state;
  const all = [...state.recent, ...added].sort((a, b) => a.at - b.at || a.batch - b.batch);
  return { ...state, recent: trimEvents(all, keepMs, maxEvents) };
}

export function applySnapshot(state: LiveState, snap: SnapshotMessage): LiveState {
  const board: Board = { ...emptyBoard(), ...(isObj(snap.board) ? snap.board : {}) };
  const ledger: Ledger = { ...emptyLedger(), ...(isObj(snap.ledger) ? snap.ledger : {}) };
  const next: LiveState = { board, ledger, recent: state.recent, profiles: publicProfilesFrom(snap.profiles), batch: Math.max(ledger.batch ?? 0, 0) };
  const evs = Array.isArray(snap.events) ? snap.events : Array.isArray(snap.recent) ? snap.recent : [];
  return addEvents(next, evs);
}

/** Apply an `event: ledger` delta. */
export function applyLedgerDelta(state: LiveState, d: DeltaMessage): LiveState {
  const batch = typeof d.batch === 'number' ? Math.max(d.batch, state.ledger.batch) : state.ledger.batch;
  const ledger: Ledger = {
    ...state.ledger,
    batch,
    tasks: mergeMap<TaskRuntime>(state.ledger.tasks, d.tasks, ['taskId', 'id'], d.removed?.tasks),
    workers: mergeMap<WorkerRuntime>(state.ledger.workers, d.workers, ['workerId', 'id'], d.removed?.workers),
  };
  const profiles = d.profiles === undefined ? state.profiles : publicProfilesFrom(d.profiles, state.profiles);
  const next = { ...state, ledger, profiles, batch: Math.max(state.batch, batch) };
  return Array.isArray(d.events) ? addEvents(next, d.events as AuditEvent[]) : next;
}

/** Apply an `event: board` delta. */
export function applyBoardDelta(state: LiveState, d: DeltaMessage): LiveState {
  const board: Board = {
    tasks: mergeMap<Task>(state.board.tasks, d.tasks, ['id'], d.removed?.tasks),
    repos: mergeMap<RepoPolicy>(state.board.repos, d.repos, ['repo'], d.removed?.repos),
    trust: mergeMap<RiskTier>(state.board.trust, d.trust, ['workerId']),
  };
  const next = { ...state, board };
  return Array.isArray(d.events) ? addEvents(next, d.events as AuditEvent[]) : next;
}

/** Apply a delta by SSE event name (`ledger` or `board`); other names leave the state alone. */
export function applyDelta(state: LiveState, event: string, d: DeltaMessage): LiveState {
  if (!isObj(d)) return state;
  if (event === EVENT.ledger) return applyLedgerDelta(state, d);
  if (event === EVENT.board) return applyBoardDelta(state, d);
  return state;
}
