/**
 * What the engine tells an observer (the relay's metrics, server/metrics) about each batch.
 *
 * Invariants: called after the batch is persisted, shown and answered, so an observer never
 * delays an answer; an observer must be cheap and must not throw (a throw is swallowed).
 */
import type { AuditEvent, Outcome } from '../../shared/model.js';
import type { RejectedIntent } from './inboxes.js';
import type { Pending } from './intake.js';

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

/** Tell the observer, if any; its throw is swallowed (metrics never break a batch). */
export function tell(observer: EngineObserver | undefined, f: (o: EngineObserver) => void): void {
  if (!observer) return;
  try {
    f(observer);
  } catch {
    // see above
  }
}
