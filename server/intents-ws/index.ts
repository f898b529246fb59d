/**
 * The intent channel, `/owp/intents` (docs/PROTOCOL.md, "Intent channel"): a WebSocket that
 * carries claims, heartbeats and lease actions as JSON messages, several in flight, each
 * answered with the HTTP route's status and body (./dispatch.ts runs that very route).
 *
 * Invariants:
 * - Admission is HTTP's: the relay's AuthGuard (token digest, revoked, refused-token brake
 *   per address), and the client's `OWP-Protocol` (header, or `?protocol=` where a header
 *   cannot be set) checked as on /yjs (OWP-VER-5); refusals close with 44xx and `<code>: <sentence>`.
 *   At most `maxSocketsPerToken` channel sockets per token (4429 past it).
 * - The first message on an admitted socket is the hello (protocol, maxInFlight, ops).
 * - A socket has at most `maxInFlight` requests received and not yet answered; one more is
 *   answered 429 `rate-limited` at once (no retryAfter) and never reaches the engine.
 * - A socket whose unread answers pass 16 MiB is closed (4429): no client makes the relay buffer
 *   without end.
 * - Answers go only to the socket that asked; a socket that is gone gets nothing, and the
 *   intent still runs to its outcome (retrievable by its intentId, as over HTTP).
 * - Revoking a token closes its channel sockets (4410); close() answers what is in flight
 *   first (the engine drains before the relay closes sockets), then closes with 1001.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { DEFAULT_MAX_IN_FLIGHT, INTENT_OP_NAMES, isMessageId, parseIntentRequest, type IntentAnswer, type IntentHello, type MessageId } from '../../shared/intent-channel.js';
import { CLOSE, PROTOCOL_HEADER, PROTOCOL_VERSION, socketProtocolRefusal } from '../../shared/protocol.js';
import type { AuthGuard } from '../auth/guard.js';
import { protocolFromRequest, tokenFromRequest, type TokenStore } from '../auth/index.js';
import type { AddressOf } from '../http/client-address.js';
import { DEFAULT_JSON_DEPTH, jsonDepth } from '../http/router.js';
import type { Logger, Principal, Route } from '../ports.js';
import { retryAfterSeconds, type RateLimiter } from '../ratelimit/index.js';
import { clampReason } from '../sync/acl.js';
import { dispatch, routesByOp, type DispatchDeps, type Reply } from './dispatch.js';

export interface IntentChannelOptions {
  /** The relay's HTTP routes; the ones the ops stand for are served (server/http/api-leases.ts). */
  routes: readonly Route[];
  tokens: TokenStore;
  guard: AuthGuard;
  /** The HTTP router's per-token limiter: one budget for both doors. */
  limiter?: RateLimiter;
  addressOf: AddressOf;
  log: Logger;
  shuttingDown(): boolean;
  /** Requests one socket may have in flight (default 64). */
  maxInFlight?: number;
  /** Largest message (default 1 MiB, as a request body); larger closes with 4413. */
  maxMessageBytes?: number;
  jsonDepth?: number;
  /** Channel sockets per token (default 64). */
  maxSocketsPerToken?: number;
  pingIntervalMs?: number;
  /** Every answered message, by route pattern and status (metrics). */
  onAnswered?: (route: string, status: number) => void;
}

export interface IntentChannel {
  /** The upgrade handler for INTENTS_PATH. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  closeTokenSockets(tokenId: string, code?: number, reason?: string): number;
  /** Open channel sockets. */
  count(): number;
  close(): Promise<void>;
}

interface Conn {
  ws: WebSocket;
  principal: Principal;
  inFlight: number;
  alive: boolean;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const MAX_UNREAD_BYTES = 16 * 1024 * 1024;

/** Why this upgrade may not become a channel socket (close code and reason), if it may not. */
function refusal(o: IntentChannelOptions, req: IncomingMessage, closing: boolean, socketsOf: (t: string) => number): { code: number; reason: string } | Principal {
  if (closing || o.shuttingDown()) return { code: CLOSE.shuttingDown, reason: 'shutting-down: the relay is stopping' };
  const version = socketProtocolRefusal(protocolFromRequest(req));
  if (version) return version;
  const check = o.guard.check(tokenFromRequest(req), o.addressOf(req));
  if (!check.ok) return { code: check.code === 'token-revoked' ? CLOSE.revoked : check.code === 'rate-limited' ? CLOSE.tooMany : CLOSE.unauthorized, reason: check.message };
  const max = o.maxSocketsPerToken ?? 64;
  if (socketsOf(check.principal.tokenId) >= max) return { code: CLOSE.tooMany, reason: `rate-limited: this token has ${max} intent channels open; close other clients that use it` };
  return check.principal;
}

export function intentChannel(o: IntentChannelOptions): IntentChannel {
  const maxInFlight = o.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
  const maxBytes = o.maxMessageBytes ?? 1024 * 1024;
  const maxDepth = o.jsonDepth ?? DEFAULT_JSON_DEPTH;
  const d: DispatchDeps = { routes: routesByOp(o.routes), shuttingDown: o.shuttingDown, log: o.log };
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxBytes * 2 });
  wss.on('headers', (headers) => headers.push(`${PROTOCOL_HEADER}: ${PROTOCOL_VERSION}`));
  const conns = new Set<Conn>();
  let closing = false;

  const socketsOf = (tokenId: string) => {
    let n = 0;
    for (const c of conns) if (c.principal.tokenId === tokenId) n++;
    return n;
  };
  const send = (c: Conn, m: IntentAnswer | IntentHello) => {
    if (c.ws.readyState !== c.ws.OPEN) return;
    // A client that sends without reading its answers does not make the relay buffer without end.
    if (c.ws.bufferedAmount > MAX_UNREAD_BYTES) return void c.ws.close(CLOSE.tooMany, 'rate-limited: over 16 MiB of answers unread; read the answers you asked for');
    c.ws.send(JSON.stringify(m));
  };
  const answer = (c: Conn, id: MessageId | null, r: Reply, route?: string) => {
    if (route) o.onAnswered?.(route, r.status);
    send(c, { type: 'answer', id, status: r.status, body: r.body, ...(r.retryAfter !== undefined ? { retryAfter: r.retryAfter } : {}) });
  };
  const refuse = (c: Conn, id: MessageId | null, status: number, code: string, message: string, field?: string) =>
    answer(c, id, { status, body: { error: { code, message, ...(field ? { field } : {}) } } });

  const onMessage = (c: Conn, data: Buffer): void => {
    if (data.byteLength > maxBytes) return void c.ws.close(CLOSE.tooLarge, clampReason(`payload-too-large: a message over ${maxBytes} bytes; send intents one per message`));
    if (c.inFlight >= maxInFlight) {
      const id = idOf(data);
      return refuse(c, id, 429, 'rate-limited', `This socket has ${maxInFlight} intents in flight (the hello's maxInFlight); wait for answers before sending more.`);
    }
    let raw: unknown;
    try {
      const text = strictUtf8.decode(data);
      if (jsonDepth(text, maxDepth) > maxDepth) return refuse(c, null, 400, 'invalid-json', `The message nests JSON deeper than ${maxDepth} levels; no intent needs more than a few.`);
      raw = JSON.parse(text);
    } catch {
      return refuse(c, null, 400, 'invalid-json', 'The message is not valid UTF-8 JSON; send one JSON object { id, op, task?, body? } per message.');
    }
    // The token's request budget, shared with HTTP, is taken per message as the router takes it per request.
    const wait = o.limiter?.take(`t:${c.principal.tokenId}`) ?? 0;
    if (wait > 0) {
      const secs = retryAfterSeconds(wait);
      const id = isMessageId((raw as { id?: unknown } | null)?.id) ? (raw as { id: MessageId }).id : null;
      return answer(c, id, { status: 429, body: { error: { code: 'rate-limited', message: `Too many requests; wait ${secs} s (see retryAfter) and slow down.` } }, retryAfter: secs });
    }
    const p = parseIntentRequest(raw);
    if (!p.ok) return refuse(c, p.id, 400, p.code, p.message, p.field);
    c.inFlight++;
    void dispatch(d, c.principal, p.request).then((r) => {
      c.inFlight--;
      answer(c, p.request.id, r, d.routes.get(p.request.op)!.path);
    });
  };

  const accept = (ws: WebSocket, principal: Principal, ip: string | undefined) => {
    const c: Conn = { ws, principal, inFlight: 0, alive: true };
    conns.add(c);
    o.log.info('intent channel open', { role: principal.role, ip });
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => onMessage(c, Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)));
    ws.on('pong', () => (c.alive = true));
    ws.on('close', () => conns.delete(c));
    ws.on('error', (err) => o.log.warn('intent channel error', { err: String(err) }));
    send(c, { type: 'hello', protocol: PROTOCOL_VERSION, maxInFlight, ops: INTENT_OP_NAMES });
  };

  const ping = setInterval(() => {
    for (const c of conns) {
      if (!c.alive) {
        conns.delete(c);
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }, o.pingIntervalMs ?? 30_000);
  ping.unref();

  return {
    upgrade(req, socket, head) {
      wss.handleUpgrade(req, socket, head, (ws) => {
        const ip = o.addressOf(req);
        const r = refusal(o, req, closing, socketsOf);
        if ('code' in r) {
          o.log.warn('intent channel refused', { close: r.code, code: r.reason.split(':')[0], ip });
          return ws.close(r.code, clampReason(r.reason));
        }
        accept(ws, r, ip);
      });
    },
    closeTokenSockets(tokenId, code = CLOSE.revoked, reason = 'token-revoked: this token was revoked; ask an admin for a new one') {
      let n = 0;
      for (const c of [...conns]) {
        if (c.principal.tokenId !== tokenId) continue;
        conns.delete(c);
        c.ws.close(code, clampReason(reason));
        n++;
      }
      return n;
    },
    count: () => conns.size,
    async close() {
      if (closing) return;
      closing = true;
      clearInterval(ping);
      const sockets = [...wss.clients];
      for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.close(CLOSE.shuttingDown, 'shutting-down: the relay is stopping');
      await Promise.race([
        Promise.all(sockets.map((ws) => (ws.readyState === ws.CLOSED ? undefined : new Promise((r) => ws.once('close', r))))),
        new Promise((r) => setTimeout(r, 1000).unref()),
      ]);
      for (const ws of wss.clients) ws.terminate();
      conns.clear();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}

/** The id of a message refused before it is read whole (over the in-flight cap), if it has one. */
function idOf(data: Buffer): MessageId | null {
  try {
    const id = (JSON.parse(data.toString('utf8')) as { id?: unknown } | null)?.id;
    return isMessageId(id) ? id : null;
  } catch {
    return null;
  }
}
