/**
 * Which door an intent takes: the intent channel while the relay offers it, HTTP otherwise.
 * Used by RelayClient (./client.ts) when it is made with `intents: true` (`owp worker run`).
 *
 * Invariants:
 * - Only the HTTP calls an op stands for (shared/intent-channel.ts opOfHttp) take the channel;
 *   the answer is the relay's HTTP status and body either way.
 * - Every intent but a heartbeat carries an intentId before it leaves (a fresh UUID, what the
 *   relay would pick), so one the socket dropped is resent over HTTP under the same id: the
 *   relay answers the outcome it already has, never a second effect.
 * - A channel that cannot be opened (an older relay, a proxy without WebSocket, a refusal) is
 *   not tried again for 30 s, doubling to 5 minutes; meanwhile every intent goes over HTTP.
 */
import { randomUUID } from 'node:crypto';
import { opOfHttp } from '../../shared/intent-channel.js';
import { ChannelDropped, IntentSocket } from './intent-channel.js';

/** What one request got back, by either door. */
export interface Transported {
  status: number;
  statusText?: string;
  /** The parsed JSON body (undefined: not JSON). */
  data: unknown;
  /** Seconds, from Retry-After (HTTP) or retryAfter (channel). */
  retryAfter?: number;
}

const FIRST_BACKOFF_MS = 30_000;
const MAX_BACKOFF_MS = 5 * 60_000;

export class ChannelSwitch {
  private socket?: Promise<IntentSocket | undefined>;
  private retryAt = 0;
  private backoff = FIRST_BACKOFF_MS;
  private closed = false;
  /** Why the channel is not used now (for tests and --verbose output). */
  lastFailure?: string;

  constructor(
    private readonly url: string,
    private readonly token: string,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The answer over the channel, or undefined: send it over HTTP. An intent's body object gets
   * its intentId here (the caller sends that same object over HTTP if it must).
   */
  async send(method: string, path: string, body: unknown): Promise<Transported | undefined> {
    const call = opOfHttp(method, path);
    if (!call || (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body)))) return undefined;
    const b = { ...(body as Record<string, unknown> | undefined) };
    if (call.op !== 'heartbeat' && b.intentId === undefined) {
      b.intentId = randomUUID();
      // The same object goes over HTTP if the socket drops: the same id.
      if (body) (body as Record<string, unknown>).intentId = b.intentId;
    }
    const s = await this.open();
    if (!s) return undefined;
    try {
      const a = await s.request(call.op, call.task, b);
      return { status: a.status, data: a.body, ...(a.retryAfter !== undefined ? { retryAfter: a.retryAfter } : {}) };
    } catch (e) {
      if (!(e instanceof ChannelDropped)) throw e;
      this.lastFailure = e.message;
      this.socket = undefined;
      return undefined;
    }
  }

  /** The open socket, opening it if it is time to try. */
  private async open(): Promise<IntentSocket | undefined> {
    if (this.closed) return undefined;
    const current = this.socket && (await this.socket);
    if (current?.open) return current;
    if (current) this.socket = undefined;
    if (this.now() < this.retryAt) return undefined;
    this.socket ??= IntentSocket.connect(this.url, this.token).then(
      (s) => {
        this.backoff = FIRST_BACKOFF_MS;
        if (this.closed) s.close();
        return s;
      },
      (e: Error) => {
        this.lastFailure = e.message;
        this.retryAt = this.now() + this.backoff;
        this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
        this.socket = undefined;
        return undefined;
      },
    );
    const s = await this.socket;
    return s?.open ? s : undefined;
  }

  close(): void {
    this.closed = true;
    void this.socket?.then((s) => s?.close());
  }
}
