/**
 * Admission: may this upgrade become a socket on this document? Decided before any document
 * byte is sent, in this order (the first refusal wins, as a close code and a reason):
 *
 * - the relay is stopping: 1001; a client naming another major protocol version (or not
 *   MAJOR.MINOR): 4400 (OWP-VER-5); no live token: 4401 (unknown or missing) or 4410 (revoked);
 *   the address is braked for refused tokens (the relay's AuthGuard, shared with HTTP): 4429;
 * - not a document the relay serves: 4404; with `knownWorker`, the inbox of a worker id no
 *   token was ever bound to, for anyone but admin: 4404 (nobody makes the relay load
 *   documents without end);
 * - a principal that may not read the document: 4403; the token already holds
 *   `maxConnectionsPerToken` sockets: 4429.
 */
import { BOARD_DOC, CLOSE, INBOX_PREFIX, LEDGER_DOC, socketProtocolRefusal } from '../../shared/protocol.js';
import type { AuthGuard } from '../auth/guard.js';
import type { Principal } from '../ports.js';
import { canRead, canWrite, clampReason, parseDocName, readDeniedReason } from './acl.js';

export interface AdmissionRules {
  guard: AuthGuard;
  maxConnectionsPerToken: number;
  /** Does this worker id exist (a token was bound to it)? Default: every id does. */
  knownWorker?: (workerId: string) => boolean;
}

export interface AdmissionRequest {
  token: string | undefined;
  address: string | undefined;
  /** The decoded document name, or undefined when the path did not decode. */
  docName: string | undefined;
  closing: boolean;
  /** The protocol version the client named (`OWP-Protocol` header or `?protocol=`), if any. */
  protocol?: string;
  /** Sockets the token holds now. */
  socketsOf(tokenId: string): number;
}

export type Admission = { ok: true; principal: Principal; docName: string; writable: boolean } | { ok: false; code: number; reason: string };

const refuse = (code: number, reason: string): Admission => ({ ok: false, code, reason: clampReason(reason) });

export function admit(rules: AdmissionRules, req: AdmissionRequest): Admission {
  if (req.closing) return refuse(CLOSE.shuttingDown, 'shutting-down: the relay is stopping');
  const version = socketProtocolRefusal(req.protocol);
  if (version) return refuse(version.code, version.reason);
  const check = rules.guard.check(req.token, req.address);
  if (!check.ok) {
    const code = check.code === 'token-revoked' ? CLOSE.revoked : check.code === 'rate-limited' ? CLOSE.tooMany : CLOSE.unauthorized;
    return refuse(code, check.message);
  }
  const principal = check.principal;
  const docName = req.docName;
  const kind = docName === undefined ? undefined : parseDocName(docName);
  if (docName === undefined || !kind) {
    return refuse(CLOSE.unknownDoc, `not-found: no document ${docName ?? ''}; use ${BOARD_DOC}, ${LEDGER_DOC} or ${INBOX_PREFIX}<workerId>`);
  }
  if (kind.kind === 'inbox' && principal.role !== 'admin' && rules.knownWorker && !rules.knownWorker(kind.workerId)) {
    return refuse(CLOSE.unknownDoc, `unknown-worker: no worker ${kind.workerId}; an admin creates its token first`);
  }
  if (!canRead(principal, docName)) return { ok: false, code: CLOSE.forbidden, reason: readDeniedReason(principal, docName) };
  const max = rules.maxConnectionsPerToken;
  if (req.socketsOf(principal.tokenId) >= max) {
    return refuse(CLOSE.tooMany, `rate-limited: this token has ${max} sockets open; close other clients that use it`);
  }
  return { ok: true, principal, docName, writable: canWrite(principal, docName) };
}
