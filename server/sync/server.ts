/**
 * The relay's y-websocket endpoint, `/yjs/<docName>`: y-protocols sync and awareness with
 * per-document read and write control. Three parts, wired here:
 * - admission (./admission.ts): token, brake, document, read right and per-token cap,
 *   decided before any document byte is sent;
 * - rooms (./rooms.ts): one per document, applying what a peer may write, persisting before
 *   broadcasting, relaying awareness and reading heartbeats out of it;
 * - connections (./connections.ts): the sockets, their ordered message loop, size limits,
 *   per-token message throttling (server/ratelimit), pings, and the bound on what a slow
 *   socket may hold unsent.
 *
 * Invariants: revoking a token closes its sockets at once (4410); `close()` closes every
 * socket (1001) and stops accepting. Close codes: shared/protocol.ts `CLOSE`. Every
 * refused upgrade is logged (warn) with its close code and stable reason code, every
 * accepted one (info) with its document and role; never a token.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type * as awarenessProtocol from 'y-protocols/awareness';
import { CLOSE, PROTOCOL_HEADER, PROTOCOL_VERSION, YJS_PATH } from '../../shared/protocol.js';
import { AuthGuard } from '../auth/guard.js';
import { protocolFromRequest, tokenFromRequest, type TokenStore } from '../auth/index.js';
import { socketAddress, type AddressOf } from '../http/client-address.js';
import type { Logger, Principal } from '../ports.js';
import { DEFAULT_AUTH_FAILURE_RATE, DEFAULT_SOCKET_MESSAGE_RATE, RateLimiter, type RateLimitOptions } from '../ratelimit/index.js';
import { admit } from './admission.js';
import { heartbeatOf, type LeaseHeartbeat } from './awareness.js';
import { Connections } from './connections.js';
import type { DocStore } from './docstore.js';
import { Rooms } from './rooms.js';

export { CLOSE } from './messages.js';
export { MAX_AWARENESS_CLIENTS_PER_SOCKET } from './rooms.js';

export interface SyncServerOptions {
  docs: DocStore;
  tokens: TokenStore;
  /** URL path prefix (default `/yjs`); the doc name is the rest of the path. */
  path?: string;
  /** Largest message accepted (default 1 MiB); larger ones close the socket with 4413. */
  maxMessageBytes?: number;
  /** Every awareness state a socket publishes (after the workerId check): presence. */
  onAwareness?: (principal: Principal, docName: string, state: Record<string, unknown>) => void;
  /** The leases a worker's awareness state renews (./awareness.ts heartbeatOf). */
  onHeartbeat?: (heartbeat: LeaseHeartbeat) => void;
  log?: Logger;
  /**
   * Unsent bytes a socket may hold when its next message is due (default 8 MiB); over it the
   * socket is closed with 1013 (too-slow) so a stalled reader never holds the relay's memory.
   */
  maxBufferedBytes?: number;
  /** Ping interval to drop dead sockets (default 30 s). */
  pingIntervalMs?: number;
  /** Open sockets one token may hold (default 64); one more is closed with 4429. */
  maxConnectionsPerToken?: number;
  /** The relay's shared brake on refused tokens; default: one of its own. */
  guard?: AuthGuard;
  /** Messages per token over all its sockets (default 200/s, burst 2000); past it, reading pauses. */
  messageRate?: RateLimitOptions;
  /** Does this worker id exist (a token was bound to it)? Default: every id does. */
  knownWorker?: (workerId: string) => boolean;
  /** The client's address for the brake and the logs (default: the socket's). */
  addressOf?: AddressOf;
  /** An upgrade was refused, with the stable code of its reason (metrics). */
  onRefused?: (code: string) => void;
  /** Other WebSocket endpoints on this server, by exact path (the intent channel, server/intents-ws). */
  upgrades?: Record<string, (req: IncomingMessage, socket: Duplex, head: Buffer) => void>;
}

export interface SyncServer {
  /** Close every socket of that token (default 4410 token-revoked). Returns how many. */
  closeTokenSockets(tokenId: string, code?: number, reason?: string): number;
  /** Open sockets, of one doc or all. */
  connectionCount(docName?: string): number;
  /** The relay's awareness instance of a doc, once a socket has opened that doc. */
  awareness(docName: string): awarenessProtocol.Awareness | undefined;
  /** Close every socket with 1001 and stop accepting. Does not close the DocStore. */
  close(): Promise<void>;
}

const STOPPING = 'shutting-down: the relay is stopping';
const DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

function pathOf(req: IncomingMessage): string {
  try {
    return new URL(req.url ?? '/', 'http://relay.invalid').pathname;
  } catch {
    return '';
  }
}

/** The document name an upgrade asks for: undefined when it does not decode; null when the path is not ours. */
function docNameOf(req: IncomingMessage, prefix: string): string | undefined | null {
  let pathname: string;
  try {
    pathname = new URL(req.url ?? '/', 'http://relay.invalid').pathname;
  } catch {
    pathname = '';
  }
  if (pathname !== prefix && !pathname.startsWith(prefix + '/')) return null;
  try {
    return decodeURIComponent(pathname.slice(prefix.length + 1));
  } catch {
    return undefined;
  }
}

export function attachSyncServer(server: Server, opts: SyncServerOptions): SyncServer {
  const prefix = (opts.path ?? YJS_PATH).replace(/\/+$/, '');
  const addressOf = opts.addressOf ?? socketAddress;
  const maxMessageBytes = opts.maxMessageBytes ?? 1024 * 1024;
  const rules = {
    guard: opts.guard ?? new AuthGuard(opts.tokens, DEFAULT_AUTH_FAILURE_RATE),
    maxConnectionsPerToken: opts.maxConnectionsPerToken ?? 64,
    knownWorker: opts.knownWorker,
  };
  const onAwareness = (principal: Principal, docName: string, state: Record<string, unknown>) => {
    opts.onAwareness?.(principal, docName, state);
    const hb = opts.onHeartbeat && heartbeatOf(principal, docName, state);
    if (hb) opts.onHeartbeat!(hb);
  };
  const rooms = new Rooms(opts.docs, onAwareness, opts.log);
  const messages = new RateLimiter({ ...DEFAULT_SOCKET_MESSAGE_RATE, ...opts.messageRate }, Date.now);
  const conns = new Connections({ maxMessageBytes, maxBufferedBytes: opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES, messages, log: opts.log });
  // ws' own hard cap (it closes with 1009 without buffering the rest) sits at twice ours, so a
  // message a little over the limit gets our 4413 and a sentence, and no socket makes the relay
  // buffer more than 2 x maxBytes for one message.
  // No permessage-deflate: the relay writes its frames itself (./frame.ts), uncompressed, and
  // deflating a ledger change once per socket would cost more than the bytes it saves on a LAN.
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes * 2, perMessageDeflate: false });
  // The relay's version on the 101 answer too, as on every HTTP answer (OWP-VER-5).
  wss.on('headers', (headers) => headers.push(`${PROTOCOL_HEADER}: ${PROTOCOL_VERSION}`));
  let closing = false;

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const other = opts.upgrades && Object.hasOwn(opts.upgrades, pathOf(req)) ? opts.upgrades[pathOf(req)] : undefined;
    if (other) return other(req, socket, head);
    const docName = docNameOf(req, prefix);
    if (docName === null) {
      // Another upgrade handler may want it; if there is none, refuse.
      if (server.listenerCount('upgrade') <= 1) socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const ip = addressOf(req);
      const a = admit(rules, { token: tokenFromRequest(req), address: ip, docName, closing, protocol: protocolFromRequest(req), socketsOf: (t) => conns.countOf(t) });
      if (!a.ok) {
        const code = a.reason.split(':')[0]!;
        opts.onRefused?.(code);
        opts.log?.warn('socket refused', { doc: docName?.slice(0, 200), close: a.code, code, ip });
        return ws.close(a.code, a.reason);
      }
      const role = a.principal.role;
      opts.log?.info('socket open', { doc: a.docName, role, ip });
      ws.once('close', (code) => opts.log?.debug?.('socket closed', { doc: a.docName, role, close: code }));
      conns.accept(ws, socket, a.principal, a.docName, a.writable, rooms.get(a.docName));
    });
  };
  server.on('upgrade', onUpgrade);

  const unRevoke = opts.tokens.onRevoke((tokenId) => {
    syncServer.closeTokenSockets(tokenId);
  });
  const ping = setInterval(() => conns.ping(), opts.pingIntervalMs ?? 30_000);
  ping.unref();

  const syncServer: SyncServer = {
    closeTokenSockets(tokenId, code = CLOSE.revoked, reason = 'token-revoked: this token was revoked; ask an admin for a new one') {
      return conns.closeToken(tokenId, code, reason);
    },
    connectionCount: (docName) => conns.count(docName),
    awareness: (docName) => rooms.opened(docName)?.awareness,
    async close() {
      if (closing) return;
      closing = true;
      server.off('upgrade', onUpgrade);
      unRevoke();
      clearInterval(ping);
      const sockets = [...wss.clients];
      conns.closeAll(CLOSE.shuttingDown, STOPPING);
      for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.close(CLOSE.shuttingDown, STOPPING);
      // Give clients a moment to answer the close handshake, then cut what is left.
      await Promise.race([
        Promise.all(sockets.map((ws) => (ws.readyState === ws.CLOSED ? undefined : new Promise((r) => ws.once('close', r))))),
        new Promise((r) => setTimeout(r, 1000).unref()),
      ]);
      for (const ws of wss.clients) ws.terminate();
      await rooms.close();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
  return syncServer;
}
