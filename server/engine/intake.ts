/**
 * The engine's intake: intents waiting for the next batch and the callers waiting for
 * their outcomes, inbox refusals waiting to be stored, and intents being retried alone.
 *
 * Invariants:
 * - One entry per intent id: the same id submitted again by the same sender joins the
 *   waiters of the first; by another sender it is refused (`conflict`): ids are scoped.
 * - A refusal is queued once per id; one whose id is already queued is dropped.
 * - take() hands out either one isolated intent (retried alone) or everything queued.
 * - Every waiter is answered exactly once (answer or fail).
 */
import { OwpError } from '../../shared/errors.js';
import type { Intent, Outcome } from '../../shared/model.js';
import type { RejectedIntent } from './inboxes.js';

export interface Waiter {
  resolve: (o: Outcome) => void;
  reject: (e: unknown) => void;
}

export interface Pending {
  intent: Intent;
  /** A heartbeat: arbitrated, but neither stored as an outcome nor audited. */
  ephemeral: boolean;
  /** performance.now() when it was queued (for the relay-side latency figures). */
  queuedAt: number;
  waiters: Waiter[];
}

/** The next delay after a failure: doubles from 100 ms up to 5 s (0 means no failure). */
export function backoff(previousMs: number): number {
  return Math.min(5000, Math.max(100, previousMs * 2));
}

/** The refusal for an intent id another sender already used (its outcome stays theirs). */
export function intentIdTaken(id: string): OwpError {
  return new OwpError('conflict', `The intent id ${id} was already used by another sender; send this intent again with a fresh id (a new UUID).`, 'intentId');
}

export class IntentQueue {
  private readonly pending = new Map<string, Pending>();
  private readonly refused = new Map<string, RejectedIntent>();
  /** Intents of a batch the scheduler threw on, retried one per batch to isolate the cause. */
  private readonly solo: Pending[] = [];

  /** Queue an intent; resolves with its outcome once its batch is persisted and shown. */
  add(intent: Intent, ephemeral: boolean): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      const p = this.pending.get(intent.id);
      if (p && p.intent.workerId !== intent.workerId) reject(intentIdTaken(intent.id));
      else if (p) p.waiters.push({ resolve, reject });
      else this.pending.set(intent.id, { intent, ephemeral, queuedAt: performance.now(), waiters: [{ resolve, reject }] });
    });
  }

  refuse(r: RejectedIntent): void {
    if (!this.refused.has(r.id)) this.refused.set(r.id, r);
  }

  /** Intents and refusals waiting for the next batch. */
  size(): number {
    return this.pending.size + this.refused.size;
  }

  /** Who sent the intent (or refusal) with this id that waits for a batch, if any. */
  senderOf(id: string): string | undefined {
    return this.pending.get(id)?.intent.workerId ?? this.refused.get(id)?.workerId ?? this.solo.find((p) => p.intent.id === id)?.intent.workerId;
  }

  /** Whether a batch has something to do. */
  hasWork(): boolean {
    return this.pending.size > 0 || this.refused.size > 0 || this.solo.length > 0;
  }

  /** Whether an intent or refusal is queued for a batch (not the solo retries). */
  hasQueued(): boolean {
    return this.pending.size > 0 || this.refused.size > 0;
  }

  /** The next batch's intents (one isolated retry first) and every queued refusal. */
  take(): { entries: Pending[]; rejected: RejectedIntent[] } {
    let entries: Pending[];
    if (this.solo.length > 0) entries = [this.solo.shift()!];
    else {
      entries = [...this.pending.values()];
      this.pending.clear();
    }
    const rejected = [...this.refused.values()];
    this.refused.clear();
    return { entries, rejected };
  }

  /** Refusals of a batch that was not recorded: stored by a later batch. */
  putBack(rejected: readonly RejectedIntent[]): void {
    const later = [...this.refused.values()];
    this.refused.clear();
    for (const r of [...rejected, ...later]) this.refuse(r);
  }

  /** Retry these intents one per batch (the scheduler threw on their batch). */
  isolate(entries: readonly Pending[]): void {
    this.solo.push(...entries);
  }
}

/** Answer every waiter of `entries` from `outcomes`; one without an outcome gets `missing(id)`. */
export function answer(entries: readonly Pending[], outcomes: ReadonlyMap<string, Outcome>, missing: (intentId: string) => unknown): void {
  for (const p of entries) {
    const out = outcomes.get(p.intent.id);
    for (const w of p.waiters) {
      if (out) w.resolve(out);
      else w.reject(missing(p.intent.id));
    }
  }
}

export function fail(entries: readonly Pending[], error: unknown): void {
  for (const p of entries) for (const w of p.waiters) w.reject(error);
}

/**
 * The scheduler threw on a batch. One bad intent must not block the others: several are
 * retried one per batch; one alone gets `internal`, stored as its outcome (an inbox intent
 * is not retried forever); with none the state itself trips the scheduler: back off, keep
 * the relay up. Returns the next backoff.
 */
export function schedulerFailed(queue: IntentQueue, entries: Pending[], rejected: RejectedIntent[], backoffMs: number): number {
  queue.putBack(rejected);
  if (entries.length > 1) {
    queue.isolate(entries);
    return backoffMs;
  }
  const p = entries[0];
  if (!p) return backoff(backoffMs);
  const message = `The scheduler failed on intent ${p.intent.id}; it was not applied. The relay log has details; report it.`;
  fail([p], new OwpError('internal', message));
  if (!p.ephemeral) queue.refuse({ id: p.intent.id, workerId: p.intent.workerId, kind: p.intent.kind, code: 'internal', message });
  return backoffMs;
}

/** Hand these intents to the arbiter (a relay that stopped arbitrating); their waiters get its answers. */
export function forwardAll(entries: readonly Pending[], forward: (intent: Intent, ephemeral: boolean) => Promise<Outcome>): void {
  for (const p of entries) {
    const sent = forward(p.intent, p.ephemeral);
    for (const w of p.waiters) sent.then(w.resolve, w.reject);
  }
}

/**
 * Run `tick` after `delayMs`; returns its cancel. 0 is group commit: on the next turn of the
 * event loop (an intent on an idle relay is arbitrated at once, with whatever else arrived in
 * that turn), and the engine kicks again as soon as a tick ends, so intents that arrived while
 * it persisted form the next batch. A delay gathers intents that long first.
 */
export function tickAfter(delayMs: number, tick: () => void): () => void {
  if (delayMs <= 0) {
    const i = setImmediate(tick);
    return () => clearImmediate(i);
  }
  const t = setTimeout(tick, delayMs);
  return () => clearTimeout(t);
}
