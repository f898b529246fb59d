/**
 * The relay's answers while it starts: the port is bound first (a port in use fails at once,
 * and probes get an answer), then the store is opened and the engine loaded. Until then
 * every request is answered here, never by a half-built relay.
 *
 * Invariants:
 * - `/readyz`: 503 `{ ready: false, phase: "starting", error: { code: "starting" } }`.
 * - `/healthz`: 503 `{ ok: false, phase: "starting", error }` too: a 200 from /healthz always
 *   means the relay serves (scripts and the bench poll it for that); a container's
 *   HEALTHCHECK start period covers the start.
 * - Anything else (WebSocket upgrades included): 503 `starting` with `Retry-After: 1`.
 * - Every answer carries `OWP-Protocol` and is access-logged like the router's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
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
