/**
 * The fake GitHub's App side (see server.ts): `POST /app/installations/:id/access_tokens`
 * answers a request signed with the app's JWT (RS256, verified with the app's public key,
 * `iss` = app id, `exp` in the future and at most about ten minutes after `iat`, as GitHub
 * checks them) with an installation token that expires; requests with an expired installation
 * token get 401 "Bad credentials", as GitHub answers them.
 *
 * Invariants: JWTs are checked against the wall clock (the app signs them with it); token
 * expiry uses the app's own clock, which tests move with `advance` (no waiting).
 */
import { randomBytes, verify, type KeyObject } from 'node:crypto';

export interface FakeAppOptions {
  id: string;
  /** The app's public key (PEM or KeyObject): the fake keeps no private key. */
  publicKey: string | KeyObject;
  installationId: string;
  /** The app's slug: it acts as `<slug>[bot]`. Default `owp-pool`. */
  slug?: string;
  /** How long an installation token lives. Default one hour (GitHub's). */
  tokenLifetimeMs?: number;
}

export interface AppAnswer {
  status: number;
  body: unknown;
}

const bad = (message: string): AppAnswer => ({ status: 401, body: { message, documentation_url: 'https://docs.github.com/rest' } });

export class FakeGithubApp {
  readonly login: string;
  /** Every installation token issued, in order. */
  readonly issued: { token: string; expiresAt: number }[] = [];
  /** Requests refused because their installation token had expired. */
  expiredRefusals = 0;
  private offsetMs = 0;

  constructor(readonly opts: FakeAppOptions) {
    this.login = `${opts.slug ?? 'owp-pool'}[bot]`;
  }

  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** Move the app's clock (token expiry) forward. */
  advance(ms: number): void {
    this.offsetMs += ms;
  }

  /** Answers the token endpoint; undefined for any other request. */
  handle(method: string, path: string, authorization: string): AppAnswer | undefined {
    const m = /^\/app\/installations\/([^/]+)\/access_tokens$/.exec(path);
    if (!m) return undefined;
    if (method !== 'POST') return { status: 404, body: { message: 'Not Found' } };
    const jwt = /^Bearer (.+)$/i.exec(authorization)?.[1];
    if (!jwt) return bad('A JSON web token could not be decoded');
    const why = this.checkJwt(jwt);
    if (why) return bad(why);
    if (m[1] !== this.opts.installationId) return { status: 404, body: { message: 'Not Found' } };
    const token = `ghs_${randomBytes(18).toString('hex')}`;
    const expiresAt = this.now() + (this.opts.tokenLifetimeMs ?? 60 * 60 * 1000);
    this.issued.push({ token, expiresAt });
    const body = { token, expires_at: new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z'), permissions: { issues: 'write', pull_requests: 'write', metadata: 'read' }, repository_selection: 'all' };
    return { status: 201, body };
  }

  /** `login` for a live installation token, 'expired' for an expired one, undefined if not ours. */
  identify(token: string): string | 'expired' | undefined {
    const t = this.issued.find((i) => i.token === token);
    if (!t) return undefined;
    if (t.expiresAt <= this.now()) {
      this.expiredRefusals += 1;
      return 'expired';
    }
    return this.login;
  }

  private checkJwt(jwt: string): string | undefined {
    const [h, p, sig] = jwt.split('.');
    if (!h || !p || !sig) return 'A JSON web token could not be decoded';
    let header: { alg?: string };
    let payload: { iss?: unknown; iat?: unknown; exp?: unknown };
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
      payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    } catch {
      return 'A JSON web token could not be decoded';
    }
    if (header.alg !== 'RS256') return 'A JSON web token could not be decoded';
    if (!verify('RSA-SHA256', Buffer.from(`${h}.${p}`), this.opts.publicKey, Buffer.from(sig, 'base64url'))) return 'A JSON web token could not be decoded';
    const now = Math.floor(Date.now() / 1000);
    if (typeof payload.exp !== 'number' || payload.exp <= now) return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires";
    if (typeof payload.iat !== 'number' || payload.iat > now + 60) return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued";
    if (payload.exp - payload.iat > 660) return "'Expiration time' claim ('exp') is too far in the future";
    if (String(payload.iss) !== this.opts.id) return 'Integration not found';
    return undefined;
  }
}
