/**
 * The engine's public face: the arbiter, the board view and the ledger sync helpers.
 * Invariant: the relay wires these; feature modules reach them only through RelayPort.
 */
export { Engine, type EngineOptions, type ScheduleFn } from './engine.js';
export { ARCHIVE_PREFIX } from './batch-steps.js';
export { BoardView, type BoardDelta, type InvalidTask } from './board.js';
export { InboxWatcher, INBOX_PREFIX, type RejectedIntent } from './inboxes.js';
export { RECENT_MAX, type LedgerDiff } from './ledger-sync.js';
