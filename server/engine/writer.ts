/**
 * The engine's writer (group commit across pipelined batches): one store write in flight at a
 * time; the batches decided while it is in flight wait and are then written together, in
 * batch order, in ONE atomic write (their ledger ops in order, then the audit entries of all
 * their events, chained in order: the same end state as writing them one by one, with one
 * fsync). server/engine/batch.ts hands each batch in with the epoch it was decided in.
 *
 * Invariants:
 * - Writes never overlap and happen in the order batches were handed in (a later batch's
 *   ops may overwrite an earlier one's keys, and the audit chain runs in that order).
 * - Each batch written is told its own audit position (the chain's head right after its last
 *   entry), also when written together with later batches: what the stats index's checkpoint
 *   may claim to have folded once it folded this batch (server/relay.ts).
 * - A failed write fails every batch in it and every batch of that epoch or older handed in
 *   later (they were decided on a state that is not on disk): none of them is written. The
 *   engine then rolls back and moves to a new epoch.
 */
import type { AuditEvent } from '../../shared/model.js';
import type { StoreOp } from '../store/index.js';

/** An audit chain position: the seq and hash of its last entry. */
export interface AuditPosition {
  seq: number;
  hash: string;
}

/** A write's result: written (with the batch's audit position), or failed (`thrown`: it threw before writing, a bug). */
export type Written = { error?: undefined; audit?: AuditPosition } | { error: unknown; thrown?: boolean };

/** What AuditLog.appendWith answers: the head before the write and the entries written, or an error. */
type Appended = { error?: unknown; before?: AuditPosition; entries?: readonly { seq: number; hash: string }[] };

interface Waiting {
  epoch: number;
  events: AuditEvent[];
  ops: StoreOp[];
  done: (w: Written) => void;
}

export class GroupWriter {
  private writing = false;
  private waiting: Waiting[] = [];
  /** The newest epoch a write failed in, and its result. */
  private failed: { epoch: number; result: Written } | undefined;
  /** Batches written, and writes made (for /api/status: batches per write). */
  readonly stats = { batches: 0, writes: 0 };

  /** `append`: AuditLog.appendWith (one atomic store batch: ops, then the events' audit entries). */
  constructor(private readonly append: (events: AuditEvent[], ops: readonly StoreOp[]) => Promise<Appended>) {}

  /** Write one batch's events and ops after every batch handed in before it; resolves with the write's result. */
  write(epoch: number, events: AuditEvent[], ops: StoreOp[]): Promise<Written> {
    if (this.failed && epoch <= this.failed.epoch) return Promise.resolve(this.failed.result);
    return new Promise<Written>((done) => {
      this.waiting.push({ epoch, events, ops, done });
      this.pump();
    });
  }

  private pump(): void {
    if (this.writing || this.waiting.length === 0) return;
    const group = this.waiting;
    this.waiting = [];
    this.writing = true;
    const events = group.length === 1 ? group[0]!.events : group.flatMap((g) => g.events);
    const ops = group.length === 1 ? group[0]!.ops : group.flatMap((g) => g.ops);
    void this.append(events, ops)
      .then(
        (r): Appended & { thrown?: boolean } => r,
        (error: unknown): Appended & { thrown?: boolean } => ({ error, thrown: true }),
      )
      .then((appended) => {
        const result: Written = appended.error !== undefined ? { error: appended.error, thrown: appended.thrown } : {};
        this.writing = false;
        this.stats.writes += 1;
        this.stats.batches += group.length;
        if (result.error !== undefined) {
          const epoch = Math.max(...group.map((g) => g.epoch));
          this.failed = { epoch, result };
          const behind = this.waiting.filter((w) => w.epoch <= epoch);
          this.waiting = this.waiting.filter((w) => w.epoch > epoch);
          for (const w of [...group, ...behind]) w.done(result);
        } else {
          // Each batch's position: the entry its last event became, else the one before it.
          let at = appended.before;
          let n = 0;
          for (const g of group) {
            n += g.events.length;
            const last = n > 0 ? appended.entries?.[n - 1] : undefined;
            if (last && g.events.length > 0) at = { seq: last.seq, hash: last.hash };
            g.done(at ? { audit: at } : {});
          }
        }
        this.pump();
      });
  }
}
