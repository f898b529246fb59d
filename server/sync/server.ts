/**
 * The relay's y-websocket endpoint: `/yjs/<docName>`, y-protocols sync + awareness, with
 * per-document read and write control (./acl.ts).
 *
 * Invariants:
 * - No live token, no connection: 4401 (unknown/missing) or 4410 (revoked). Unknown doc: 4404.
 *   A principal that may not read the doc: 4403 on connect. All before any doc byte is sent.
 * - A sync step 2 or update from a connection that may not write the doc is never applied,
 *   persisted or broadcast. If it changes nothing (Y.snapshotContainsUpdate: every struct
 *   already known, every delete already done; what read-only clients send on every connect)
 *   it is ignored; otherwise the socket is closed with 4403 and a reason naming the rule, and
 *   nothing it sends afterwards is read.
 * - Write before broadcast: an applied update is relayed to the other sockets of the doc only
 *   after DocStore has it on disk (`whenPersisted`), in the order updates happened; the answer
 *   to a sync step 1 also waits for the updates emitted so far to be on disk.
 * - Messages are handled one at a time per socket, in arrival order. A message over
 *   `maxMessageBytes` (1 MiB) closes the socket with 4413; one over twice that is cut off by
 *   ws while it arrives (close 1009), so it is never buffered whole.
 * - Awareness is relayed but never persisted. A clientID belongs to the first socket that
 *   announced it; others cannot overwrite it. A state naming a `workerId` other than the
 *   worker's own is dropped. When a socket closes, its awareness clients are removed.
 * - Revoking a token closes its sockets at once (4410). `close()` closes every socket (1001).
 * - With `knownWorker`, an inbox of a worker id no token was ever bound to is opened only by
 *   admin; others get 4404 (a maintainer cannot make the relay load documents without end).
 * - Bounded: at most `maxConnectionsPerToken` (default 64) open sockets per token; one more
 *   is closed with 4429. Messages per token are throttled (default 200/s, burst 2000): past
 *   that, the token's sockets that send are paused (TCP backpressure) until the bucket refills,
 *   nothing is dropped. Refused tokens are braked per address by the relay's AuthGuard
 *   (shared with HTTP): past the brake every upgrade from that address is closed with 4429.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import * as decoding from 'lib0/decoding';
import { WebSocketServer, type WebSocket } from 'ws';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { BOARD_DOC, INBOX_PREFIX, LEDGER_DOC, YJS_PATH } from '../../shared/protocol.js';
import { AuthGuard, DEFAULT_AUTH_FAILURE_LIMIT } from '../auth/guard.js';
import { RateLimiter, type RateLimitOptions } from '../http/ratelimit.js';
import { tokenFromRequest, type TokenStore } from '../auth/index.js';
import type { Logger, Principal } from '../ports.js';
import { canRead, canWrite, clampReason, parseDocName, readDeniedReason, writeDeniedReason } from './acl.js';
import { AwarenessStateTooLarge, awarenessStateAllowed, decodeAwarenessUpdate, encodeAwarenessEntries, MAX_AWARENESS_STATE_BYTES } from './awareness.js';
import {
  awarenessMessage,
  CLOSE,
  MESSAGE_AWARENESS,
  MESSAGE_QUERY_AWARENESS,
  MESSAGE_SYNC,
  syncStep1Message,
  syncStep2Message,
  updateMessage,
} from './messages.js';

export { CLOSE } from './messages.js';
import type { DocStore } from './docstore.js';

/** Awareness client ids one socket may own; more are ignored. */
export const MAX_AWARENESS_CLIENTS_PER_SOCKET = 8;

export interface SyncServerOptions {
  docs: DocStore;
  tokens: TokenStore;
  /** URL path prefix (default `/yjs`); the doc name is the rest of the path. */
  path?: string;
  /** Largest message accepted (default 1 MiB); larger ones close the socket with 4413. */
  maxMessageBytes?: number;
  /** Every awareness state a socket publishes (after the workerId check): heartbeats. */
  onAwareness?: (principal: Principal, docName: string, state: Record<string, unknown>) => void;
  log?: Logger;
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

interface Room {
  name: string;
  doc: Y.Doc;
  awareness: awarenessProtocol.Awareness;
  conns: Set<Conn>;
  owners: Map<number, Conn>;
}

interface Conn {
  ws: WebSocket;
  principal: Principal;
  docName: string;
  writable: boolean;
  room?: Room;
  clientIds: Set<number>;
  closed: boolean;
  alive: boolean;
  queue: Promise<void>;
}

export function attachSyncServer(server: Server, opts: SyncServerOptions): SyncServer {
  const prefix = (opts.path ?? YJS_PATH).replace(/\/+$/, '');
  const maxBytes = opts.maxMessageBytes ?? 1024 * 1024;
  const log = opts.log;
  const guard = opts.guard ?? new AuthGuard(opts.tokens, DEFAULT_AUTH_FAILURE_LIMIT);
  const maxPerToken = opts.maxConnectionsPerToken ?? 64;
  const messages = new RateLimiter({ ratePerSec: 200, burst: 2000, ...opts.messageRate }, Date.now);
  // ws' own hard cap (it closes with 1009 without buffering the rest) sits at twice ours, so a
  // message a little over the limit gets our 4413 and a sentence, and no socket makes the relay
  // buffer more than 2 x maxBytes for one message.
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxBytes * 2 });
  const rooms = new Map<string, Promise<Room>>();
  const openRooms = new Map<string, Room>();
  const byToken = new Map<string, Set<Conn>>();
  const all = new Set<Conn>();
  let closing = false;

  const send = (conn: Conn, msg: Uint8Array) => {
    if (conn.closed || conn.ws.readyState !== conn.ws.OPEN) return;
    conn.ws.send(msg, (err) => {
      if (err) closeConn(conn, CLOSE.internal, 'send failed');
    });
  };

  function closeConn(conn: Conn, code: number, reason: string): void {
    if (!conn.closed) {
      conn.closed = true;
      detach(conn);
    }
    try {
      conn.ws.close(code, clampReason(reason));
    } catch {
      conn.ws.terminate();
    }
  }

  function detach(conn: Conn): void {
    all.delete(conn);
    const mine = byToken.get(conn.principal.tokenId);
    if (mine?.delete(conn) && mine.size === 0) byToken.delete(conn.principal.tokenId);
    const room = conn.room;
    if (!room || !room.conns.delete(conn)) return;
    const ids = [...conn.clientIds].filter((id) => room.owners.get(id) === conn);
    for (const id of ids) room.owners.delete(id);
    if (ids.length > 0) awarenessProtocol.removeAwarenessStates(room.awareness, ids, conn);
  }

  function openRoom(name: string): Promise<Room> {
    let p = rooms.get(name);
    if (!p) {
      p = opts.docs.get(name).then((doc) => {
        const awareness = new awarenessProtocol.Awareness(doc);
        awareness.setLocalState(null);
        const room: Room = { name, doc, awareness, conns: new Set(), owners: new Map() };
        doc.on('update', (update: Uint8Array, origin: unknown) => {
          const msg = updateMessage(update);
          // Registered after DocStore's own listener, so this update is in the chain already.
          void opts.docs.whenPersisted(name).then(() => {
            for (const c of room.conns) if (c !== origin) send(c, msg);
          });
        });
        awareness.on('update', ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }) => {
          const changed = added.concat(updated, removed);
          const msg = awarenessMessage(awareness, changed);
          for (const c of room.conns) send(c, msg);
        });
        openRooms.set(name, room);
        return room;
      });
      rooms.set(name, p);
      p.catch(() => rooms.delete(name));
    }
    return p;
  }

  function handleSync(conn: Conn, room: Room, d: decoding.Decoder): void {
    const type = decoding.readVarUint(d);
    if (type === syncProtocol.messageYjsSyncStep1) {
      const sv = decoding.readVarUint8Array(d);
      // Answer once what the doc holds is on disk: nobody reads what a crash could take back.
      void opts.docs.whenPersisted(conn.docName).then(() => send(conn, syncStep2Message(room.doc, sv)));
      return;
    }
    if (type !== syncProtocol.messageYjsSyncStep2 && type !== syncProtocol.messageYjsUpdate) {
      throw new Error(`unknown sync message type ${type}`);
    }
    const update = decoding.readVarUint8Array(d);
    if (conn.writable) {
      Y.applyUpdate(room.doc, update, conn);
      return;
    }
    // Read-only: an update that changes nothing is not a write (a viewer's step 2 on connect).
    if (Y.snapshotContainsUpdate(Y.snapshot(room.doc), update)) return;
    log?.warn('refused a write to a document', { doc: conn.docName, role: conn.principal.role, tokenId: conn.principal.tokenId });
    closeConn(conn, CLOSE.forbidden, writeDeniedReason(conn.principal, conn.docName));
  }

  function handleAwareness(conn: Conn, room: Room, d: decoding.Decoder): void {
    const raw = decoding.readVarUint8Array(d);
    const entries = decodeAwarenessUpdate(raw);
    const kept = entries.filter((x) => {
      const owner = room.owners.get(x.clientID);
      if (owner !== undefined && owner !== conn) return false;
      if (owner === undefined && x.state !== null) {
        // A socket is one client (a few after reloads); a flood of ids is dropped.
        if (conn.clientIds.size >= MAX_AWARENESS_CLIENTS_PER_SOCKET) return false;
        if (!awarenessStateAllowed(conn.principal, x.state)) return false;
        room.owners.set(x.clientID, conn);
        conn.clientIds.add(x.clientID);
        return true;
      }
      return awarenessStateAllowed(conn.principal, x.state);
    });
    if (kept.length === 0) return;
    awarenessProtocol.applyAwarenessUpdate(room.awareness, kept.length === entries.length ? raw : encodeAwarenessEntries(kept), conn);
    if (opts.onAwareness) {
      for (const x of kept) {
        if (x.state !== null && typeof x.state === 'object' && !Array.isArray(x.state)) {
          try {
            opts.onAwareness(conn.principal, conn.docName, x.state as Record<string, unknown>);
          } catch (err) {
            log?.error('awareness listener failed', { doc: conn.docName, err: String(err) });
          }
        }
      }
    }
  }

  function handleMessage(conn: Conn, bytes: Uint8Array): void {
    const room = conn.room;
    if (conn.closed || !room) return;
    try {
      const d = decoding.createDecoder(bytes);
      const type = decoding.readVarUint(d);
      if (type === MESSAGE_SYNC) handleSync(conn, room, d);
      else if (type === MESSAGE_AWARENESS) handleAwareness(conn, room, d);
      else if (type === MESSAGE_QUERY_AWARENESS) {
        send(conn, awarenessMessage(room.awareness, [...room.awareness.getStates().keys()]));
      }
      // MESSAGE_AUTH and unknown types from clients: nothing to do.
    } catch (err) {
      if (err instanceof AwarenessStateTooLarge) {
        closeConn(conn, CLOSE.tooLarge, `payload-too-large: an awareness state over ${MAX_AWARENESS_STATE_BYTES / 1024} KiB; publish less`);
        return;
      }
      log?.warn('malformed sync message', { doc: conn.docName, err: String(err) });
      closeConn(conn, CLOSE.malformed, 'invalid-field: malformed y-websocket message; update your client');
    }
  }

  function onConnection(ws: WebSocket, req: IncomingMessage, docName: string | undefined): void {
    if (closing) return ws.close(CLOSE.shuttingDown, 'shutting-down: the relay is stopping');
    const check = guard.check(tokenFromRequest(req), req.socket.remoteAddress);
    if (!check.ok) {
      const code = check.code === 'token-revoked' ? CLOSE.revoked : check.code === 'rate-limited' ? CLOSE.tooMany : CLOSE.unauthorized;
      return ws.close(code, clampReason(check.message));
    }
    const principal = check.principal;
    const kind = docName === undefined ? undefined : parseDocName(docName);
    if (docName === undefined || !kind) {
      return ws.close(CLOSE.unknownDoc, clampReason(`not-found: no document ${docName ?? ''}; use ${BOARD_DOC}, ${LEDGER_DOC} or ${INBOX_PREFIX}<workerId>`));
    }
    if (kind.kind === 'inbox' && principal.role !== 'admin' && opts.knownWorker && !opts.knownWorker(kind.workerId)) {
      return ws.close(CLOSE.unknownDoc, clampReason(`unknown-worker: no worker ${kind.workerId}; an admin creates its token first`));
    }
    if (!canRead(principal, docName)) return ws.close(CLOSE.forbidden, readDeniedReason(principal, docName));
    if ((byToken.get(principal.tokenId)?.size ?? 0) >= maxPerToken) {
      return ws.close(CLOSE.tooMany, clampReason(`rate-limited: this token has ${maxPerToken} sockets open; close other clients that use it`));
    }

    const conn: Conn = {
      ws,
      principal,
      docName,
      writable: canWrite(principal, docName),
      clientIds: new Set(),
      closed: false,
      alive: true,
      queue: Promise.resolve(),
    };
    all.add(conn);
    let set = byToken.get(principal.tokenId);
    if (!set) byToken.set(principal.tokenId, (set = new Set()));
    set.add(conn);

    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (conn.closed) return;
      const buf = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? Buffer.from(data) : data;
      if (buf.byteLength > maxBytes) {
        closeConn(conn, CLOSE.tooLarge, `payload-too-large: a message over ${maxBytes} bytes; split the change`);
        return;
      }
      if (!isBinary) {
        // y-websocket speaks binary only: say so instead of ignoring the client.
        closeConn(conn, CLOSE.malformed, 'invalid-field: a text frame; y-websocket messages are binary, use a y-websocket client');
        return;
      }
      const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      const wait = messages.take(principal.tokenId);
      if (wait > 0) {
        // Over the token's rate: this message waits, and the socket is not read meanwhile.
        const delay = Math.min(wait, 60_000);
        ws.pause();
        const later = new Promise<void>((r) => setTimeout(r, delay).unref());
        conn.queue = conn.queue.then(() => later);
        void later.then(() => {
          if (!conn.closed) ws.resume();
        });
      }
      conn.queue = conn.queue.then(() => handleMessage(conn, bytes));
    });
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('close', () => {
      conn.closed = true;
      detach(conn);
    });
    ws.on('error', (err) => log?.warn('socket error', { doc: docName, err: String(err) }));

    conn.queue = openRoom(docName).then(
      (room) => {
        if (conn.closed) return;
        conn.room = room;
        room.conns.add(conn);
        send(conn, syncStep1Message(room.doc));
        const states = room.awareness.getStates();
        if (states.size > 0) {
          send(conn, awarenessMessage(room.awareness, [...states.keys()]));
        }
      },
      (err) => {
        log?.error('could not load a document', { doc: docName, err: String(err) });
        closeConn(conn, CLOSE.internal, 'internal: could not load the document; see the relay log');
      },
    );
  }

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    let pathname: string;
    try {
      pathname = new URL(req.url ?? '/', 'http://relay.invalid').pathname;
    } catch {
      pathname = '';
    }
    if (pathname !== prefix && !pathname.startsWith(prefix + '/')) {
      // Another upgrade handler may want it; if there is none, refuse.
      if (server.listenerCount('upgrade') <= 1) socket.destroy();
      return;
    }
    let docName: string | undefined;
    try {
      docName = decodeURIComponent(pathname.slice(prefix.length + 1));
    } catch {
      docName = undefined;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req, docName));
  };
  server.on('upgrade', onUpgrade);

  const unRevoke = opts.tokens.onRevoke((tokenId) => {
    syncServer.closeTokenSockets(tokenId);
  });

  const ping = setInterval(() => {
    for (const conn of all) {
      if (!conn.alive) {
        conn.closed = true;
        detach(conn);
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      try {
        conn.ws.ping();
      } catch {
        // closed under us; the close handler cleans up
      }
    }
  }, opts.pingIntervalMs ?? 30_000);
  ping.unref();

  const syncServer: SyncServer = {
    closeTokenSockets(tokenId, code = CLOSE.revoked, reason = 'token-revoked: this token was revoked; ask an admin for a new one') {
      const set = byToken.get(tokenId);
      if (!set) return 0;
      const conns = [...set];
      for (const c of conns) closeConn(c, code, reason);
      byToken.delete(tokenId);
      return conns.length;
    },
    connectionCount(docName) {
      if (docName === undefined) return all.size;
      let n = 0;
      for (const c of all) if (c.docName === docName) n++;
      return n;
    },
    awareness(docName) {
      return openRooms.get(docName)?.awareness;
    },
    async close() {
      if (closing) return;
      closing = true;
      server.off('upgrade', onUpgrade);
      unRevoke();
      clearInterval(ping);
      const sockets = [...wss.clients];
      for (const c of [...all]) closeConn(c, CLOSE.shuttingDown, 'shutting-down: the relay is stopping');
      for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.close(CLOSE.shuttingDown, 'shutting-down: the relay is stopping');
      // Give clients a moment to answer the close handshake, then cut what is left.
      await Promise.race([
        Promise.all(sockets.map((ws) => (ws.readyState === ws.CLOSED ? undefined : new Promise((r) => ws.once('close', r))))),
        new Promise((r) => setTimeout(r, 1000).unref()),
      ]);
      for (const ws of wss.clients) ws.terminate();
      for (const p of rooms.values()) {
        try {
          (await p).awareness.destroy();
        } catch {
          // a room that failed to load has nothing to destroy
        }
      }
      rooms.clear();
      openRooms.clear();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
  return syncServer;
}
