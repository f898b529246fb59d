/**
 * StatsLoader: the stats index (./index.ts) opened once the relay serves, not before
 * (issue 16: restoring its checkpoint, 14.8 MB after 100,000 lifecycles, was the largest
 * piece of a cold start's CPU). The requests that read it (`/api/stats`, `/api/credits`,
 * `/api/reviews`) wait for it (`loaded()`); nothing else does.
 *
 * Invariants:
 * - The index is read up to the audit entry the engine started from (`until`, given by the
 *   caller); every batch the engine reports from then on is folded exactly once, in order:
 *   those reported before the index is open wait in a queue and are folded when it opens.
 *   With several relays the caller awaits `load` before the engine opens (nothing waits).
 * - `then` of a batch runs once its facts are known (at once when the index is open).
 * - A failed open is logged; the routes then answer `internal` with what to do.
 */
import { OwpError } from '../../shared/errors.js';
import type { AuditEvent } from '../../shared/model.js';
import type { Fact } from '../../shared/stats/facts.js';
import type { Logger } from '../ports.js';
import type { StatsIndex } from './index.js';

interface Queued {
  events: readonly AuditEvent[];
  upTo?: { seq: number; hash: string };
  then?: (facts: Fact[], index: StatsIndex) => void;
}

export class StatsLoader {
  private index: StatsIndex | undefined;
  private queued: Queued[] = [];
  private opening: Promise<StatsIndex> | undefined;
  private readonly loadedListeners: ((index: StatsIndex) => void)[] = [];

  constructor(private readonly log: Logger) {}

  /** Open the index (once); resolves when it is open and every queued batch is folded. */
  load(open: () => Promise<StatsIndex>): Promise<StatsIndex> {
    this.opening ??= open().then(
      (index) => {
        for (const q of this.queued) this.fold(index, q);
        this.queued = [];
        this.index = index;
        for (const l of this.loadedListeners.splice(0)) l(index);
        return index;
      },
      (e: unknown) => {
        this.queued = [];
        this.log.error('the stats index could not be opened: /api/stats, /api/credits and /api/reviews answer internal until a restart', { error: String(e) });
        throw e;
      },
    );
    this.opening.catch(() => undefined);
    return this.opening;
  }

  /** Called once the index is open (after the queued batches are folded). */
  onLoaded(listener: (index: StatsIndex) => void): void {
    if (this.index) listener(this.index);
    else this.loadedListeners.push(listener);
  }

  /** Fold a batch's events (`upTo`: the audit entry of its last event), now or once the index is open. */
  ingest(events: readonly AuditEvent[], upTo: { seq: number; hash: string } | undefined, then?: (facts: Fact[], index: StatsIndex) => void): void {
    if (this.index) this.fold(this.index, { events, upTo, then });
    else this.queued.push({ events, upTo, then });
  }

  private fold(index: StatsIndex, q: Queued): void {
    const facts = index.ingest(q.events, q.upTo);
    q.then?.(facts, index);
  }

  /** The index for a request: waits while it opens. */
  async loaded(): Promise<StatsIndex> {
    if (this.index) return this.index;
    if (!this.opening) throw new OwpError('starting', 'The success figures are not loaded yet; retry in a moment.');
    try {
      return await this.opening;
    } catch {
      throw new OwpError('internal', "The success figures could not be loaded (the relay's log says why); restart the relay.");
    }
  }

  /** Resolves once an open in flight has ended (a stop waits for it before closing the store). */
  async settled(): Promise<StatsIndex | undefined> {
    return this.opening?.catch(() => undefined);
  }
}
