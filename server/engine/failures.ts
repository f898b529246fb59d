/**
 * The tick's failure paths: the scheduler threw, the store write failed, or recording threw
 * after arbitration. Each tells the callers, the log and the observer, and returns the next
 * backoff; the engine resets its own state (board reconcile, ledger document) around them.
 *
 * Invariants:
 * - Every waiter of a failed batch is answered exactly once (`internal`, or forwarded).
 * - Refused inbox intents of an unrecorded batch are put back for a later batch.
 * - Nothing here touches memory, the audit head or the documents: a failed batch leaves
 *   them as they were (the write is the commit point).
 */
import { OwpError } from '../../shared/errors.js';
import type { Intent, Outcome } from '../../shared/model.js';
import type { Logger } from '../ports.js';
import type { RejectedIntent } from './inboxes.js';
import { backoff, fail, forwardAll, schedulerFailed, type IntentQueue, type Pending } from './intake.js';
import { observeFailure, type EngineObserver } from './observer.js';

export interface FailureContext {
  log: Logger;
  observer?: EngineObserver;
  queue: IntentQueue;
  /** Set on a relay of several: a fenced write forwards the batch to the new arbiter. */
  forward?: (intent: Intent, ephemeral: boolean) => Promise<Outcome>;
}

/** The scheduler threw on the batch: its intents are isolated or refused. Returns the next backoff. */
export function onScheduleFailed(ctx: FailureContext, e: unknown, entries: Pending[], rejected: RejectedIntent[], backoffMs: number): number {
  ctx.log.error('scheduler failed on a batch', { intents: entries.length, error: String((e as Error)?.stack ?? e) });
  observeFailure(ctx.observer, 'schedule', entries.length);
  return schedulerFailed(ctx.queue, entries, rejected, backoffMs);
}

/**
 * The store write failed: nothing was changed. Deposed while deciding (`fenced`), the batch
 * goes to the next arbiter (ids make it once); otherwise its callers get `internal`.
 * Returns the next backoff.
 */
export function onWriteFailed(ctx: FailureContext, e: unknown, entries: Pending[], rejected: RejectedIntent[], backoffMs: number): number {
  if ((e as { code?: unknown }).code === 'fenced' && ctx.forward) {
    forwardAll(entries, ctx.forward);
    return backoffMs;
  }
  ctx.log.error('ledger write failed; batch dropped', { error: String(e) });
  observeFailure(ctx.observer, 'write', entries.length);
  ctx.queue.putBack(rejected);
  fail(entries, new OwpError('internal', 'The relay could not write to its database; nothing was changed. Retry.'));
  return backoff(backoffMs);
}

/**
 * A throw after the batch was taken (a bug) must not leave callers waiting or stop the
 * engine: every waiter gets `internal` (one answered keeps its answer), refusals are put
 * back, and `rebuild` makes the ledger document match the session's ledger again.
 * Returns the next backoff.
 */
export function onRecordFailed(ctx: FailureContext, e: unknown, entries: Pending[], rejected: RejectedIntent[], backoffMs: number, rebuild: () => void): number {
  ctx.log.error('batch failed after arbitration', { error: String((e as Error)?.stack ?? e) });
  observeFailure(ctx.observer, 'record', entries.length);
  // Refused inbox intents get their stored outcome in a later batch (skipped if stored).
  ctx.queue.putBack(rejected);
  fail(entries, new OwpError('internal', 'The relay failed while recording this batch; retry with the same intent id. The relay log has details.'));
  try {
    rebuild();
  } catch (again) {
    ctx.log.error('could not rebuild the ledger document', { error: String(again) });
  }
  return backoff(backoffMs);
}
