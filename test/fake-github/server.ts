/**
 * A local stand-in for the GitHub REST API (only the endpoints OWP Pool uses), over a real
 * node:http server on port 0, with in-memory repos, issues, pull requests, reviews,
 * comments and labels, plus knobs to make it fail the way GitHub does.
 *
 * Invariants:
 * - Every answer carries x-ratelimit-* headers; a 304 (If-None-Match matched the ETag)
 *   does not use up the rate limit, every other answer does.
 * - Every request is recorded (method, path with query, headers, status) for assertions.
 * - Requests without `authorization: token|Bearer <expected token>` get 401; with `app`, an
 *   installation token (app.ts) is accepted until it expires, and acts as `<slug>[bot]`.
 * - Time is a fake clock that moves one second per mutation, so `updated_at` is strictly
 *   increasing and tests do not depend on the wall clock.
 */
import http from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { routeRequest, type FakeInternals, type Send } from './routes.js';
import { FakeGithubApp, type FakeAppOptions } from './app.js';

export interface FakeLabel { name: string }
export interface FakeIssue {
  number: number;
  title: string;
  body: string | null;
  state: 'open' | 'closed';
  labels: string[];
  created_at: string;
  updated_at: string;
  closed_at: string | null;
  isPr: boolean;
}
export interface FakePull {
  number: number;
  merged: boolean;
  merged_at: string | null;
  head: string;
  /** Owner of the head branch's repository (a fork's owner, else the repo's). */
  headOwner?: string;
  base?: string;
  draft?: boolean;
  /** Login of whoever opened it (the contributor's token). */
  user?: string;
}
export interface FakeReviewComment { id: number; user: { login: string }; path: string; line: number; body: string; created_at: string }
export interface FakeReview { id: number; user: { login: string }; state: string; submitted_at: string; body: string }
export interface FakeComment { id: number; body: string; user: { login: string }; created_at: string; updated_at: string }

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  status: number;
  body?: string;
}

export interface RepoState {
  issues: Map<number, FakeIssue>;
  pulls: Map<number, FakePull>;
  reviews: Map<number, FakeReview[]>;
  comments: Map<number, FakeComment[]>;
  reviewComments: Map<number, FakeReviewComment[]>;
  next: number;
}

interface FailRule {
  remaining: number;
  status: number;
  /** Handle the request (store its effect) and then answer with the failure. */
  afterHandle: boolean;
  match?: (method: string, path: string) => boolean;
  secondary?: { retryAfter: number };
}

export interface FakeGithubOptions {
  token?: string;
  /** Identity used as comment author. */
  login?: string;
  /** Also act as GitHub for a GitHub App (installation tokens; see app.ts). */
  app?: FakeAppOptions;
}

export class FakeGithub {
  readonly token: string;
  readonly login: string;
  /** The GitHub App side, when `app` was given. */
  readonly app?: FakeGithubApp;
  readonly requests: RecordedRequest[] = [];
  rateLimit = 5000;
  rateRemaining = 5000;
  private repos = new Map<string, RepoState>();
  private clock = Date.parse('2026-01-01T00:00:00Z');
  private failRules: FailRule[] = [];
  private ids = 1000;
  /** Extra accepted tokens (contributors') -> login. */
  private readonly tokens = new Map<string, string>();
  private server?: http.Server;
  url = '';

  constructor(opts: FakeGithubOptions = {}) {
    this.token = opts.token ?? 'ghp_fake_secret_token_1234567890';
    this.login = opts.login ?? 'owp-bot';
    if (opts.app) this.app = new FakeGithubApp(opts.app);
  }

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          this.handle(req, res, Buffer.concat(chunks).toString('utf8'));
        } catch (e) {
          this.answer(req, res, 500, { message: `fake github crashed: ${(e as Error).message}` });
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  // ---- helpers to shape the world ----

  private tick(): string {
    this.clock += 1000;
    return new Date(this.clock).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  private repo(full: string): RepoState {
    let r = this.repos.get(full.toLowerCase());
    if (!r) {
      r = { issues: new Map(), pulls: new Map(), reviews: new Map(), comments: new Map(), reviewComments: new Map(), next: 1 };
      this.repos.set(full.toLowerCase(), r);
    }
    return r;
  }

  addIssue(repo: string, i: { title: string; body?: string; labels?: string[]; number?: number }): number {
    const r = this.repo(repo);
    const number = i.number ?? r.next;
    r.next = Math.max(r.next, number + 1);
    const t = this.tick();
    r.issues.set(number, {
      number, title: i.title, body: i.body ?? '', state: 'open', labels: [...(i.labels ?? [])],
      created_at: t, updated_at: t, closed_at: null, isPr: false,
    });
    return number;
  }

  /** Make sure a repository exists (an empty one answers its lists with []). */
  createRepo(repo: string): void {
    this.repo(repo);
  }

  issue(repo: string, n: number): FakeIssue {
    const i = this.repo(repo).issues.get(n);
    if (!i) throw new Error(`no issue ${repo}#${n}`);
    return i;
  }

  editIssue(repo: string, n: number, patch: { title?: string; body?: string }): void {
    const i = this.issue(repo, n);
    Object.assign(i, patch);
    i.updated_at = this.tick();
  }

  closeIssue(repo: string, n: number): void {
    const i = this.issue(repo, n);
    i.state = 'closed';
    i.updated_at = i.closed_at = this.tick();
  }

  reopenIssue(repo: string, n: number): void {
    const i = this.issue(repo, n);
    i.state = 'open';
    i.closed_at = null;
    i.updated_at = this.tick();
  }

  setLabels(repo: string, n: number, labels: string[]): void {
    const i = this.issue(repo, n);
    i.labels = [...labels];
    i.updated_at = this.tick();
  }

  openPr(repo: string, p: { title: string; body?: string; head?: string }): number {
    const r = this.repo(repo);
    const number = r.next++;
    const t = this.tick();
    r.issues.set(number, { number, title: p.title, body: p.body ?? '', state: 'open', labels: [], created_at: t, updated_at: t, closed_at: null, isPr: true });
    r.pulls.set(number, { number, merged: false, merged_at: null, head: p.head ?? `feature-${number}` });
    r.reviews.set(number, []);
    return number;
  }

  mergePr(repo: string, n: number): void {
    const i = this.issue(repo, n);
    const p = this.repo(repo).pulls.get(n)!;
    const t = this.tick();
    i.state = 'closed';
    i.closed_at = i.updated_at = t;
    p.merged = true;
    p.merged_at = t;
  }

  closePr(repo: string, n: number): void {
    this.closeIssue(repo, n);
  }

  addReview(repo: string, n: number, login: string, state: 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED' | 'DISMISSED', body = ''): number {
    const id = ++this.ids;
    const t = this.tick();
    this.repo(repo).reviews.get(n)!.push({ id, user: { login }, state, submitted_at: t, body });
    this.issue(repo, n).updated_at = t;
    return id;
  }

  /** An inline review comment on a file and line of pull request `n`. */
  addReviewComment(repo: string, n: number, c: { login: string; path: string; line: number; body: string }): number {
    const id = ++this.ids;
    const list = this.repo(repo).reviewComments.get(n) ?? [];
    list.push({ id, user: { login: c.login }, path: c.path, line: c.line, body: c.body, created_at: this.tick() });
    this.repo(repo).reviewComments.set(n, list);
    return id;
  }

  /** The pull request data of `n` (head, base, draft, who opened it). */
  pull(repo: string, n: number): FakePull & { title: string; body: string | null } {
    const p = this.repo(repo).pulls.get(n);
    if (!p) throw new Error(`no pull request ${repo}#${n}`);
    const i = this.issue(repo, n);
    return { ...p, title: i.title, body: i.body };
  }

  /** Accept another token (a contributor's own), acting as `login`. */
  addToken(token: string, login: string): void {
    this.tokens.set(token, login);
  }

  comments(repo: string, n: number): FakeComment[] {
    return this.repo(repo).comments.get(n) ?? [];
  }

  /** The next `count` requests (matching `match(method, pathWithQuery)`, if given) fail with `status`. */
  failNext(count: number, status = 502, opts: { afterHandle?: boolean; match?: (method: string, path: string) => boolean } = {}): void {
    this.failRules.push({ remaining: count, status, afterHandle: !!opts.afterHandle, match: opts.match });
  }

  /** The next request gets 403 "secondary rate limit" with Retry-After. */
  secondaryRateLimitNext(retryAfterSeconds = 1): void {
    this.failRules.push({ remaining: 1, status: 403, afterHandle: false, secondary: { retryAfter: retryAfterSeconds } });
  }

  setRateLimitRemaining(n: number): void {
    this.rateRemaining = n;
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  // ---- HTTP ----

  private answer(req: http.IncomingMessage, res: http.ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}, reqBody?: string): void {
    if (status !== 304 && this.rateRemaining > 0) this.rateRemaining -= 1;
    const headers: Record<string, string> = {
      'x-ratelimit-limit': String(this.rateLimit),
      'x-ratelimit-remaining': String(this.rateRemaining),
      'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
      'x-ratelimit-used': String(this.rateLimit - this.rateRemaining),
      'x-ratelimit-resource': 'core',
      ...extra,
    };
    this.requests.push({ method: req.method ?? 'GET', path: req.url ?? '', headers: req.headers, status, body: reqBody });
    if (status === 304 || status === 204) {
      res.writeHead(status, headers);
      res.end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8' });
    res.end(text);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, reqBody: string): void {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
    const auth = req.headers.authorization ?? '';
    const tokenAnswer = this.app?.handle(method, url.pathname, auth);
    if (tokenAnswer) {
      this.answer(req, res, tokenAnswer.status, tokenAnswer.body, {}, reqBody);
      return;
    }
    const given = /^(?:token|Bearer) (.+)$/.exec(auth)?.[1];
    const asApp = given !== undefined ? this.app?.identify(given) : undefined;
    const actor = given === this.token ? this.login : asApp !== undefined && asApp !== 'expired' ? asApp : given !== undefined ? this.tokens.get(given) : undefined;
    if (actor === undefined) {
      this.answer(req, res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' });
      return;
    }
    this.actor = actor;
    if (this.rateRemaining <= 0) {
      this.answer(req, res, 403, { message: 'API rate limit exceeded for user ID 1. (But here\'s the good news: Authenticated requests get a higher rate limit.)' }, {}, reqBody);
      return;
    }
    const rule = this.failRules.find((r) => r.remaining > 0 && (!r.match || r.match(method, url.pathname + url.search)));
    if (rule) {
      rule.remaining--;
      this.failRules = this.failRules.filter((r) => r.remaining > 0);
      if (rule.secondary) {
        this.answer(req, res, 403, { message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.' }, { 'retry-after': String(rule.secondary.retryAfter) }, reqBody);
        return;
      }
      if (rule.afterHandle) {
        this.route(method, url, reqBody, () => undefined);
      }
      this.answer(req, res, rule.status, { message: 'Server Error' }, {}, reqBody);
      return;
    }
    this.route(method, url, reqBody, (status, body, extra) => {
      if (method === 'GET' && status === 200) {
        const etag = `"${createHash('sha1').update(JSON.stringify(body)).digest('hex')}"`;
        if (req.headers['if-none-match'] === etag) {
          this.answer(req, res, 304, undefined, { etag, ...(extra ?? {}) }, reqBody);
          return;
        }
        this.answer(req, res, status, body, { etag, ...(extra ?? {}) }, reqBody);
        return;
      }
      this.answer(req, res, status, body, extra, reqBody);
    });
  }

  /** Answer a routed request (the endpoints live in routes.ts). */
  private route(method: string, url: URL, reqBody: string, send: Send): void {
    routeRequest(this.internals(), method, url, reqBody, send);
  }

  /** Who sent the request being routed. */
  private actor = '';

  private internals(): FakeInternals {
    return {
      url: this.url,
      login: this.actor || this.login,
      repos: this.repos,
      repo: (full) => this.repo(full),
      issue: (repo, n) => this.issue(repo, n),
      tick: () => this.tick(),
      nextId: () => ++this.ids,
    };
  }
}

export async function startFakeGithub(opts: FakeGithubOptions = {}): Promise<FakeGithub> {
  const gh = new FakeGithub(opts);
  await gh.start();
  return gh;
}
