/** What the engine (./engine.ts) is opened with: its store, documents, rules and timings. */
import type * as Y from 'yjs';
import type { Intent, Ledger, Outcome } from '../../shared/model.js';
import type { ScheduleFn, ScheduleRules } from '../../shared/scheduler/index.js';
import type { AuditLog } from '../audit/index.js';
import type { Logger } from '../ports.js';
import type { Store } from '../store/index.js';
import type { BoardView } from './board.js';
import type { LedgerFeed } from './follow.js';
import type { EngineObserver } from './observer.js';

export interface EngineOptions {
  store: Store;
  /** The ledger as the relay already started reading it from `store` (beside other start work); else read at open. */
  ledger?: Promise<Ledger>;
  audit: AuditLog;
  board: BoardView;
  ledgerDoc: Y.Doc;
  /** Relay configuration the scheduler's rules depend on (the GitHub host of PR links). */
  rules?: ScheduleRules;
  /** A plain scheduler to use instead of the session's incremental one (tests inject faults). */
  schedule?: ScheduleFn;
  now: () => number;
  log: Logger;
  /** Wait this long after the first intent of a batch before arbitrating (default 0: group commit, see Engine.kick). */
  tickMs?: number;
  /** Finished tasks older than this leave the live documents (default 7 days). */
  retentionMs?: number;
  /** How often the sweeper looks for expired leases (default 250 ms). */
  sweepMs?: number;
  /** How often the sweeper looks for tasks to archive (default 60 s). */
  archiveEveryMs?: number;
  /** At most this many finished tasks leave the live state per batch (default plan.ts ARCHIVE_SLICE). */
  archiveSlice?: number;
  /**
   * An archive sweep ended (nothing more due) after taking `removed` tasks and outcomes out of
   * the live documents: the relay has them checked for rotation (their garbage may now be
   * most of them, and a pool that goes quiet writes nothing that would trigger the check).
   */
  onSweepDone?: (removed: number) => void;
  /** Told of every batch, recorded or failed (the relay's metrics). */
  observer?: EngineObserver;
  /**
   * Several relays on one database: start as a follower that forwards every intent through
   * this (answered once the arbiter committed it); `activate()` makes this engine the arbiter.
   */
  forward?: (intent: Intent, ephemeral: boolean) => Promise<Outcome>;
  /** A follower reads only the ledger entries changed since its last read here (else the whole ledger each time). */
  ledgerFeed?: LedgerFeed;
}
