/**
 * Connections: the admitted sockets, per token, with their message loop.
 *
 * Invariants:
 * - Messages are handled one at a time per socket, in arrival order, and only once the
 *   socket has joined its room. A message over `maxMessageBytes` closes the socket with 4413;
 *   a text frame with 4400 (y-websocket is binary). After a close nothing more is read.
 * - Messages per token are throttled over all its sockets (server/ratelimit): past the
 *   bucket, the sockets that send are paused (TCP backpressure) until it refills; nothing
 *   is dropped.
 * - A socket that misses a ping interval is cut; a closed socket leaves its room at once.
 * - Every message is one binary frame written straight to the socket (./frame.ts): the room
 *   frames a broadcast once and hands the frame to every peer (ws' `send` frames per socket).
 *   Frames reach a socket in the order `send` was called, after what ws wrote before.
 * - A socket whose unsent bytes are over `maxBufferedBytes` when the next message is due is
 *   closed (1013, too-slow) and leaves its room: a stalled reader costs the relay at most its
 *   bound plus one message, and never delays the others (sends do not wait for any socket).
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { CLOSE } from '../../shared/protocol.js';
import type { Logger, Principal } from '../ports.js';
import type { RateLimiter } from '../ratelimit/index.js';
import { clampReason } from './acl.js';
import type { Outgoing } from './frame.js';
import type { Peer, Room } from './rooms.js';

/** One admitted socket: a peer of one room. */
export class Connection implements Peer {
  readonly clientIds = new Set<number>();
  room?: Room;
  closed = false;
  alive = true;
  /** The message chain: each message waits for the one before it (and for the room). */
  queue: Promise<void> = Promise.resolve();

  constructor(
    readonly ws: WebSocket,
    /** The upgraded TCP socket ws reads and writes (frames are written to it directly). */
    private readonly socket: Duplex,
    readonly principal: Principal,
    readonly docName: string,
    readonly writable: boolean,
    private readonly maxBufferedBytes: number,
    private readonly onGone: (c: Connection) => void,
  ) {}

  send(msg: Outgoing): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > this.maxBufferedBytes) {
      const mib = (this.maxBufferedBytes / 1024 / 1024).toFixed(1);
      return this.close(CLOSE.tooSlow, `too-slow: this socket fell over ${mib} MiB behind; reconnect to resync`);
    }
    // A write error reaches ws as the socket's 'error' event: ws closes it, 'close' cleans up.
    this.socket.write(msg.frame);
  }

  close(code: number, reason: string): void {
    this.gone();
    try {
      this.ws.close(code, clampReason(reason));
    } catch {
      this.ws.terminate();
    }
  }

  /** Forget this socket everywhere (idempotent). */
  gone(): void {
    if (this.closed) return;
    this.closed = true;
    this.onGone(this);
  }
}

export interface ConnectionOptions {
  maxMessageBytes: number;
  /** Unsent bytes a socket may hold when its next message is due; over it, it is closed (1013). */
  maxBufferedBytes: number;
  messages: RateLimiter;
  log?: Logger;
}

export class Connections {
  private readonly all = new Set<Connection>();
  private readonly byToken = new Map<string, Set<Connection>>();

  constructor(private readonly o: ConnectionOptions) {}

  /** Register an admitted socket, join it to its room once loaded, and start reading. */
  accept(ws: WebSocket, socket: Duplex, principal: Principal, docName: string, writable: boolean, room: Promise<Room>): Connection {
    const conn = new Connection(ws, socket, principal, docName, writable, this.o.maxBufferedBytes, (c) => this.forget(c));
    this.all.add(conn);
    let set = this.byToken.get(principal.tokenId);
    if (!set) this.byToken.set(principal.tokenId, (set = new Set()));
    set.add(conn);

    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => this.onMessage(conn, data, isBinary));
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('close', () => conn.gone());
    ws.on('error', (err) => this.o.log?.warn('socket error', { doc: docName, err: String(err) }));

    conn.queue = room.then(
      (r) => {
        if (conn.closed) return;
        conn.room = r;
        r.join(conn);
      },
      (err) => {
        this.o.log?.error('could not load a document', { doc: docName, err: String(err) });
        conn.close(CLOSE.internal, 'internal: could not load the document; see the relay log');
      },
    );
    return conn;
  }

  private onMessage(conn: Connection, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    if (conn.closed) return;
    const buf = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? Buffer.from(data) : data;
    const max = this.o.maxMessageBytes;
    if (buf.byteLength > max) return conn.close(CLOSE.tooLarge, `payload-too-large: a message over ${max} bytes; split the change`);
    // y-websocket speaks binary only: say so instead of ignoring the client.
    if (!isBinary) return conn.close(CLOSE.malformed, 'invalid-field: a text frame; y-websocket messages are binary, use a y-websocket client');
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    const wait = this.o.messages.take(conn.principal.tokenId);
    if (wait > 0) {
      // Over the token's rate: this message waits, and the socket is not read meanwhile.
      conn.ws.pause();
      const later = new Promise<void>((r) => setTimeout(r, Math.min(wait, 60_000)).unref());
      conn.queue = conn.queue.then(() => later);
      void later.then(() => {
        if (!conn.closed) conn.ws.resume();
      });
    }
    conn.queue = conn.queue.then(() => {
      const room = conn.room;
      if (conn.closed || !room) return;
      const refusal = room.receive(conn, bytes);
      if (refusal) conn.close(refusal.code, refusal.reason);
    });
  }

  private forget(conn: Connection): void {
    this.all.delete(conn);
    const mine = this.byToken.get(conn.principal.tokenId);
    if (mine?.delete(conn) && mine.size === 0) this.byToken.delete(conn.principal.tokenId);
    conn.room?.leave(conn);
  }

  /** Sockets a token holds now. */
  countOf(tokenId: string): number {
    return this.byToken.get(tokenId)?.size ?? 0;
  }

  /** Open sockets, of one doc or all. */
  count(docName?: string): number {
    if (docName === undefined) return this.all.size;
    let n = 0;
    for (const c of this.all) if (c.docName === docName) n++;
    return n;
  }

  /** Close every socket of a token; returns how many. */
  closeToken(tokenId: string, code: number, reason: string): number {
    const set = this.byToken.get(tokenId);
    if (!set) return 0;
    const conns = [...set];
    for (const c of conns) c.close(code, reason);
    this.byToken.delete(tokenId);
    return conns.length;
  }

  closeAll(code: number, reason: string): void {
    for (const c of [...this.all]) c.close(code, reason);
  }

  /** One ping round: cut sockets that did not answer the last one, ping the others. */
  ping(): void {
    for (const conn of this.all) {
      if (!conn.alive) {
        conn.gone();
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
  }
}
