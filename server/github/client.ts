/**
 * The relay's one way to talk to GitHub: Octokit with the throttling and retry plugins,
 * conditional GETs (ETag / If-None-Match, cached in the relay's kv), and full pagination.
 *
 * Invariants:
 * - The token lives only inside the Octokit instance; every string this module logs or
 *   puts in an error passes through `redact`, which removes it. With a GitHub App
 *   (./app-auth.ts) the same holds for its private key and every installation token.
 * - A 304 answer is served from the kv cache and costs nothing against the rate limit.
 * - Content-creating requests (POST/DELETE) are never retried by the retry plugin: a 5xx
 *   after GitHub stored a comment would post it twice. Callers retry them after checking
 *   what GitHub already has. The throttling plugin still paces them and handles 403/429.
 * - `listAll` returns every page or throws: callers never see half a listing.
 */
import { Octokit } from '@octokit/rest';
import { throttling } from '@octokit/plugin-throttling';
import { retry } from '@octokit/plugin-retry';
import Bottleneck from 'bottleneck';
import type { KvStore, Logger } from '../ports.js';
import { OwpError } from '../../shared/errors.js';
import { InstallationTokens, type GithubAppCredentials } from './app-auth.js';

export interface GithubClientOptions {
  /** A personal or fine-grained token (OWP_GITHUB_TOKEN); or `app`. */
  token?: string;
  /** Act as a GitHub App installation (tokens fetched and refreshed as they expire). */
  app?: GithubAppCredentials;
  /** The relay's clock (installation token expiry). Default Date.now. */
  now?: () => number;
  apiUrl?: string;
  log: Logger;
  kv: KvStore;
  /** Multiplier (ms) for Retry-After / backoff seconds. GitHub-appropriate default 1000. */
  retryAfterBaseValue?: number;
  /** How many times a failed GET is retried (5xx, network). Default 3. */
  retries?: number;
  /** Minimum time (ms) between content-creating requests. Default 1000 (GitHub's advice). */
  writeMinTimeMs?: number;
  /** How many rate-limit waits a request may sit through before it fails. Default 2. */
  maxRateLimitRetries?: number;
  /**
   * Longest wait (seconds) for a primary rate-limit reset inside one sync. A longer wait
   * fails the sync (nothing applied) and the next interval tries again, so one exhausted
   * token does not hold the relay's GitHub queue for up to an hour. Default 60.
   */
  maxRateLimitWaitSeconds?: number;
}

export interface CachedPage<T> {
  etag?: string;
  data: T;
  next?: string;
}

const ThrottledOctokit = Octokit.plugin(throttling, retry);
type Api = InstanceType<typeof ThrottledOctokit>;

export class GithubClient {
  readonly octokit: Api;
  /** Requests sent (including 304s) since the counter was last reset. */
  requests = 0;
  rateLimitRemaining?: number;
  private readonly token: string;
  /** With a GitHub App: its installation tokens. */
  readonly installation?: InstallationTokens;
  private readonly log: Logger;
  private readonly kv: KvStore;

  constructor(opts: GithubClientOptions) {
    if (!opts.token === !opts.app) throw new Error('GithubClient needs a token or a GitHub App, not both');
    this.token = opts.token ?? '';
    this.log = opts.log;
    this.kv = opts.kv;
    const base = opts.retryAfterBaseValue ?? 1000;
    const maxRl = opts.maxRateLimitRetries ?? 2;
    const quiet = (m: unknown): string => this.redact(String(m));
    const baseUrl = (opts.apiUrl ?? 'https://api.github.com').replace(/\/+$/, '');
    this.octokit = new ThrottledOctokit({
      ...(opts.token ? { auth: opts.token } : {}),
      baseUrl,
      userAgent: 'owp-pool-relay',
      log: {
        debug: () => undefined,
        info: () => undefined,
        warn: (m: unknown) => this.log.warn(`github: ${quiet(m)}`),
        // Octokit's request log reports every non-2xx answer here, 304s included; a 304 is
        // the cache working, and real failures are reported by the sync with their context.
        error: (m: unknown) => {
          const text = quiet(m);
          if (/ - 304 with id /.test(text)) return;
          this.log.warn(`github: ${text}`);
        },
      },
      throttle: {
        retryAfterBaseValue: base,
        fallbackSecondaryRateRetryAfter: 60,
        // One Bottleneck group per client, so tests (and several relays) do not share pacing.
        write: new Bottleneck.Group({ maxConcurrent: 1, minTime: opts.writeMinTimeMs ?? 1000 }),
        // Comments trigger notifications: GitHub asks for more room between those.
        notifications: new Bottleneck.Group({ maxConcurrent: 1, minTime: opts.writeMinTimeMs ?? 3000 }),
        onRateLimit: (retryAfter: number, options: { method?: string; url?: string }, _o: unknown, retryCount: number) => {
          const wait = retryAfter <= (opts.maxRateLimitWaitSeconds ?? 60) && retryCount < maxRl;
          this.log.warn(wait ? 'github: rate limit reached; waiting for the reset' : 'github: rate limit reached; giving up until the next sync', {
            method: options.method, url: options.url, retryAfter, retryCount,
          });
          return wait;
        },
        onSecondaryRateLimit: (retryAfter: number, options: { method?: string; url?: string }, _o: unknown, retryCount: number) => {
          this.log.warn('github: secondary rate limit', { method: options.method, url: options.url, retryAfter, retryCount });
          return retryCount < maxRl;
        },
      },
      retry: { retryAfterBaseValue: base, retries: opts.retries ?? 3 },
    });
    if (opts.app) {
      this.installation = new InstallationTokens(opts.app, { baseUrl, now: opts.now ?? Date.now });
      this.installation.install(this.octokit);
    }
  }

  /** Remove the token (the app's key and installation tokens) from any text before it is logged or answered. */
  redact(text: string): string {
    let out = text;
    for (const secret of [this.token, ...(this.installation?.secrets() ?? [])]) if (secret) out = out.split(secret).join('[redacted]');
    return out;
  }

  private noteHeaders(headers: Record<string, unknown> | undefined): void {
    const r = headers?.['x-ratelimit-remaining'];
    if (r !== undefined && r !== null && r !== '') this.rateLimitRemaining = Number(r);
  }

  /** Turn any Octokit failure into OwpError('upstream-error') with a readable, token-free message. */
  upstream(e: unknown, what: string): OwpError {
    if (e instanceof OwpError) return e;
    const err = e as { status?: number; message?: string; response?: { headers?: Record<string, unknown> } };
    this.noteHeaders(err.response?.headers);
    const status = err.status ? ` (HTTP ${err.status})` : '';
    return new OwpError('upstream-error', this.redact(`GitHub answered an error to ${what}${status}: ${err.message ?? String(e)}. Nothing was changed; the next sync retries.`));
  }

  /**
   * GET one URL (route path with query, relative to the API base) conditionally: sends the
   * cached ETag, and on 304 returns the cached body. Throws on any other failure.
   */
  async getCached<T>(cacheKey: string, path: string, shape?: (data: unknown) => T): Promise<CachedPage<T> & { fresh: boolean }> {
    const cached = await this.kv.get<CachedPage<T>>(cacheKey);
    this.requests++;
    try {
      const res = await this.octokit.request(`GET ${path}`, {
        headers: cached?.etag ? { 'if-none-match': cached.etag } : {},
      });
      const headers = res.headers as Record<string, unknown>;
      this.noteHeaders(headers);
      // Only the fields the relay reads are cached: less LevelDB, same answers.
      const page: CachedPage<T> = { data: shape ? shape(res.data) : (res.data as T) };
      if (typeof headers.etag === 'string') page.etag = headers.etag;
      const next = nextLink(headers.link);
      if (next) page.next = next;
      await this.kv.put(cacheKey, page);
      return { ...page, fresh: true };
    } catch (e) {
      const err = e as { status?: number; response?: { headers?: Record<string, unknown> } };
      if (err.status === 304 && cached) {
        this.noteHeaders(err.response?.headers);
        return { ...cached, fresh: false };
      }
      throw e;
    }
  }

  /**
   * Every page of a list, following rel="next" links (each page cached by its own ETag).
   * Either all pages or an exception.
   */
  async listAll<T>(cachePrefix: string, firstPath: string, shapeItem?: (item: unknown) => T): Promise<{ items: T[]; changed: boolean }> {
    const shape = shapeItem ? (data: unknown): T[] => (Array.isArray(data) ? data.map(shapeItem) : []) : undefined;
    const items: T[] = [];
    let path: string | undefined = firstPath;
    let changed = false;
    for (let page = 1; path; page++) {
      if (page > 1000) throw new OwpError('upstream-error', 'GitHub returned more than 1000 pages; stopping to protect the rate limit.');
      const res: CachedPage<T[]> & { fresh: boolean } = await this.getCached<T[]>(`${cachePrefix}|${path}`, path, shape);
      if (res.fresh) changed = true;
      if (Array.isArray(res.data)) items.push(...res.data);
      path = res.next ? this.relative(res.next) : undefined;
    }
    return { items, changed };
  }

  /** Drop the cached pages of a listing that will not be asked again (e.g. an old `since`). */
  async forget(cachePrefix: string, firstPath: string): Promise<void> {
    let path: string | undefined = firstPath;
    for (let i = 0; path && i < 1000; i++) {
      const key: string = `${cachePrefix}|${path}`;
      const page: CachedPage<unknown> | undefined = await this.kv.get<CachedPage<unknown>>(key);
      await this.kv.del(key);
      path = page?.next ? this.relative(page.next) : undefined;
    }
  }

  /** A write (POST/DELETE) sent exactly once: no automatic retry on 5xx. */
  async write<T = unknown>(route: string, params: Record<string, unknown>): Promise<T> {
    this.requests++;
    const res = await this.octokit.request(route, { ...params, request: { retries: 0 } });
    this.noteHeaders(res.headers as Record<string, unknown>);
    return res.data as T;
  }

  private relative(link: string): string {
    try {
      const u = new URL(link);
      const base = new URL(this.octokit.request.endpoint.DEFAULTS.baseUrl);
      const basePath = base.pathname.replace(/\/+$/, '');
      const p = u.pathname.startsWith(basePath) ? u.pathname.slice(basePath.length) : u.pathname;
      return p + u.search;
    } catch {
      return link;
    }
  }
}

/** The rel="next" URL of a Link header, if any. */
export function nextLink(link: unknown): string | undefined {
  if (typeof link !== 'string') return undefined;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part.trim());
    if (m) return m[1];
  }
  return undefined;
}
