/**
 * `owp serve --reset-admin`, audited: every admin token is revoked, a new one is created, and
 * an `admin-reset` entry enters the audit chain: who ran it (the operating-system user and
 * host of the process: the reset needs the data folder, so it is whoever can run the relay on
 * it), when, how many admin tokens were revoked (`before`) and the new token's id (`reason`).
 * Never a token: not the new one, not a revoked one.
 *
 * Invariants:
 * - With one relay per store the token writes and the audit entry are one atomic batch,
 *   written while the audit log's writer lock is held: a reset is recorded, or did not happen.
 * - With several relays on one database (docs/SCALING.md) the audit chain is the arbiter's:
 *   the entry is appended through the fenced store after the reset; a relay that is not the
 *   arbiter logs a warning with the same facts instead (the reset itself still happens).
 */
import { hostname, userInfo } from 'node:os';
import type { AuditEvent } from '../../shared/model.js';
import type { AuditEntry, AuditLog } from '../audit/index.js';
import type { Logger } from '../ports.js';
import type { TokenStore } from './index.js';

export interface ResetAdminOptions {
  tokens: TokenStore;
  audit: AuditLog;
  /** The tokens and the audit log live in the same store (no fenced arbiter store between them). */
  sameStore: boolean;
  /** The ledger's batch number now (every audit event names one). */
  batch: () => number;
  now: () => number;
  log: Logger;
  /** Who ran the reset (default: `operator-<OS user>`, `<user>@<host>` in the reason). */
  who?: { actor: string; where: string };
}

/** The operating-system user running this process, as an audit actor and a `user@host` place. */
export function processOperator(): { actor: string; where: string } {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    // A container user without a passwd entry.
    user = `uid${process.getuid?.() ?? '?'}`;
  }
  const safe = user.replace(/[^A-Za-z0-9_.@-]/g, '-').slice(0, 60) || 'unknown';
  return { actor: `operator-${safe}`, where: `${safe}@${hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64)}` };
}

/** Revoke every admin token, create one, and audit it; returns the new token (shown once). */
export async function resetAdminsAudited(o: ResetAdminOptions): Promise<{ created: string; revoked: number }> {
  const who = o.who ?? processOperator();
  const event = (revoked: number, createdId: string): AuditEvent => ({
    kind: 'admin-reset',
    at: o.now(),
    batch: o.batch(),
    actor: who.actor,
    before: revoked,
    after: 1,
    reason: `owp serve --reset-admin by ${who.where}: revoked ${revoked} admin token${revoked === 1 ? '' : 's'}, created admin token ${createdId}`,
  });
  if (o.sameStore) {
    return o.audit.exclusive(async () => {
      let entries: AuditEntry[] = [];
      const r = await o.tokens.resetAdmins((revoked, createdId) => {
        const prepared = o.audit.prepare([event(revoked, createdId)]);
        entries = prepared.entries;
        return prepared.ops;
      });
      o.audit.commit(entries);
      o.log.info('admin tokens reset (--reset-admin)', { actor: who.actor, revoked: r.revoked, tokenId: r.createdId });
      return r;
    });
  }
  const r = await o.tokens.resetAdmins();
  const e = event(r.revoked, r.createdId);
  try {
    await o.audit.append([e]);
    o.log.info('admin tokens reset (--reset-admin)', { actor: who.actor, revoked: r.revoked, tokenId: r.createdId });
  } catch (err) {
    o.log.warn('admin tokens reset (--reset-admin), not in the audit log: this relay is not the arbiter', { actor: who.actor, revoked: r.revoked, tokenId: r.createdId, reason: e.reason, error: String((err as Error)?.message ?? err) });
  }
  return r;
}
