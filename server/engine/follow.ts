/**
 * What a follower relay (several relays on one database, docs/SCALING.md) reads after the
 * arbiter committed batches: the ledger as stored, what changed since the ledger it had, and
 * the audit events written since the last one it saw, shaped as the arbiter's onBatch result
 * so event streams, statistics and reads work the same on every relay.
 *
 * Pure apart from the two reads; the store is the authority, so a follower that missed a
 * note loses nothing: the next read covers every batch since. With a LedgerFeed (several
 * relays on PostgreSQL) only the entries changed since the last read are read.
 */
import type { AuditEvent, Ledger, Outcome } from '../../shared/model.js';
import type { AuditLog } from '../audit/index.js';
import type { BatchResult } from '../ports.js';
import type { Store } from '../store/index.js';
import { diffLedger, ledgerFromEntries, LEDGER_PREFIX, type LedgerDiff } from './ledger-diff.js';

export async function loadLedger(store: Store): Promise<Ledger> {
  return ledgerFromEntries(await store.entries<unknown>(LEDGER_PREFIX));
}

export interface Followed {
  ledger: Ledger;
  result: BatchResult;
  diff: LedgerDiff;
  /** The last audit seq read. */
  auditSeq: number;
  /** The feed's cursor after this read (with a feed). */
  cursor?: number;
}

/**
 * Where a follower reads only what the arbiter changed (several relays on one database:
 * server/store/postgres-ledger-log.ts). `read(since)` gives the changed ledger entries after
 * the cursor `since`, decoded (undefined: deleted), and the new cursor; no `entries` (no
 * cursor yet, or the log does not reach back far enough): read the whole ledger.
 */
export interface LedgerFeed {
  read(since: number | undefined): Promise<{ cursor: number; entries?: Array<[string, unknown]> }>;
}

/**
 * `prev` with the changed entries applied, and what changed. An entry whose JSON is unchanged
 * keeps its object (a re-read is no change). Outcomes grow in place (the ledger's contract:
 * only its outcomes grow), so a batch costs what it changed, not the size of the history.
 */
export function applyLedgerEntries(prev: Ledger, entries: Iterable<[string, unknown]>): { ledger: Ledger; diff: LedgerDiff } {
  const diff: LedgerDiff = { tasks: {}, workers: {}, outcomes: {} };
  const next: Ledger = { batch: prev.batch, tasks: { ...prev.tasks }, workers: { ...prev.workers }, outcomes: prev.outcomes };
  const put = <T>(rec: Record<string, T>, out: Record<string, T | null>, id: string, value: unknown) => {
    const had = Object.hasOwn(rec, id) ? rec[id] : undefined;
    if (value === undefined) {
      if (had === undefined) return;
      delete rec[id];
      out[id] = null;
    } else if (had === undefined || JSON.stringify(had) !== JSON.stringify(value)) {
      rec[id] = value as T;
      out[id] = value as T;
    }
  };
  for (const [key, value] of entries) {
    if (!key.startsWith(LEDGER_PREFIX)) continue;
    const rest = key.slice(LEDGER_PREFIX.length);
    if (rest === 'meta') next.batch = (value as { batch?: number } | undefined)?.batch ?? next.batch;
    else if (rest.startsWith('task/')) put(next.tasks, diff.tasks, rest.slice(5), value);
    else if (rest.startsWith('worker/')) put(next.workers, diff.workers, rest.slice(7), value);
    else if (rest.startsWith('outcome/')) put(next.outcomes, diff.outcomes, rest.slice(8), value);
  }
  return { ledger: next, diff };
}

/**
 * The stored ledger and what changed since `prev` (events: audit entries after `auditSeq`).
 * With a feed: only the entries changed after `cursor`; else (or when the feed says so) all.
 */
export async function readFollowed(store: Store, audit: AuditLog, prev: Ledger, auditSeq: number, feed?: { feed: LedgerFeed; cursor: number | undefined }): Promise<Followed> {
  const events: AuditEvent[] = [];
  let seq = auditSeq;
  for (;;) {
    const page = await audit.query({ since: seq, limit: 1000 });
    for (const { seq: s, prevHash: _p, hash: _h, ...event } of page) {
      events.push(event);
      seq = s;
    }
    if (page.length < 1000) break;
  }
  // The ledger after the events: whatever was committed by then is at least as new. The
  // feed's cursor is taken before a whole read, so that read covers it.
  const changes = feed ? await feed.feed.read(feed.cursor) : undefined;
  const { ledger, diff } = changes?.entries ? applyLedgerEntries(prev, changes.entries) : wholeLedger(prev, await loadLedger(store));
  const outcomes = Object.values(diff.outcomes).filter((o): o is Outcome => o !== null);
  return { ledger, diff, auditSeq: seq, cursor: changes?.cursor, result: { batch: ledger.batch, outcomes, events, tasks: diff.tasks } };
}

function wholeLedger(prev: Ledger, ledger: Ledger): { ledger: Ledger; diff: LedgerDiff } {
  return { ledger, diff: diffLedger(prev, ledger) };
}

/** `fn` run at most once at a time; a call during a run asks for one more run after it. */
export function coalesced(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  let again = false;
  const run = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await fn();
      } while (again);
    })().finally(() => {
      running = undefined;
    });
    return running;
  };
  return run;
}

/** Whether a followed read found anything to tell listeners. */
export function changed(f: Followed): boolean {
  const d = f.diff;
  return f.result.events.length > 0 || Object.keys(d.tasks).length + Object.keys(d.workers).length + Object.keys(d.outcomes).length > 0;
}
