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
 * - With `intents`, claims and lease actions go over the intent channel when the relay
 *   offers it, with the same answers; everything else, and every intent the channel cannot
 *   carry right now, goes over HTTP (./channel-switch.ts).
 * - A relay message that repeats its code (`unauthorized: ...`) loses that prefix, so the
 *   CLI prints `owp: unauthorized: <sentence>` and not the code twice.
 */
import { randomUUID } from 'node:crypto';
import { RefusedError } from './args.js';
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from '../../shared/protocol.js';
import { ChannelSwitch, type Transported } from './channel-switch.js';

export interface ClientOptions {
  url: string;
  token?: string;
  /** Sleep used between 429 retries (tests may shorten it). */
  sleep?: (ms: number) => Promise<void>;
  /** Send claims and lease actions over the intent channel while the relay offers it (./channel-switch.ts); else HTTP. */
  intents?: boolean;
}

export class RelayClient {
  readonly url: string;
  private readonly token?: string;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly channel?: ChannelSwitch;

  constructor(opts: ClientOptions) {
    this.url = opts.url.replace(/\/+$/, '');
    this.token = opts.token;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    if (opts.intents && opts.token) this.channel = new ChannelSwitch(this.url, opts.token);
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
    // An intent gets a body object the channel can give an intentId (the same one on HTTP after a drop).
    if (this.channel && method === 'POST' && body === undefined) body = {};
    for (let attempt = 0; ; attempt++) {
      const viaChannel = this.channel ? await this.channel.send(method, path, body) : undefined;
      const r = viaChannel ?? (await this.http(method, path, body, timeoutMs));
      const data = r.data;
      if (r.status === 429 && attempt < 3) {
        const wait = Math.min(10, Math.max(1, r.retryAfter || 1));
        await this.sleep(wait * 1000);
        continue;
      }
      if (r.status < 200 || r.status >= 300) {
        const err = (data as { error?: { code?: string; message?: string } } | undefined)?.error;
        if (err?.code) throw new RefusedError(err.code, withoutCodePrefix(err.code, err.message), r.status, data);
        throw new RefusedError(
          r.status === 401 ? 'unauthorized' : r.status === 404 ? 'not-found' : 'upstream-error',
          `the relay answered ${r.status} ${r.statusText} to ${method} ${path}`,
          r.status,
        );
      }
      if (data === undefined) throw new RefusedError('upstream-error', `the relay answered ${method} ${path} with something that is not JSON`);
      return data as T;
    }
  }

  /** Close the intent channel, if one is open (a process with an open socket does not exit). */
  close(): void {
    this.channel?.close();
  }

  private async http(method: string, path: string, body: unknown, timeoutMs: number): Promise<Transported> {
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
    return { status: res.status, statusText: res.statusText, data, retryAfter: Number(res.headers.get('retry-after')) || undefined };
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
