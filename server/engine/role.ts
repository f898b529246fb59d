/**
 * The engine's role when several relays share one database (docs/SCALING.md): the arbiter
 * ticks, a follower forwards intents and follows the store (follow.ts). activate() and
 * deactivate() switch roles; takeCharge() makes the ledger document and board match the
 * store when this engine becomes (or starts as) the arbiter.
 *
 * The engine keeps its own state; it hands this module closures over it (RoleHost).
 */
import type { Ledger } from '../../shared/model.js';
import type { BatchResult } from '../ports.js';
import { changed, coalesced, loadLedger, readFollowed } from './follow.js';
import { resetLedgerDoc, type LedgerDiff } from './ledger-diff.js';
import type { EngineOptions } from './options.js';
import { archivedOnBoard } from './plan.js';

/** What the role code needs of its engine. */
export interface RoleHost {
  readonly opts: EngineOptions;
  readonly retentionMs: number;
  ledger(): Ledger;
  /** A new scheduler session over this ledger (wholeBoard: the next batch reconciles the whole board). */
  resetSession(ledger: Ledger, wholeBoard: boolean): void;
  /** Taken charge: lease expiry bound, archive check due, sweeper started. */
  startDuties(): void;
  /** Sweeper and tick timer stopped; resolves once the tick in flight ended. */
  stopDuties(): Promise<void>;
  /** Everything queued forwarded to the arbiter. */
  forwardQueued(): void;
  /** Activated: inboxes read again, a tick kicked. */
  resume(): void;
  notify(result: BatchResult, diff: LedgerDiff): void;
  stopping(): boolean;
}

export class Role {
  /** Whether this engine arbitrates (a single relay's always does). */
  active: boolean;
  /** Follower: the last audit seq shown to listeners. */
  private followedSeq = 0;
  /** Follower: the ledger feed's cursor (undefined: the next follow reads the whole ledger). */
  private feedCursor: number | undefined;

  constructor(private readonly host: RoleHost) {
    this.active = !host.opts.forward;
  }

  /** At open: the audit head is where following starts; the arbiter takes charge. */
  async start(): Promise<void> {
    this.followedSeq = this.host.opts.audit.head().seq;
    if (this.active) await this.takeCharge();
  }

  /** The ledger document and board made to match the store; the sweeper started. */
  private async takeCharge(): Promise<void> {
    const { ledgerDoc, board, store, now } = this.host.opts;
    const ledger = this.host.ledger();
    resetLedgerDoc(ledgerDoc, ledger, now(), now() - this.host.retentionMs);
    board.removeTasks(await archivedOnBoard(store, board, ledger));
    this.host.startDuties();
  }

  /** Become the arbiter (elected): ledger and audit head read from the store, inboxes read again. */
  async activate(): Promise<void> {
    if (this.active || this.host.stopping()) return;
    const { audit, store } = this.host.opts;
    await audit.reload();
    this.host.resetSession(await loadLedger(store), true);
    this.followedSeq = audit.head().seq;
    this.feedCursor = undefined;
    this.active = true;
    await this.takeCharge();
    this.host.resume();
  }

  /** Stop arbitrating (deposed): the tick in flight ends (its write is fenced), what is queued is forwarded. */
  async deactivate(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    await this.host.stopDuties();
    this.host.forwardQueued();
  }

  /** Follower: read what the arbiter committed since (coalesced) and tell the listeners. */
  readonly follow = coalesced(async () => {
    const { store, audit, ledgerFeed } = this.host.opts;
    const feed = ledgerFeed && { feed: ledgerFeed, cursor: this.feedCursor };
    const f = this.active ? undefined : await readFollowed(store, audit, this.host.ledger(), this.followedSeq, feed);
    if (!f || this.active) return;
    this.host.resetSession(f.ledger, false);
    this.followedSeq = f.auditSeq;
    this.feedCursor = f.cursor;
    if (changed(f)) this.host.notify(f.result, f.diff);
  });
}
