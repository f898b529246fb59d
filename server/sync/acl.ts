/**
 * Who may read and write which Yjs document (docs/PROTOCOL.md, "Documents").
 *
 * Invariants (pure functions of role, workerId and document name; no I/O):
 * - `owp/board`: every role reads; admin and maintainer write (plus the relay in-process).
 * - `owp/ledger`: every role reads; no connection writes (the relay alone, in-process).
 * - `owp/inbox/<workerId>`: admin, maintainer and that worker read; admin and that worker write.
 * - Any other name is unknown: nobody reads or writes it (close 4404).
 * - A worker principal without a workerId can reach no inbox.
 */
import { safeText } from '../../shared/errors.js';
import { isWorkerId } from '../../shared/model.js';
import { BOARD_DOC, INBOX_PREFIX, LEDGER_DOC, type Role } from '../../shared/protocol.js';
import type { Principal } from '../ports.js';

export { BOARD_DOC, INBOX_PREFIX, LEDGER_DOC, inboxDoc } from '../../shared/protocol.js';

export type DocKind = { kind: 'board' } | { kind: 'ledger' } | { kind: 'inbox'; workerId: string };

/** What a document name refers to, or undefined for a name the relay does not serve. */
export function parseDocName(name: string): DocKind | undefined {
  if (name === BOARD_DOC) return { kind: 'board' };
  if (name === LEDGER_DOC) return { kind: 'ledger' };
  if (name.startsWith(INBOX_PREFIX)) {
    const workerId = name.slice(INBOX_PREFIX.length);
    if (isWorkerId(workerId)) return { kind: 'inbox', workerId };
  }
  return undefined;
}

type Who = Pick<Principal, 'role' | 'workerId'>;

const isOwnInbox = (p: Who, d: DocKind) => d.kind === 'inbox' && p.role === 'worker' && p.workerId !== undefined && p.workerId === d.workerId;

export function canRead(p: Who, doc: string): boolean {
  const d = parseDocName(doc);
  if (!d) return false;
  if (d.kind === 'board' || d.kind === 'ledger') return true;
  return p.role === 'admin' || p.role === 'maintainer' || isOwnInbox(p, d);
}

export function canWrite(p: Who, doc: string): boolean {
  const d = parseDocName(doc);
  if (!d) return false;
  if (d.kind === 'board') return p.role === 'admin' || p.role === 'maintainer';
  if (d.kind === 'ledger') return false;
  return p.role === 'admin' || isOwnInbox(p, d);
}

/** The rule in words, as the docs state it (for close reasons and errors). */
export function writeRule(doc: string): string {
  const d = parseDocName(doc);
  if (!d) return 'unknown document';
  if (d.kind === 'board') return 'only admin and maintainer write the board';
  if (d.kind === 'ledger') return 'only the relay writes the ledger';
  return 'only its worker and admin write an inbox';
}

export function readRule(doc: string): string {
  const d = parseDocName(doc);
  if (!d) return 'unknown document';
  if (d.kind === 'inbox') return 'only its worker, maintainers and admin read an inbox';
  return 'every role reads it';
}

function describe(role: Role, workerId?: string): string {
  return role === 'worker' && workerId ? `worker ${workerId}` : role;
}

/**
 * WebSocket close reasons are at most 123 UTF-8 bytes: cut whole code points (never half a
 * surrogate pair) and end with `…`, after `safeText` (no control characters, no token). Linear
 * in the reason's length (it may carry a long name).
 */
export function clampReason(unsafe: string): string {
  const reason = safeText(unsafe, 123);
  if (Buffer.byteLength(reason, 'utf8') <= 123) return reason;
  let out = '';
  let bytes = 0;
  for (const ch of reason) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > 120) break; // room for the 3 bytes of '…'
    out += ch;
    bytes += n;
  }
  return out + '…';
}

export function writeDeniedReason(p: Who, doc: string): string {
  return clampReason(`not-authorized: ${describe(p.role, p.workerId)} may not write ${doc} (${writeRule(doc)})`);
}

export function readDeniedReason(p: Who, doc: string): string {
  return clampReason(`not-authorized: ${describe(p.role, p.workerId)} may not read ${doc} (${readRule(doc)})`);
}
