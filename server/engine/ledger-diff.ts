/**
 * What changed between two ledgers, and that change written to the ledger's two copies
 * outside memory: LevelDB ops (the authority) and one `owp/ledger` Y.Doc transaction (what
 * clients see); plus reading a ledger back from LevelDB and resetting the doc to one.
 *
 * Invariants:
 * - Keys: `ledger/task/<id>`, `ledger/worker/<id>`, `ledger/outcome/<id>`, `ledger/meta`.
 *   Values are plain JSON. A removed entry is a `del`.
 * - The doc is written only by the relay (origin 'relay'), in one transaction per batch;
 *   an entry is replaced only when its JSON changed, so an idle or heartbeat-only batch
 *   adds nothing to the document's history.
 * - `recent` holds at most RECENT_MAX audit events, newest last.
 * - Outcomes older than the retention window leave the doc (clients load it whole); they
 *   stay in the store (archived, outcomes.ts), so an old intent id still gets its outcome.
 */
import * as Y from 'yjs';
import { ORIGIN } from '../../shared/protocol.js';
import type { AuditEvent, Ledger, Outcome, TaskRuntime, WorkerRuntime } from '../../shared/model.js';

export const RECENT_MAX = 100;
export const LEDGER_PREFIX = 'ledger/';

export interface LedgerDiff {
  tasks: Record<string, TaskRuntime | null>;
  workers: Record<string, WorkerRuntime | null>;
  outcomes: Record<string, Outcome | null>;
}

export interface DbOp {
  type: 'put' | 'del';
  key: string;
  value?: unknown;
}

/**
 * The scheduler replaces a changed entry by a new object and keeps unchanged ones (its
 * copy-on-write invariant), so a reference compare finds every change; an entry replaced
 * by an equal object is merely written again. The second pass (removals) runs only when
 * the key counts say something was removed.
 */
function diffRecord<T>(prev: Record<string, T>, next: Record<string, T>, out: Record<string, T | null>): void {
  let common = 0;
  for (const k in next) {
    const a = prev[k];
    const b = next[k];
    if (a !== undefined) common++;
    if (a !== b) out[k] = b;
  }
  let prevCount = 0;
  for (const _ in prev) prevCount++;
  if (prevCount !== common) for (const k in prev) if (!(k in next)) out[k] = null;
}

/**
 * What changed between two ledgers. Outcomes are only ever added, and only for the intents
 * of the batch, so when `outcomeIds` (the batch's intent ids) is given only those are
 * compared: the outcome map grows with history, a batch must not cost more because of it.
 */
export function diffLedger(prev: Ledger, next: Ledger, outcomeIds?: Iterable<string>): LedgerDiff {
  const d: LedgerDiff = { tasks: {}, workers: {}, outcomes: {} };
  diffRecord(prev.tasks, next.tasks, d.tasks);
  diffRecord(prev.workers, next.workers, d.workers);
  if (outcomeIds) {
    for (const id of outcomeIds) {
      const b = next.outcomes[id];
      if (b !== undefined && b !== prev.outcomes[id]) d.outcomes[id] = b;
    }
  } else diffRecord(prev.outcomes, next.outcomes, d.outcomes);
  return d;
}

/**
 * diffLedger restricted to the ids a batch set (the session's `changed`): the same
 * result when every changed entry is among them, at a cost that does not grow with the pool.
 */
export function diffLedgerIds(prev: Ledger, next: Ledger, taskIds: Iterable<string>, workerIds: Iterable<string>, outcomeIds: Iterable<string>): LedgerDiff {
  const d: LedgerDiff = { tasks: {}, workers: {}, outcomes: {} };
  const pick = <T>(a: Record<string, T>, b: Record<string, T>, ids: Iterable<string>, out: Record<string, T | null>): void => {
    for (const id of ids) {
      const has = Object.hasOwn(b, id);
      const x = Object.hasOwn(a, id) ? a[id] : undefined;
      const y = has ? b[id] : undefined;
      if (x !== y) out[id] = has ? y! : null;
    }
  };
  pick(prev.tasks, next.tasks, taskIds, d.tasks);
  pick(prev.workers, next.workers, workerIds, d.workers);
  for (const id of outcomeIds) {
    const b = next.outcomes[id];
    if (b !== undefined && b !== prev.outcomes[id]) d.outcomes[id] = b;
  }
  return d;
}

export function ledgerOps(d: LedgerDiff, batch: number, at: number): DbOp[] {
  const ops: DbOp[] = [];
  const put = (prefix: string, rec: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(rec)) {
      ops.push(v === null ? { type: 'del', key: LEDGER_PREFIX + prefix + k } : { type: 'put', key: LEDGER_PREFIX + prefix + k, value: v });
    }
  };
  put('task/', d.tasks);
  put('worker/', d.workers);
  put('outcome/', d.outcomes);
  ops.push({ type: 'put', key: LEDGER_PREFIX + 'meta', value: { batch, updatedAt: at } });
  return ops;
}

/** Rebuild a ledger from `[key, value]` pairs read under `ledger/`. */
export function ledgerFromEntries(entries: Iterable<[string, unknown]>): Ledger {
  const l: Ledger = { batch: 0, tasks: {}, workers: {}, outcomes: {} };
  for (const [key, value] of entries) {
    if (!key.startsWith(LEDGER_PREFIX)) continue;
    const rest = key.slice(LEDGER_PREFIX.length);
    if (rest === 'meta') l.batch = (value as { batch?: number })?.batch ?? 0;
    else if (rest.startsWith('task/')) l.tasks[rest.slice(5)] = value as TaskRuntime;
    else if (rest.startsWith('worker/')) l.workers[rest.slice(7)] = value as WorkerRuntime;
    else if (rest.startsWith('outcome/')) l.outcomes[rest.slice(8)] = value as Outcome;
  }
  return l;
}

/**
 * Heartbeats are not history: drop task changes that only move a lease's expiry (and
 * `updatedAt`) by less than a quarter of its TTL from what the doc shows (`shown`).
 */
export function withoutHeartbeatNoise(d: LedgerDiff, shown: { get(taskId: string): unknown }): LedgerDiff {
  let tasks: Record<string, TaskRuntime | null> | undefined;
  for (const [id, rt] of Object.entries(d.tasks)) {
    if (!rt?.lease) continue;
    const cur = shown.get(id) as TaskRuntime | undefined;
    if (!cur?.lease) continue;
    if (Math.abs(rt.lease.expiresAt - cur.lease.expiresAt) >= rt.lease.ttlMs / 4) continue;
    const a = JSON.stringify({ ...rt, updatedAt: 0, lease: { ...rt.lease, expiresAt: 0 } });
    const b = JSON.stringify({ ...cur, updatedAt: 0, lease: { ...cur.lease, expiresAt: 0 } });
    if (a !== b) continue;
    tasks ??= { ...d.tasks };
    delete tasks[id];
  }
  return tasks ? { ...d, tasks } : d;
}

/**
 * Equal as JSON values (plain data: objects, arrays, strings, numbers, booleans, null), key
 * order aside; a field holding undefined counts as absent and an array item null, as in
 * JSON. No allocation: it replaced two JSON.stringify calls per entry written.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i] ?? null, bb[i] ?? null)) return false;
    return true;
  }
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  let nx = 0;
  for (const k in x) {
    if (!Object.hasOwn(x, k) || x[k] === undefined) continue;
    nx++;
    if (!Object.hasOwn(y, k) || !sameJson(x[k], y[k])) return false;
  }
  let ny = 0;
  for (const k in y) if (Object.hasOwn(y, k) && y[k] !== undefined) ny++;
  return nx === ny;
}

function setIfChanged(m: Y.Map<unknown>, k: string, v: unknown): void {
  const cur = m.get(k);
  if (cur === undefined || !sameJson(cur, v)) m.set(k, v);
}

/** Apply one batch to the ledger doc, in one transaction. */
export function applyToLedgerDoc(doc: Y.Doc, d: LedgerDiff, batch: number, at: number, events: AuditEvent[], pruneOutcomes: string[] = []): void {
  const tasks = doc.getMap<unknown>('tasks');
  const workers = doc.getMap<unknown>('workers');
  const outcomes = doc.getMap<unknown>('outcomes');
  const meta = doc.getMap<unknown>('meta');
  const recent = doc.getArray<unknown>('recent');
  doc.transact(() => {
    const apply = (m: Y.Map<unknown>, rec: Record<string, unknown>) => {
      for (const [k, v] of Object.entries(rec)) {
        if (v === null) {
          if (m.has(k)) m.delete(k);
        } else setIfChanged(m, k, v);
      }
    };
    apply(tasks, d.tasks);
    apply(workers, d.workers);
    apply(outcomes, d.outcomes);
    for (const id of pruneOutcomes) outcomes.delete(id);
    if (meta.get('batch') !== batch) {
      meta.set('batch', batch);
      meta.set('updatedAt', at);
    }
    if (events.length > 0) {
      const tail = events.slice(-RECENT_MAX);
      recent.push(tail);
      const over = recent.length - RECENT_MAX;
      if (over > 0) recent.delete(0, over);
    }
  }, ORIGIN.relay);
}

/**
 * Make the doc match the ledger exactly (start-up: LevelDB is the authority), except that
 * outcomes older than `outcomeCutoff` stay out of the doc (they remain in LevelDB).
 */
export function resetLedgerDoc(doc: Y.Doc, ledger: Ledger, at: number, outcomeCutoff = -Infinity): void {
  const sync = (m: Y.Map<unknown>, rec: Record<string, unknown>) => {
    for (const k of [...m.keys()]) if (!(k in rec)) m.delete(k);
    for (const [k, v] of Object.entries(rec)) setIfChanged(m, k, v);
  };
  doc.transact(() => {
    sync(doc.getMap('tasks'), ledger.tasks);
    sync(doc.getMap('workers'), ledger.workers);
    const shown: Record<string, Outcome> = {};
    for (const [id, o] of Object.entries(ledger.outcomes)) if (o.at > outcomeCutoff) shown[id] = o;
    sync(doc.getMap('outcomes'), shown);
    const meta = doc.getMap<unknown>('meta');
    if (meta.get('batch') !== ledger.batch) {
      meta.set('batch', ledger.batch);
      meta.set('updatedAt', at);
    }
    const recent = doc.getArray<unknown>('recent');
    if (recent.length > RECENT_MAX) recent.delete(0, recent.length - RECENT_MAX);
  }, ORIGIN.relay);
}

/** The ledger as clients are shown it: outcomes at or before `cutoff` left out. */
export function visibleLedger(ledger: Ledger, cutoff: number): Ledger {
  const outcomes: Ledger['outcomes'] = {};
  for (const [id, outcome] of Object.entries(ledger.outcomes)) if (outcome.at > cutoff) outcomes[id] = outcome;
  return { ...ledger, outcomes };
}
