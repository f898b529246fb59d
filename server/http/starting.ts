/**
 * Binding the relay's port (`listen`), and its answers while it starts: the port is bound
 * first (a port in use fails at once, and probes get an answer), then the store is opened
 * and the engine loaded. Until then every request is answered here, never by a half-built
 * relay.
 *
 * Invariants:
 * - `/readyz`: 503 `{ ready: false, phase: "starting", error: { code: "starting" } }`.
 * - `/healthz`: 503 `{ ok: false, phase: "starting", error }` too: a 200 from /healthz always
 *   means the relay serves (scripts and the bench poll it for that); a container's
 *   HEALTHCHECK start period covers the start.
 * - Anything else (WebSocket upgrades included): 503 `starting` with `Retry-After: 1`.
 * - Every answer carries `OWP-Protocol` and is access-logged like the router's.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { OwpError } from '../../shared/errors.js';
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from '../../shared/protocol.js';
import type { Logger } from '../ports.js';
import { logRequest, type RequestNote } from './access-log.js';
import type { AddressOf } from './client-address.js';
import { sendJson } from './router.js';

export const STARTING_MESSAGE = 'The relay is starting (opening its database, loading the ledger); retry in a moment.';

export function startingHandler(o: { log: Logger; addressOf: AddressOf }): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const note: RequestNote = { started: performance.now(), code: 'starting' };
    res.once('close', () => logRequest(o.log, req, res, note, o.addressOf(req)));
    res.setHeader(PROTOCOL_HEADER, PROTOCOL_VERSION);
    // Nothing of the body is wanted: drain it so the connection can be reused.
    req.resume();
    const error = new OwpError('starting', STARTING_MESSAGE).toJSON();
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/readyz' || path === '/healthz') {
      note.route = path;
      sendJson(res, 503, path === '/readyz' ? { ready: false, phase: 'starting', error } : { ok: false, phase: 'starting', error }, { 'retry-after': '1' });
      return;
    }
    sendJson(res, 503, { error }, { 'retry-after': '1' });
  };
}

/** What `listen` reads of the relay's configuration. */
export interface ListenConfig {
  host?: string;
  port?: number;
  limits?: { requestTimeoutMs?: number; keepAliveMs?: number };
}

/** Bind the relay's port (./http/starting.ts answers until the relay serves). */
export async function listen(config: ListenConfig, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; sockets: Set<Socket> }> {
  // A request (headers and body) must arrive within requestTimeoutMs: a client trickling a
  // body cannot hold a socket for Node's default 5 minutes. Event streams are not affected
  // (their request is complete at once; only the answer is long).
  const requestTimeout = config.limits?.requestTimeoutMs ?? 30_000;
  // An idle kept-alive connection stays open 65 s, not Node's 5 s: a client (or a proxy with
  // a 60 s idle timeout) that reuses a connection just as the relay closes it gets a reset
  // instead of an answer, and a client's own idle check runs late when its event loop is busy.
  const keepAliveTimeout = config.limits?.keepAliveMs ?? 65_000;
  const server = createServer(
    { requestTimeout, headersTimeout: Math.min(requestTimeout, 15_000), connectionsCheckingInterval: Math.min(requestTimeout, 5_000), keepAliveTimeout },
    handler,
  );
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // A deep accept queue: hundreds of workers reconnecting while a batch runs must not
    // have their SYNs dropped (the kernel's retry waits 1 s, 3 s, 7 s...).
    server.listen({ port: config.port ?? 8787, host: config.host ?? '127.0.0.1', backlog: 2048 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, sockets };
}

/** The host part of the relay's URL: a wildcard address is reached on 127.0.0.1; IPv6 in brackets. */
export function urlHostOf(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
}

/** Where a start's time goes: `took(step)` records the ms since the previous step; `ready()` the total and the steps, in order (the `relay ready` log line). */
export function startPhases(): { took(step: string): void; ready(): { ms: number; phases: Record<string, number> } } {
  const began = performance.now();
  const phases: Record<string, number> = {};
  let last = began;
  return {
    took(step) {
      const t = performance.now();
      phases[step] = Math.round(t - last);
      last = t;
    },
    ready: () => ({ ms: Math.round(performance.now() - began), phases }),
  };
}
