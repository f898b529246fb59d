/**
 * GitHub App authentication: the relay acts as an installation of a GitHub App
 * (OWP_GITHUB_APP_ID, OWP_GITHUB_APP_PRIVATE_KEY or _FILE, OWP_GITHUB_APP_INSTALLATION_ID)
 * instead of a personal token. `@octokit/auth-app` signs the app's JWT (RS256) and asks
 * `POST /app/installations/:id/access_tokens` for an installation token (valid one hour).
 *
 * Invariants:
 * - A token is reused until 5 minutes before its `expires_at` (its remaining life counted on the
 *   relay's clock from the fetch), then a new one is fetched before the next request: requests
 *   do not go out with a token about to expire.
 * - A 401 on a request (a token revoked, or expired early by clock skew) fetches a new token
 *   and sends the request once more; a second 401 is the answer. auth-app's own request hook is
 *   not used: it retries a 401 by sleeping up to 5 s, and keeps tokens 59 minutes whatever
 *   their expiry says.
 * - Concurrent requests share one token fetch. The private key and every token stay in this
 *   module and the Octokit instance: `secrets()` lists them so log lines can be redacted.
 */
import { createAppAuth } from '@octokit/auth-app';
import { Octokit } from '@octokit/rest';
import type { GithubAppCredentials } from './app-config.js';

export type { GithubAppCredentials } from './app-config.js';

const REFRESH_BEFORE_MS = 5 * 60 * 1000;
const MIN_LIFE_MS = 10 * 60 * 1000;
/** Tokens already used, kept for redaction (a few hours' worth). */
const KEEP_OLD = 8;

export class InstallationTokens {
  private current: { token: string; expiresAt: number } | undefined;
  private fetching: Promise<string> | undefined;
  private readonly old: string[] = [];
  private readonly auth: ReturnType<typeof createAppAuth>;
  /** Installation tokens fetched so far (for logs and tests). */
  fetched = 0;

  constructor(
    private readonly creds: GithubAppCredentials,
    opts: { baseUrl: string; now: () => number },
  ) {
    this.now = opts.now;
    // A plain client for the token endpoint: auth-app adds the app's JWT itself.
    // Quiet: a refused token request surfaces as the sync's upstream-error, with its message.
    const quiet = () => undefined;
    const plain = new Octokit({ baseUrl: opts.baseUrl, userAgent: 'owp-pool-relay', log: { debug: quiet, info: quiet, warn: quiet, error: quiet } });
    this.auth = createAppAuth({ appId: creds.appId, privateKey: creds.privateKey, installationId: creds.installationId, request: plain.request });
  }

  private readonly now: () => number;

  /** A token valid for at least a few more minutes; `fresh`: a new one whatever the cache says. */
  token(fresh = false): Promise<string> {
    const c = this.current;
    if (!fresh && c && c.expiresAt - REFRESH_BEFORE_MS > this.now()) return Promise.resolve(c.token);
    return (this.fetching ??= this.fetch().finally(() => (this.fetching = undefined)));
  }

  private async fetch(): Promise<string> {
    const a = (await this.auth({ type: 'installation', refresh: true })) as { token: string; expiresAt: string };
    if (this.current) this.old.unshift(this.current.token);
    this.old.length = Math.min(this.old.length, KEEP_OLD);
    // The token's remaining life, counted on the relay's clock from now. A remaining life under
    // ten minutes (GitHub gives an hour) means the clocks disagree: trust the hour less, and a
    // 401 (see install) fetches a new one if it ends early.
    const remaining = Math.max(Date.parse(a.expiresAt) - Date.now(), MIN_LIFE_MS);
    this.current = { token: a.token, expiresAt: this.now() + remaining };
    this.fetched += 1;
    return a.token;
  }

  /** Every secret this module holds, for redaction. */
  secrets(): string[] {
    return [this.creds.privateKey, ...(this.current ? [this.current.token] : []), ...this.old];
  }

  /** Authenticate every request of `octokit` as the installation (see the module invariants). */
  install(octokit: Octokit): void {
    octokit.hook.wrap('request', async (request, options) => {
      // The options object is shared with the hooks inside this one (before-after-hook binds
      // them to it), so the header is set on it, not on a copy.
      const send = async (fresh: boolean) => {
        options.headers.authorization = `token ${await this.token(fresh)}`;
        return request(options);
      };
      try {
        return await send(false);
      } catch (e) {
        if ((e as { status?: number }).status !== 401) throw e;
        return send(true);
      }
    });
  }
}
