/**
 * What the engine tells an observer (the relay's metrics, server/metrics) about each batch,
 * and its onBatch listeners (sync, SSE, GitHub) about each recorded or followed batch.
 *
 * Invariants: called after the batch is persisted, shown and answered, so an observer never
 * delays an answer; an observer must be cheap and must not throw (a throw is swallowed).
 */
import type { AuditEvent, Outcome } from '../../shared/model.js';
import type { BatchResult, Logger } from '../ports.js';
import type { RejectedIntent } from './inboxes.js';
import type { Pending } from './intake.js';
import type { LedgerDiff } from './ledger-diff.js';

export interface BatchObservation {
  /** The tick's duration (ms), from taking the intents to answering them. */
  ms: number;
  /** Intent id -> outcome for every intent of the batch, heartbeats included. */
  replies: ReadonlyMap<string, Outcome>;
  /** Inbox intents refused before arbitration, stored by this batch. */
  rejected: readonly RejectedIntent[];
  /** The batch's audited events (grants, expiries, ...). */
  events: readonly AuditEvent[];
  /** The batch's intents, with the time each was queued (performance.now()). */
  entries: readonly Pending[];
  /** When the answers went out (performance.now()). */
  answeredAt: number;
}

/** Where a batch failed: the scheduler threw, the store write failed, or recording threw. */
export type BatchFailure = 'schedule' | 'write' | 'record';

export interface EngineObserver {
  batch(o: BatchObservation): void;
  failed(stage: BatchFailure, intents: number): void;
}

/** Tell the observer, if any, of a recorded batch; its throw is swallowed (metrics never break a batch). */
export function observeBatch(observer: EngineObserver | undefined, o: BatchObservation): void {
  if (!observer) return;
  try {
    observer.batch(o);
  } catch {
    // see above
  }
}

/** Tell the observer, if any, that a batch failed at `stage`; its throw is swallowed. */
export function observeFailure(observer: EngineObserver | undefined, stage: BatchFailure, intents: number): void {
  if (!observer) return;
  try {
    observer.failed(stage, intents);
  } catch {
    // see above
  }
}

/** Tell every onBatch listener of a batch; one that throws is logged and the others still told. */
export function notifyListeners(listeners: Iterable<(r: BatchResult, diff: LedgerDiff) => void>, result: BatchResult, diff: LedgerDiff, log: Logger): void {
  for (const l of listeners) {
    try {
      l(result, diff);
    } catch (e) {
      log.warn('onBatch listener failed', { error: String(e) });
    }
  }
}
