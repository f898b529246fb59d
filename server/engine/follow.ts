/**
 * What a follower relay (several relays on one database, docs/SCALING.md) reads after the
 * arbiter committed batches: the ledger as stored, what changed since the ledger it had, and
 * the audit events written since the last one it saw, shaped as the arbiter's onBatch result
 * so event streams, statistics and reads work the same on every relay.
 *
 * Pure apart from the two reads; the store is the authority, so a follower that missed a
 * note loses nothing: the next read covers every batch since.
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
}

/** The stored ledger and what changed since `prev` (events: audit entries after `auditSeq`). */
export async function readFollowed(store: Store, audit: AuditLog, prev: Ledger, auditSeq: number): Promise<Followed> {
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
  // The ledger after the events: whatever was committed by then is at least as new.
  const ledger = await loadLedger(store);
  const diff = diffLedger(prev, ledger);
  const outcomes = Object.values(diff.outcomes).filter((o): o is Outcome => o !== null);
  return { ledger, diff, auditSeq: seq, result: { batch: ledger.batch, outcomes, events, tasks: diff.tasks } };
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
