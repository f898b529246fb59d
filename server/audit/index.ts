/**
 * The audit log: an append-only, hash-chained record of every decision of the relay.
 *
 * Invariants:
 * - Entries live under `audit/<seq zero-padded to 12>`; seq starts at 1 and grows by one.
 * - `hash = sha256(prevHash + canonicalJson(entry without hash))`; the first entry's prevHash is
 *   64 zeros. `meta/audit-head` holds `{ seq, hash }` of the last entry, written in the same
 *   atomic batch, so a removed tail is detected too.
 * - `prepare` does no I/O and does not move the head: the engine puts the returned ops into its
 *   own atomic batch (ledger and audit written together) and calls `commit(entries)` only after
 *   that batch succeeded. A batch that failed leaves the head where it was.
 * - `verify` reads every entry in key order and reports the first seq where the chain breaks
 *   (edited, removed, inserted or reordered entries).
 * - Index keys `audit-idx/task|worker/<id>/<seq>` are written in the same batch so queries by
 *   task or worker do not scan the log; they are a lookup aid, never trusted: every entry found
 *   through them is read from `audit/` and filtered again.
 */
import { hash as cryptoHash } from 'node:crypto';
import type { AuditEvent } from '../../shared/model.js';
import { decodeJson, prefixRange, type Store, type StoreOp } from '../store/index.js';

export const AUDIT_PREFIX = 'audit/';
export const AUDIT_HEAD_KEY = 'meta/audit-head';
export const GENESIS_HASH = '0'.repeat(64);
const SEQ_WIDTH = 12;

export interface AuditEntry extends AuditEvent {
  seq: number;
  prevHash: string;
  hash: string;
}

export interface AuditQuery {
  task?: string;
  worker?: string;
  /** Only entries with seq greater than this (resume after the last seq you saw). */
  since?: number;
  /** Only entries with `at` >= this time (ms). */
  sinceAt?: number;
  /** At most this many (default 100, at most 1000). Without `since`: the newest ones. */
  limit?: number;
}

export interface AuditVerifyResult {
  ok: boolean;
  entries: number;
  /** The seq (position, 1-based) of the first entry that does not fit the chain. */
  brokenAt?: number;
  reason?: string;
}

const pad = (seq: number) => String(seq).padStart(SEQ_WIDTH, '0');

export function auditKey(seq: number): string {
  return AUDIT_PREFIX + pad(seq);
}

/** Index keys (not part of the chain; value = seq): `audit-idx/task/<enc id>/<seq>`, `audit-idx/worker/<enc id>/<seq>`. */
export const AUDIT_INDEX_PREFIX = 'audit-idx/';
/** Percent-encoded, never throwing: a lone surrogate (refused by the model) would become U+FFFD. */
const keyPart = (s: string) => encodeURIComponent(s.replace(/[\uD800-\uDFFF]/g, (c, i: number) => (c <= '\uDBFF' ? (/[\uDC00-\uDFFF]/.test(s[i + 1] ?? '') ? c : '\uFFFD') : /[\uD800-\uDBFF]/.test(s[i - 1] ?? '') ? c : '\uFFFD')));
const taskIndexPrefix = (taskId: string) => `${AUDIT_INDEX_PREFIX}task/${keyPart(taskId)}/`;
const workerIndexPrefix = (workerId: string) => `${AUDIT_INDEX_PREFIX}worker/${keyPart(workerId)}/`;

/** JSON with object keys sorted and undefined fields dropped: the same entry always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return '[' + value.map((v) => canonicalJson(v === undefined ? null : v)).join(',') + ']';
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalJson(obj[k])).join(',') + '}';
}

export function hashEntry(entry: Omit<AuditEntry, 'hash'> | AuditEntry): string {
  const { hash: _drop, ...rest } = entry as AuditEntry;
  return sha256Hex(entry.prevHash + canonicalJson(rest));
}

const EVENT_FIELDS = ['kind', 'at', 'batch', 'actor', 'taskId', 'workerId', 'intentId', 'from', 'to', 'code', 'reason', 'fencingToken', 'before', 'after', 'repo'] as const;
/** Every field an entry `prepare` builds may have, in canonicalJson's (sorted) order, with its JSON key text. */
const ENTRY_FIELDS = [...EVENT_FIELDS, 'seq', 'prevHash']
  .sort()
  .map((k) => [k, JSON.stringify(k) + ':'] as const);

/**
 * hashEntry for an entry `prepare` built (only ENTRY_FIELDS): the same canonical text, written
 * in one pass over the known fields instead of copying, filtering and sorting its keys. Also
 * returns the entry's stored value: that text with `hash` added (the same JSON value as the
 * entry, keys in another order), so the entry is not encoded a second time for the store.
 */
function hashPrepared(entry: Record<string, unknown>): { hash: string; stored: Uint8Array } {
  let text = '{';
  for (const [k, key] of ENTRY_FIELDS) {
    const v = entry[k];
    if (v === undefined) continue;
    if (text.length > 1) text += ',';
    text += key + canonicalJson(v);
  }
  const hash = sha256Hex((entry.prevHash as string) + text + '}');
  return { hash, stored: Buffer.from(`${text},"hash":"${hash}"}`, 'utf8') };
}

/** One-shot hashing (Node >= 20.12; package.json asks >= 20.19): cheaper than createHash().update().digest() for short texts. */
const sha256Hex = (text: string): string => cryptoHash('sha256', text, 'hex');

export class AuditLog {
  private headSeq = 0;
  private headHash = GENESIS_HASH;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(private readonly store: Store) {}

  static async open(store: Store): Promise<AuditLog> {
    const log = new AuditLog(store);
    await log.reload();
    return log;
  }

  /** Read the head from the store again (a relay taking over from another arbiter). */
  async reload(): Promise<void> {
    const head = await this.store.get<{ seq: number; hash: string }>(AUDIT_HEAD_KEY);
    if (head) {
      this.headSeq = head.seq;
      this.headHash = head.hash;
    } else {
      const [last] = await this.store.entries<AuditEntry>(AUDIT_PREFIX, { reverse: true, limit: 1 });
      if (last) {
        this.headSeq = last[1].seq;
        this.headHash = last[1].hash;
      }
    }
  }

  head(): { seq: number; hash: string } {
    return { seq: this.headSeq, hash: this.headHash };
  }

  /** The store ops and entries for these events, chained after the current head. No I/O. */
  prepare(events: AuditEvent[]): { ops: StoreOp[]; entries: AuditEntry[] } {
    const entries: AuditEntry[] = [];
    const stored: Uint8Array[] = [];
    let seq = this.headSeq;
    let prevHash = this.headHash;
    for (const ev of events) {
      seq += 1;
      const base: Record<string, unknown> = { seq, prevHash };
      for (const f of EVENT_FIELDS) if (ev[f] !== undefined) base[f] = ev[f];
      const h = hashPrepared(base);
      const entry = Object.assign(base, { hash: h.hash }) as unknown as AuditEntry;
      entries.push(entry);
      stored.push(h.stored);
      prevHash = entry.hash;
    }
    const ops: StoreOp[] = [];
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      ops.push({ type: 'put', key: auditKey(e.seq), value: stored[i], encoding: 'binary' });
      if (e.taskId !== undefined) ops.push({ type: 'put', key: taskIndexPrefix(e.taskId) + pad(e.seq), value: e.seq });
      if (e.workerId !== undefined) ops.push({ type: 'put', key: workerIndexPrefix(e.workerId) + pad(e.seq), value: e.seq });
    }
    if (entries.length > 0) ops.push({ type: 'put', key: AUDIT_HEAD_KEY, value: { seq, hash: prevHash } });
    return { ops, entries };
  }

  /** Advance the head after the batch holding `prepare`'s ops was written. */
  commit(entries: AuditEntry[]): void {
    if (entries.length === 0) return;
    if (entries[0].seq !== this.headSeq + 1 || entries[0].prevHash !== this.headHash) {
      throw new Error(`audit commit out of order: head is ${this.headSeq}, entries start at ${entries[0].seq}`);
    }
    const last = entries[entries.length - 1];
    this.headSeq = last.seq;
    this.headHash = last.hash;
  }

  /**
   * Run `fn` as the log's only writer: each prepare..commit (the engine's batches, `append`)
   * runs inside one of these, one at a time, so two writers never chain from the same head.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  /**
   * The engine's write: `ops` (the ledger's) and the events' entries in ONE atomic store batch,
   * serialised. The head moves only after it succeeded; a failed store batch resolves with
   * `{ error }` and leaves the head where it was (a throw before the write rejects).
   */
  appendWith(events: AuditEvent[], ops: readonly StoreOp[]): Promise<{ error?: unknown; before?: { seq: number; hash: string }; entries?: readonly AuditEntry[] }> {
    return this.exclusive(async () => {
      const before = this.head();
      const prepared = this.prepare(events);
      try {
        await this.store.batch([...ops, ...prepared.ops]);
      } catch (error) {
        return { error: error ?? new Error('store batch failed') };
      }
      this.commit(prepared.entries);
      return { before, entries: prepared.entries };
    });
  }

  /** Write events on their own (prepare + batch + commit), serialised. For callers without a batch. */
  append(events: AuditEvent[]): Promise<AuditEntry[]> {
    return this.exclusive(async () => {
      const { ops, entries } = this.prepare(events);
      await this.store.batch(ops);
      this.commit(entries);
      return entries;
    });
  }

  async query(q: AuditQuery = {}): Promise<AuditEntry[]> {
    const limit = Math.max(1, Math.min(1000, Math.floor(q.limit ?? 100)));
    const match = (e: AuditEntry) =>
      (q.task === undefined || e.taskId === q.task) &&
      (q.worker === undefined || e.workerId === q.worker) &&
      (q.sinceAt === undefined || e.at >= q.sinceAt);
    const since = q.since === undefined ? undefined : Math.max(0, Math.floor(q.since));
    // Walk the task or worker index when there is one, else the log itself. With `since`,
    // forwards from there (oldest first); without, backwards from the end (newest window).
    const prefix = q.task !== undefined ? taskIndexPrefix(q.task) : q.worker !== undefined ? workerIndexPrefix(q.worker) : AUDIT_PREFIX;
    const viaIndex = prefix !== AUDIT_PREFIX;
    const range = prefixRange(prefix, { gte: since === undefined ? undefined : prefix + pad(since + 1), reverse: since === undefined });
    const out: AuditEntry[] = [];
    for await (const [, v] of this.store.iterate<unknown>(range)) {
      const e = viaIndex ? await this.store.get<AuditEntry>(auditKey(v as number)) : (v as AuditEntry);
      if (e && match(e)) out.push(e);
      if (out.length >= limit) break;
    }
    return since === undefined ? out.reverse() : out;
  }

  async verify(): Promise<AuditVerifyResult> {
    let expectSeq = 1;
    let prevHash = GENESIS_HASH;
    let count = 0;
    const broken = (brokenAt: number, reason: string): AuditVerifyResult => ({ ok: false, entries: count, brokenAt, reason });
    for await (const [key, bytes] of this.store.iterate<Uint8Array>(prefixRange(AUDIT_PREFIX), 'binary')) {
      let e: AuditEntry;
      try {
        e = decodeJson<AuditEntry>(key, bytes);
      } catch {
        return broken(expectSeq, `${key} is not JSON`);
      }
      if (!e || typeof e !== 'object') return broken(expectSeq, `${key} is not an audit entry`);
      if (key !== auditKey(expectSeq)) return broken(expectSeq, `expected ${auditKey(expectSeq)}, found ${key} (an entry was removed or inserted)`);
      if (e.seq !== expectSeq) return broken(expectSeq, `${key} holds seq ${e.seq} (entries were moved or reordered)`);
      if (e.prevHash !== prevHash) return broken(expectSeq, `${key} does not follow the entry before it`);
      if (hashEntry(e) !== e.hash) return broken(expectSeq, `${key} was edited (its hash does not match its content)`);
      prevHash = e.hash;
      count += 1;
      expectSeq += 1;
    }
    const head = await this.store.get<{ seq: number; hash: string }>(AUDIT_HEAD_KEY);
    if (head && (head.seq !== count || head.hash !== prevHash)) {
      return broken(Math.min(head.seq, count + 1), `the log ends at seq ${count} but the head says ${head.seq} (entries were removed from the end)`);
    }
    if (!head && count > 0) return broken(count, 'the audit head record is missing');
    return { ok: true, entries: count };
  }
}

export async function openAuditLog(store: Store): Promise<AuditLog> {
  return AuditLog.open(store);
}
