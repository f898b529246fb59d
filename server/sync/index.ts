/**
 * Yjs documents of the relay: persistence (DocStore), the y-websocket endpoint
 * (attachSyncServer: admission, rooms, connections) and the ACL itself (pure).
 * See docs/ARCHITECTURE-relay-sync.md.
 */
export { DocStore, docKeyPrefix, docSnapKey, docUpdateKey, type DocStoreOptions } from './docstore.js';
export { attachSyncServer, MAX_AWARENESS_CLIENTS_PER_SOCKET, type SyncServer, type SyncServerOptions } from './server.js';
export { CLOSE, MESSAGE_SYNC, MESSAGE_AWARENESS, MESSAGE_AUTH, MESSAGE_QUERY_AWARENESS } from './messages.js';
export {
  BOARD_DOC,
  LEDGER_DOC,
  INBOX_PREFIX,
  inboxDoc,
  parseDocName,
  canRead,
  canWrite,
  writeRule,
  readRule,
  writeDeniedReason,
  readDeniedReason,
  type DocKind,
} from './acl.js';
