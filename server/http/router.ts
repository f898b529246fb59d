/**
 * A tiny HTTP router (no framework) for the relay's API and the feature modules' routes.
 *
 * Invariants:
 * - Every refusal is JSON `{ error: { code, message } }` with the status of its code
 *   (shared/errors.ts); an unexpected exception is logged and answered 500 `internal`,
 *   never crashes the process and never leaks a stack trace.
 * - Auth happens before the handler runs: no token / unknown token -> 401, revoked -> 401
 *   `token-revoked`, role not allowed -> 403. `admin` may call every route. Refused tokens
 *   are braked per address (../auth/guard.ts): past the brake, 429 for every token.
 * - Only the path of a URL is ever logged, never its query (it may hold `?token=`).
 * - One access-log line per request once its answer ends (./access-log.ts): method, route
 *   pattern, status, duration, role, client address and the error code of a refusal.
 * - Bodies are capped (default 1 MiB) -> 413 before they are buffered whole. A JSON body
 *   must be valid UTF-8 (else 400 `invalid-json`): bytes are never silently replaced by U+FFFD;
 *   and nest at most 64 levels (else 400 `invalid-json`, checked before parsing).
 * - Rate limit per token (or per address without one): a token bucket -> 429 with
 *   Retry-After (seconds).
 * - Path segments are percent-decoded one by one, so task ids may contain `/` as `%2F`.
 * - Every answer carries `OWP-Protocol`; a request naming another major version in that
 *   header is refused (400 unsupported-protocol) before auth or any effect (OWP-VER-3).
 * - A JSON error message is a plain sentence: it never repeats its code in front (that is
 *   only the form of socket close reasons).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { OwpError, httpStatusFor, isOwpError, quote, untrusted } from '../../shared/errors.js';
import { AuthGuard, DEFAULT_AUTH_FAILURE_LIMIT, type GuardedCheck } from '../auth/guard.js';
import { tokenFromRequest, type TokenStore } from '../auth/index.js';
import type { Logger, Principal, Route, RouteContext } from '../ports.js';
import { clientProtocol, PROTOCOL_HEADER, PROTOCOL_VERSION } from '../../shared/protocol.js';
import { RateLimiter, retryAfterSeconds, type RateLimitOptions } from '../ratelimit/index.js';
import { logRequest, type RequestNote } from './access-log.js';
import { socketAddress, type AddressOf } from './client-address.js';

export const DEFAULT_BODY_LIMIT = 1024 * 1024;
export const DEFAULT_JSON_DEPTH = 64;

/**
 * How deep the arrays and objects of a JSON text nest, counted without parsing (brackets
 * inside strings do not count); stops counting past `stopAt`. Deep input never reaches a
 * recursive step (a validator, an error message) that could overflow the stack.
 */
export function jsonDepth(text: string, stopAt = Infinity): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max && (max = depth) > stopAt) return max;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export interface RouterOptions {
  tokens: TokenStore;
  log: Logger;
  bodyLimit?: number;
  /** Deepest nesting of a JSON body (default 64): deeper is 400 invalid-json, before parsing. */
  jsonDepth?: number;
  /** `false` turns rate limiting off. Default 50 req/s, burst 100. */
  rateLimit?: RateLimitOptions | false;
  now?: () => number;
  shuttingDown?: () => boolean;
  /** Shared with the event stream and sockets; default: a guard of its own. */
  guard?: AuthGuard;
  /** The client's address for brakes, limits and logs (default: the socket's; see OWP_TRUST_PROXY). */
  addressOf?: AddressOf;
  /** Every answered request, by method, route pattern and status (metrics). */
  onAnswered?: (method: string, route: string | undefined, status: number) => void;
}

interface Compiled {
  route: Route;
  segments: string[];
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, e: OwpError, headers: Record<string, string> = {}): void {
  sendJson(res, httpStatusFor(e.code), { error: e.toJSON() }, headers);
}

function splitPath(pathname: string): string[] | undefined {
  const parts = pathname.split('/').filter((s) => s.length > 0);
  try {
    return parts.map((p) => decodeURIComponent(p));
  } catch {
    return undefined;
  }
}

/** Characters WHATWG URL parsing leaves as they are in a path. */
const PLAIN_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;

/**
 * The pathname of a request target without a URL parse when parsing could not change it
 * (no dot segments, `%2e`, `//` start, backslash, fragment or character URL would encode);
 * undefined otherwise (then `new URL` decides). A URL parse per request was ~2% of the relay's
 * CPU under load (docs/BENCHMARKS.md "Profile").
 */
export function plainPathname(target: string | undefined): string | undefined {
  if (target === undefined) return undefined;
  const q = target.indexOf('?');
  const p = q < 0 ? target : target.slice(0, q);
  if (!PLAIN_PATH.test(p) || p.startsWith('//') || p.includes('/.') || /%2e/i.test(p)) return undefined;
  return p;
}

export class Router {
  private readonly routes: Compiled[] = [];
  /** The per-token request budget; the intent channel (server/intents-ws) takes from it too. */
  readonly limiter: RateLimiter | undefined;
  private readonly bodyLimit: number;
  private readonly guard: AuthGuard;
  private readonly addressOf: AddressOf;

  constructor(private readonly o: RouterOptions) {
    this.addressOf = o.addressOf ?? socketAddress;
    this.bodyLimit = o.bodyLimit ?? DEFAULT_BODY_LIMIT;
    this.guard = o.guard ?? new AuthGuard(o.tokens, DEFAULT_AUTH_FAILURE_LIMIT, o.now ?? Date.now);
    this.limiter = o.rateLimit === false ? undefined : new RateLimiter(o.rateLimit ?? {}, o.now ?? Date.now);
  }

  add(routes: Route[]): void {
    for (const route of routes) this.routes.push({ route, segments: route.path.split('/').filter((s) => s.length > 0) });
  }

  private match(method: string, segs: string[]): { route?: Route; params: Record<string, string>; methodMismatch: boolean } {
    let methodMismatch = false;
    for (const c of this.routes) {
      if (c.segments.length !== segs.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < segs.length; i++) {
        const pat = c.segments[i];
        if (pat.startsWith(':')) params[pat.slice(1)] = segs[i];
        else if (pat !== segs[i]) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      if (c.route.method !== method && !(method === 'HEAD' && c.route.method === 'GET')) {
        methodMismatch = true;
        continue;
      }
      return { route: c.route, params, methodMismatch };
    }
    return { params: {}, methodMismatch };
  }

  /** Handle a request; answers 404 JSON when no route matches. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Every answer names the protocol version this relay speaks (docs/PROTOCOL.md, Versioning).
    res.setHeader(PROTOCOL_HEADER, PROTOCOL_VERSION);
    const note: RequestNote = { started: performance.now() };
    res.once('close', () => {
      this.o.onAnswered?.(req.method ?? '?', note.route, res.statusCode);
      logRequest(this.o.log, req, res, note, this.addressOf(req));
    });
    try {
      await this.dispatch(req, res, note);
    } catch (e) {
      if (isOwpError(e)) note.code = e.code;
      if (e instanceof RetryLater) {
        sendError(res, e, { 'retry-after': String(e.retryAfterSec) });
      } else if (isOwpError(e)) {
        sendError(res, e, e.code === 'payload-too-large' ? { connection: 'close' } : {});
      } else if (req.socket.destroyed) {
        // The client went away mid-request (or was timed out): nobody to answer, nothing broke.
        res.destroy();
      } else {
        this.o.log.error('request failed', { method: req.method, url: req.url?.split('?')[0], error: String((e as Error)?.stack ?? e) });
        sendError(res, new OwpError('internal', 'The relay hit an unexpected error; it is logged. Retry, and report it if it persists.'));
      }
    }
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse, note: RequestNote): Promise<void> {
    let parsed: URL | undefined;
    const parseUrl = () => (parsed ??= new URL(req.url ?? '/', 'http://relay.invalid'));
    const url = { pathname: plainPathname(req.url) ?? parseUrl().pathname };
    const segs = splitPath(url.pathname);
    if (!segs) throw new OwpError('invalid-field', 'The request path is not valid percent-encoding.');
    const { route, params, methodMismatch } = this.match(req.method ?? 'GET', segs);
    if (!route) {
      if (methodMismatch) throw new OwpError('not-found', `${untrusted(req.method, 20)} is not supported on ${untrusted(url.pathname, 200)}; see docs/PROTOCOL.md.`);
      if (segs.length > 3 && segs[0] === 'api' && segs[1] === 'tasks') throw new OwpError('not-found', unencodedTaskIdMessage(url.pathname));
      throw new OwpError('not-found', `No endpoint at ${untrusted(url.pathname, 200)}; see docs/PROTOCOL.md.`);
    }
    note.route = route.path;
    if (this.o.shuttingDown?.() && route.auth !== 'none') {
      throw new OwpError('shutting-down', 'The relay is shutting down; retry in a moment.');
    }
    if (route.auth !== 'none') checkClientProtocol(req.headers[PROTOCOL_HEADER.toLowerCase()]);
    let principal: Principal | undefined;
    if (route.auth !== 'none') {
      const check = this.guard.check(tokenFromRequest(req), this.addressOf(req));
      if (!check.ok) throw refusal(check);
      principal = check.principal;
      note.role = principal.role;
      if (principal.role !== 'admin' && !route.auth.includes(principal.role)) {
        throw new OwpError('not-authorized', `${aOrAn(principal.role, true)} ${principal.role} token may not call ${route.method} ${route.path}; it needs ${route.auth.join(' or ')}.`);
      }
    }
    if (this.limiter) {
      const key = principal ? `t:${principal.tokenId}` : `a:${this.addressOf(req) ?? '?'}`;
      const wait = this.limiter.take(key);
      if (wait > 0) {
        const secs = retryAfterSeconds(wait);
        throw new RetryLater(`Too many requests; wait ${secs} s (see Retry-After) and slow down.`, secs);
      }
    }
    let body: Promise<Buffer> | undefined;
    const rawBody = () => (body ??= readBody(req, this.bodyLimit));
    const maxDepth = this.o.jsonDepth ?? DEFAULT_JSON_DEPTH;
    const ctx: RouteContext = {
      req,
      res,
      get url() {
        return parseUrl();
      },
      params,
      principal,
      rawBody,
      async json<T>() {
        const buf = await rawBody();
        if (buf.length === 0) return {} as T;
        let text: string;
        try {
          text = strictUtf8.decode(buf);
        } catch {
          throw new OwpError('invalid-json', 'The request body is not valid UTF-8; send JSON encoded as UTF-8.');
        }
        const depth = jsonDepth(text, maxDepth);
        if (depth > maxDepth) throw new OwpError('invalid-json', `The request body nests JSON deeper than ${maxDepth} levels; no request of the protocol needs more than a few.`);
        try {
          return JSON.parse(text) as T;
        } catch {
          throw new OwpError('invalid-json', 'The request body is not valid JSON; send a JSON object with Content-Type: application/json.');
        }
      },
      send: (status, b) => {
        if (status >= 400) note.code = errorCodeOf(b);
        sendJson(res, status, b);
      },
    };
    await route.handler(ctx);
  }
}

/** The `error.code` of a JSON error answer, if it has one. */
function errorCodeOf(b: unknown): string | undefined {
  const code = (b as { error?: { code?: unknown } } | null)?.error?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The error for a refused token check (a braked address carries its Retry-After). Token
 * checks word their message as a socket close reason (`unauthorized: no token; ...`); over
 * HTTP the code is already in `code`, so the message is the plain sentence.
 */
export function refusal(check: Exclude<GuardedCheck, { ok: true }>): OwpError {
  const message = plainSentence(check.code, check.message);
  return check.code === 'rate-limited' ? new RetryLater(message, check.retryAfterSec) : new OwpError(check.code, message);
}

/** `code: some words` -> `Some words.`; a message without its code in front is kept as it is. */
export function plainSentence(code: string, message: string): string {
  if (!message.startsWith(code + ': ')) return message;
  const rest = message.slice(code.length + 2).trim();
  if (rest.length === 0) return message;
  const sentence = rest[0].toUpperCase() + rest.slice(1);
  return /[.!?]$/.test(sentence) ? sentence : sentence + '.';
}

/**
 * A client MAY name its protocol version in the OWP-Protocol header (OWP-VER-3): another
 * major version is refused before anything happens, so a client never acts on answers it
 * would misread. Public routes (/healthz first) answer whatever the header says.
 */
function checkClientProtocol(header: string | string[] | undefined): void {
  const v = Array.isArray(header) ? header.join(',') : header;
  const verdict = clientProtocol(v);
  if (verdict === 'malformed') {
    throw new OwpError('invalid-field', `The ${PROTOCOL_HEADER} header must be a version such as ${PROTOCOL_VERSION} (MAJOR.MINOR), not ${quote(v)}.`, PROTOCOL_HEADER);
  }
  if (verdict === 'unsupported') {
    throw new OwpError(
      'unsupported-protocol',
      `This relay speaks protocol ${PROTOCOL_VERSION}; a client of protocol ${v!.trim()} cannot use it. Use a client for protocol ${PROTOCOL_VERSION.split('.')[0]}.x (or a relay for ${v!.trim()}).`,
      PROTOCOL_HEADER,
    );
  }
}

/** `a` or `an` before a word, by its first letter (`an admin`, `a maintainer`). */
export function aOrAn(word: string, capital = false): string {
  const article = /^[aeiou]/i.test(word) ? 'an' : 'a';
  return capital ? article[0].toUpperCase() + article.slice(1) : article;
}

/** A 404 under /api/tasks/ with more segments than any route: most likely a task id sent unencoded. */
function unencodedTaskIdMessage(pathname: string): string {
  return (
    `No endpoint at ${untrusted(pathname, 200)}. Task ids contain /, : and # (such as octo/app#12), so put them in the path ` +
    `encoded with encodeURIComponent: /api/tasks/${encodeURIComponent('octo/app#12')}/heartbeat. ` +
    'An unencoded # also cuts the path there. See docs/PROTOCOL.md.'
  );
}

/** A `rate-limited` refusal that carries its Retry-After (seconds). */
export class RetryLater extends OwpError {
  constructor(
    message: string,
    readonly retryAfterSec: number,
  ) {
    super('rate-limited', message);
  }
}

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(tooLarge(limit));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        chunks.length = 0;
        req.resume();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks));
      }
    });
    req.on('error', (e) => {
      if (!done) {
        done = true;
        reject(e);
      }
    });
  });
}

function tooLarge(limit: number): OwpError {
  return new OwpError('payload-too-large', `The request body is over ${Math.round(limit / 1024)} KiB; send less at once (split task imports into batches).`);
}
