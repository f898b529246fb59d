/**
 * The CLI's HTTP client for the relay API (docs/PROTOCOL.md).
 *
 * Invariants:
 * - Every failure becomes a RefusedError with a stable code: the relay's `{ error: { code,
 *   message } }`, a rejected intent's outcome code, or `upstream-error` when the relay
 *   cannot be reached or answers something that is not our API.
 * - A 429 is retried after Retry-After (a few times, capped) — safe because every intent
 *   carries an id the relay treats as an idempotency key.
 * - The token goes only in the Authorization header, never in a URL or a log line.
 * - A relay message that repeats its code (`unauthorized: ...`) loses that prefix, so the
 *   CLI prints `owp: unauthorized: <sentence>` and not the code twice.
 */
import { randomUUID } from 'node:crypto';
import { RefusedError } from './args.js';
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from '../../shared/protocol.js';

export interface ClientOptions {
  url: string;
  token?: string;
  /** Sleep used between 429 retries (tests may shorten it). */
  sleep?: (ms: number) => Promise<void>;
}

export class RelayClient {
  readonly url: string;
  private readonly token?: string;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(opts: ClientOptions) {
    this.url = opts.url.replace(/\/+$/, '');
    this.token = opts.token;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  post<T = unknown>(path: string, body: unknown = {}, timeoutMs?: number): Promise<T> {
    return this.request<T>('POST', path, body, timeoutMs);
  }
  put<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }
  patch<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }
  del<T = unknown>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }

  /** `timeoutMs` (default 60 s): a relay that accepts the connection but never answers is unreachable too. */
  async request<T>(method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(this.url + path, {
          method,
          headers: {
            accept: 'application/json',
            // The protocol this CLI speaks: a relay of another major version refuses at once (OWP-VER-3).
            [PROTOCOL_HEADER]: PROTOCOL_VERSION,
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          },
          body: body !== undefined ? JSON.stringify(body) : undefined,
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (e) {
        if ((e as Error).name === 'TimeoutError')
          throw new RefusedError('upstream-error', `the relay at ${this.url} did not answer ${method} ${path} within ${Math.round(timeoutMs / 1000)} s`);
        const cause = (e as { cause?: { code?: string; message?: string } }).cause;
        throw new RefusedError(
          'upstream-error',
          `cannot reach the relay at ${this.url} (${cause?.code ?? cause?.message ?? (e as Error).message}); is it running? Set --url or OWP_URL.`,
        );
      }
      const text = await res.text();
      let data: unknown;
      try {
        data = text ? JSON.parse(text) : {};
      } catch {
        data = undefined;
      }
      if (res.status === 429 && attempt < 3) {
        const wait = Math.min(10, Math.max(1, Number(res.headers.get('retry-after')) || 1));
        await this.sleep(wait * 1000);
        continue;
      }
      if (!res.ok) {
        const err = (data as { error?: { code?: string; message?: string } } | undefined)?.error;
        if (err?.code) throw new RefusedError(err.code, withoutCodePrefix(err.code, err.message), res.status, data);
        throw new RefusedError(
          res.status === 401 ? 'unauthorized' : res.status === 404 ? 'not-found' : 'upstream-error',
          `the relay answered ${res.status} ${res.statusText} to ${method} ${path}`,
          res.status,
        );
      }
      if (data === undefined) throw new RefusedError('upstream-error', `the relay answered ${method} ${path} with something that is not JSON`);
      return data as T;
    }
  }
}

/** The relay's message without a leading `<code>: ` (some messages double as socket close reasons). */
export function withoutCodePrefix(code: string, message: string | undefined): string {
  if (!message) return code;
  if (!message.startsWith(code + ': ') || message.length === code.length + 2) return message;
  const m = message.slice(code.length + 2);
  return m[0]!.toUpperCase() + m.slice(1);
}

export function newIntentId(): string {
  return randomUUID();
}

export function taskPath(taskId: string, suffix = ''): string {
  return `/api/tasks/${encodeURIComponent(taskId)}${suffix}`;
}

/** An answer carrying an intent outcome: a rejected outcome is a refusal (exit 1). */
export function ensureAccepted<T extends { outcome?: { status?: string; code?: string; message?: string } }>(r: T): T {
  const o = r.outcome;
  if (o && o.status === 'rejected') throw new RefusedError(o.code ?? 'conflict', withoutCodePrefix(o.code ?? 'conflict', o.message ?? 'the relay refused this intent'), 409, r);
  return r;
}
