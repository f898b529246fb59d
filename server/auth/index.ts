/**
 * Tokens: who is calling the relay, in which role.
 *
 * Invariants:
 * - A token is `owp_` + base64url of 32 random bytes. It is shown once (the return value of
 *   `create`, or `ensureAdmin`'s `created`) and never stored: LevelDB holds only its SHA-256
 *   under `auth/<sha256 hex>` and an index `auth-id/<id>` -> sha256 hex.
 * - `verify` compares digests in constant time and returns undefined for unknown or revoked
 *   tokens. The digests of up to DIGEST_CACHE recently used known tokens are kept in memory
 *   (never stored), so a busy caller's token is not hashed on every request; the record is
 *   still looked up each time, so a revocation counts at once. It is synchronous (an in-memory copy of the table, loaded by `open`, written
 *   through on every change), so the socket upgrade path and every HTTP request can use it.
 * - A worker token is bound to exactly one worker id; other roles carry none.
 * - Revocation is permanent and notifies `onRevoke` listeners at once (sockets, SSE streams).
 * - `hasWorker(id)`: some token (live or revoked) was ever bound to that worker id.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { OwpError } from '../../shared/errors.js';
import { isWorkerId } from '../../shared/model.js';
import { PROTOCOL_HEADER } from '../../shared/protocol.js';
import { ROLES as PROTOCOL_ROLES } from '../../shared/protocol.js';
import type { Principal, Role } from '../ports.js';
import type { Store, StoreOp } from '../store/index.js';

export const ROLES: readonly Role[] = PROTOCOL_ROLES;
const AUTH_PREFIX = 'auth/';
const ID_PREFIX = 'auth-id/';
/** An operator-chosen admin token (OWP_ADMIN_TOKEN) must be at least this long. */
export const MIN_ENV_TOKEN_LENGTH = 16;
/** How many known tokens' digests `check` keeps (oldest dropped first). */
export const DIGEST_CACHE = 4096;

export interface TokenRecord {
  id: string;
  /** sha256 hex of the token. */
  hash: string;
  role: Role;
  workerId?: string;
  name?: string;
  createdAt: number;
  revokedAt?: number;
  /** `env`: the token OWP_ADMIN_TOKEN names (syncEnvAdmin keeps only the current one live). */
  source?: 'env';
}

const ENV_ADMIN_NAME = 'OWP_ADMIN_TOKEN';
/** Records saved for OWP_ADMIN_TOKEN (those from before `source` existed carry only its name). */
const isEnvAdmin = (r: TokenRecord) => r.role === 'admin' && (r.source === 'env' || (r.source === undefined && r.name === ENV_ADMIN_NAME));

export interface TokenInfo {
  id: string;
  role: Role;
  workerId?: string;
  name?: string;
  createdAt: number;
  revokedAt?: number;
}

export interface CreatedToken {
  id: string;
  token: string;
  role: Role;
  workerId?: string;
  name?: string;
  createdAt: number;
}

export type TokenCheck =
  | { ok: true; principal: Principal }
  | { ok: false; code: 'unauthorized' | 'token-revoked'; message: string };

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function generateToken(): string {
  return 'owp_' + randomBytes(32).toString('base64url');
}

/**
 * The protocol version a socket upgrade names: the `OWP-Protocol` header, else `?protocol=`
 * (browsers and y-websocket set no headers); checked with shared/protocol.ts socketProtocolRefusal.
 */
export function protocolFromRequest(req: IncomingMessage): string | undefined {
  const h = req.headers[PROTOCOL_HEADER.toLowerCase()];
  if (h !== undefined) return Array.isArray(h) ? h.join(',') : h;
  try {
    return new URL(req.url ?? '/', 'http://relay.invalid').searchParams.get('protocol') ?? undefined;
  } catch {
    return undefined;
  }
}

/** The token of an HTTP or upgrade request: `Authorization: Bearer <t>` first, else `?token=`. */
export function tokenFromRequest(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (m) return m[1];
  }
  try {
    const u = new URL(req.url ?? '/', 'http://relay.invalid');
    const t = u.searchParams.get('token');
    return t ? t : undefined;
  } catch {
    return undefined;
  }
}

function info(r: TokenRecord): TokenInfo {
  const out: TokenInfo = { id: r.id, role: r.role, createdAt: r.createdAt };
  if (r.workerId !== undefined) out.workerId = r.workerId;
  if (r.name !== undefined) out.name = r.name;
  if (r.revokedAt !== undefined) out.revokedAt = r.revokedAt;
  return out;
}

function principalOf(r: TokenRecord): Principal {
  const p: Principal = { role: r.role, tokenId: r.id };
  if (r.workerId !== undefined) p.workerId = r.workerId;
  if (r.name !== undefined) p.name = r.name;
  return p;
}

export class TokenStore {
  private readonly byHash = new Map<string, TokenRecord>();
  /** Token -> its sha256 hex, for known tokens only (see the module header). */
  private readonly digests = new Map<string, string>();
  private readonly byId = new Map<string, TokenRecord>();
  private readonly workers = new Set<string>();
  private readonly revokeListeners = new Set<(tokenId: string) => void>();
  private readonly writeListeners = new Set<() => void>();

  private constructor(
    private readonly store: Store,
    private readonly now: () => number,
    private readonly digestCache: number,
  ) {}

  /** `digestCache`: how many known tokens' digests to keep (default DIGEST_CACHE). */
  static async open(store: Store, opts: { now?: () => number; digestCache?: number } = {}): Promise<TokenStore> {
    const ts = new TokenStore(store, opts.now ?? Date.now, Math.max(0, opts.digestCache ?? DIGEST_CACHE));
    await ts.reload();
    return ts;
  }

  /**
   * Read the table again (another relay on the same database created or revoked tokens);
   * a token found revoked now notifies `onRevoke` as if revoked here.
   */
  async reload(): Promise<void> {
    for (const [, rec] of await this.store.entries<TokenRecord>(AUTH_PREFIX)) {
      const before = this.byId.get(rec.id);
      this.byHash.set(rec.hash, rec);
      this.byId.set(rec.id, rec);
      if (rec.workerId !== undefined) this.workers.add(rec.workerId);
      if (before && before.revokedAt === undefined && rec.revokedAt !== undefined) for (const l of this.revokeListeners) l(rec.id);
    }
  }

  /** Called after this store wrote a token (created or revoked): other relays may reload. */
  onWrite(listener: () => void): () => void {
    this.writeListeners.add(listener);
    return () => this.writeListeners.delete(listener);
  }

  async create(input: { role: Role; workerId?: string; name?: string }): Promise<CreatedToken> {
    const { role, workerId, name } = validateInput(input);
    const token = generateToken();
    const rec: TokenRecord = { id: randomUUID(), hash: hashToken(token), role, createdAt: this.now() };
    if (workerId !== undefined) rec.workerId = workerId;
    if (name !== undefined) rec.name = name;
    await this.save(rec);
    const out: CreatedToken = { id: rec.id, token, role, createdAt: rec.createdAt };
    if (workerId !== undefined) out.workerId = workerId;
    if (name !== undefined) out.name = name;
    return out;
  }

  /** The principal of a live token, or undefined (unknown, malformed or revoked). */
  verify(token: string | undefined): Principal | undefined {
    const c = this.check(token);
    return c.ok ? c.principal : undefined;
  }

  /**
   * Like `verify`, but says why a token is refused (so sockets can close with 4401 or 4410).
   * The message is worded as a socket close reason, `<code>: <sentence>` (docs/PROTOCOL.md);
   * the HTTP router answers the plain sentence (router.ts `refusal`).
   */
  check(token: string | undefined): TokenCheck {
    if (typeof token !== 'string' || token.length === 0 || token.length > 512) {
      return { ok: false, code: 'unauthorized', message: 'unauthorized: no token; pass one as ?token= or Authorization: Bearer' };
    }
    const cached = this.digests.get(token);
    const digest = cached ?? hashToken(token);
    const rec = this.byHash.get(digest);
    if (!rec || (cached === undefined && !timingSafeEqual(Buffer.from(digest, 'hex'), Buffer.from(rec.hash, 'hex')))) {
      return { ok: false, code: 'unauthorized', message: 'unauthorized: this token is not known to the relay; ask an admin for one' };
    }
    if (cached === undefined && this.digestCache > 0) {
      if (this.digests.size >= this.digestCache) this.digests.delete(this.digests.keys().next().value!);
      this.digests.set(token, digest);
    }
    if (rec.revokedAt !== undefined) {
      return { ok: false, code: 'token-revoked', message: 'token-revoked: this token was revoked; ask an admin for a new one' };
    }
    return { ok: true, principal: principalOf(rec) };
  }

  /** Was a token ever bound to this worker id? */
  hasWorker(workerId: string): boolean {
    return this.workers.has(workerId);
  }

  get(id: string): TokenInfo | undefined {
    const r = this.byId.get(id);
    return r ? info(r) : undefined;
  }

  list(): TokenInfo[] {
    return [...this.byId.values()].map(info).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  }

  /** Revoke a token by id. Throws OwpError('not-found'). Revoking twice keeps the first time. */
  async revoke(id: string): Promise<{ id: string; revokedAt: number }> {
    const rec = this.byId.get(id);
    if (!rec) throw new OwpError('not-found', `No token with id ${JSON.stringify(id.length > 64 ? `${id.slice(0, 64)}…` : id)}; list tokens with GET /api/tokens.`);
    if (rec.revokedAt === undefined) {
      await this.save({ ...rec, revokedAt: this.now() });
    }
    const revokedAt = this.byId.get(id)!.revokedAt!;
    this.notifyRevoked(id);
    return { id, revokedAt };
  }

  private notifyRevoked(id: string): void {
    for (const cb of this.revokeListeners) {
      try {
        cb(id);
      } catch {
        // a listener's failure must not keep the others from closing their sockets
      }
    }
  }

  onRevoke(cb: (tokenId: string) => void): () => void {
    this.revokeListeners.add(cb);
    return () => this.revokeListeners.delete(cb);
  }

  /**
   * OWP_ADMIN_TOKEN, then the first admin token: `syncEnvAdmin` and, once the relay listens,
   * `ensureFirstAdmin` (startRelay calls them apart so that a start that fails creates
   * nothing). Kept for callers that want both at once.
   */
  async ensureAdmin(envToken?: string): Promise<{ created?: string }> {
    await this.syncEnvAdmin(envToken);
    return this.ensureFirstAdmin();
  }

  /**
   * OWP_ADMIN_TOKEN is an additional admin token that lives exactly as long as the variable
   * names it: set, it is (made) a live admin token (its hash only); the token of a previous
   * value, or of a variable now unset, is revoked. So changing the variable never piles up
   * admins. Tokens made by `ensureFirstAdmin` or the API are not touched. Returns how many
   * previous OWP_ADMIN_TOKEN tokens were revoked.
   */
  async syncEnvAdmin(envToken?: string): Promise<{ revoked: number }> {
    const given = envToken !== undefined && envToken !== '' ? envToken : undefined;
    if (given !== undefined && (given.length < MIN_ENV_TOKEN_LENGTH || /\s/.test(given))) {
      throw new OwpError('invalid-field', `OWP_ADMIN_TOKEN must be at least ${MIN_ENV_TOKEN_LENGTH} characters without spaces; generate one with: openssl rand -base64 32`, 'OWP_ADMIN_TOKEN');
    }
    const hash = given === undefined ? undefined : hashToken(given);
    let revoked = 0;
    for (const rec of [...this.byId.values()]) {
      if (isEnvAdmin(rec) && rec.hash !== hash && rec.revokedAt === undefined) {
        await this.revoke(rec.id);
        revoked++;
      }
    }
    if (hash !== undefined) {
      const rec = this.byHash.get(hash);
      if (!(rec && rec.role === 'admin' && rec.revokedAt === undefined && isEnvAdmin(rec))) {
        // The operator set this token deliberately: (re)make it a live admin token.
        await this.save({ id: rec?.id ?? randomUUID(), hash, role: 'admin', name: ENV_ADMIN_NAME, source: 'env', createdAt: rec?.createdAt ?? this.now() });
      }
    }
    return { revoked };
  }

  /** Without a live admin token, create one and return it once in `created`. */
  async ensureFirstAdmin(): Promise<{ created?: string }> {
    const live = [...this.byId.values()].some((r) => r.role === 'admin' && r.revokedAt === undefined);
    if (live) return {};
    const created = await this.create({ role: 'admin', name: 'initial admin' });
    return { created: created.token };
  }

  /**
   * `owp serve --reset-admin`: revoke every admin token and create a new one (returned once),
   * in one atomic store batch with the ops `also` returns (the audit entry of the reset:
   * server/auth/reset-admin.ts), so a reset is never left half done or unrecorded.
   */
  async resetAdmins(also?: (revoked: number, createdId: string) => StoreOp[]): Promise<{ revoked: number; created: string; createdId: string }> {
    const at = this.now();
    const revokedRecs = [...this.byId.values()].filter((r) => r.role === 'admin' && r.revokedAt === undefined).map((r) => ({ ...r, revokedAt: at }));
    const token = generateToken();
    const fresh: TokenRecord = { id: randomUUID(), hash: hashToken(token), role: 'admin', name: 'admin (reset)', createdAt: at };
    const recs = [...revokedRecs, fresh];
    await this.store.batch([...recs.flatMap((rec) => this.recordOps(rec)), ...(also?.(revokedRecs.length, fresh.id) ?? [])]);
    for (const rec of recs) this.remember(rec);
    for (const rec of revokedRecs) this.notifyRevoked(rec.id);
    for (const l of this.writeListeners) l();
    return { revoked: revokedRecs.length, created: token, createdId: fresh.id };
  }

  private recordOps(rec: TokenRecord): StoreOp[] {
    return [
      { type: 'put', key: AUTH_PREFIX + rec.hash, value: rec },
      { type: 'put', key: ID_PREFIX + rec.id, value: rec.hash },
    ];
  }

  private remember(rec: TokenRecord): void {
    this.byHash.set(rec.hash, rec);
    this.byId.set(rec.id, rec);
    if (rec.workerId !== undefined) this.workers.add(rec.workerId);
  }

  private async save(rec: TokenRecord): Promise<void> {
    await this.store.batch(this.recordOps(rec));
    this.remember(rec);
    for (const l of this.writeListeners) l();
  }
}

export async function openTokenStore(store: Store, opts: { now?: () => number } = {}): Promise<TokenStore> {
  return TokenStore.open(store, opts);
}

function validateInput(input: { role: Role; workerId?: string; name?: string }): { role: Role; workerId?: string; name?: string } {
  if (!input || !ROLES.includes(input.role)) {
    throw new OwpError('invalid-field', `role must be one of ${ROLES.join(', ')}.`, 'role');
  }
  let workerId: string | undefined;
  if (input.role === 'worker') {
    if (!isWorkerId(input.workerId)) {
      throw new OwpError('invalid-field', 'A worker token needs a workerId of letters, digits and _ . @ - (at most 100).', 'workerId');
    }
    workerId = input.workerId;
  } else if (input.workerId !== undefined) {
    throw new OwpError('invalid-field', `Only worker tokens are bound to a workerId; drop workerId for role ${input.role}.`, 'workerId');
  }
  let name: string | undefined;
  if (input.name !== undefined) {
    if (typeof input.name !== 'string' || input.name.length > 100 || /[\u0000-\u001f]/.test(input.name)) {
      throw new OwpError('invalid-field', 'name must be text of at most 100 characters.', 'name');
    }
    name = input.name;
  }
  return { role: input.role, workerId, name };
}
