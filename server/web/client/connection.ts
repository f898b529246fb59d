/**
 * The dashboard's live connection: an EventSource on `/api/events` that reconnects by
 * itself (with a capped backoff) and reports what it is doing, so the page can say so.
 *
 * Invariants:
 * - At most one EventSource is open at a time; `stop()` closes it and cancels retries.
 * - After an error the connection is rebuilt by us (not left to the browser), so a relay
 *   that restarts on the same address is rejoined as soon as it answers; each new stream
 *   begins with a fresh `snapshot`.
 * - A refused token (401 from `/api/me`) stops retrying and reports `unauthorized`.
 */
import { EVENT, type DeltaEvent } from '../../../shared/protocol.js';

export type ConnectionStatus =
  | { kind: 'connecting' }
  | { kind: 'live'; since: number }
  | { kind: 'reconnecting'; attempt: number; retryInMs: number }
  | { kind: 'unauthorized'; message: string };

export interface ConnectionHandlers {
  onSnapshot(data: unknown): void;
  onDelta(event: DeltaEvent, data: unknown): void;
  onStatus(status: ConnectionStatus): void;
}

const MIN_RETRY_MS = 500;
const MAX_RETRY_MS = 5000;

export function eventsUrl(token: string | undefined): string {
  return token ? `/api/events?token=${encodeURIComponent(token)}` : '/api/events';
}

/** Ask the relay whether the token is refused (true) or the relay is just unreachable (false). */
async function tokenRefused(token: string | undefined): Promise<boolean> {
  try {
    const res = await fetch('/api/me', { headers: token ? { Authorization: `Bearer ${token}` } : {}, cache: 'no-store' });
    return res.status === 401;
  } catch {
    return false;
  }
}

export class LiveConnection {
  private es: EventSource | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;
  private stopped = false;

  constructor(
    private readonly token: string | undefined,
    private readonly publicDashboard: boolean,
    private readonly h: ConnectionHandlers,
  ) {}

  start(): void {
    this.stopped = false;
    this.h.onStatus({ kind: 'connecting' });
    this.open();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.es?.close();
    this.es = undefined;
  }

  private parse(ev: Event): unknown {
    try {
      return JSON.parse((ev as MessageEvent<string>).data);
    } catch {
      return undefined;
    }
  }

  private open(): void {
    if (this.stopped) return;
    const es = new EventSource(eventsUrl(this.token));
    this.es = es;
    es.addEventListener(EVENT.snapshot, (ev) => {
      const data = this.parse(ev);
      if (data === undefined) return;
      this.attempt = 0;
      this.h.onSnapshot(data);
      this.h.onStatus({ kind: 'live', since: Date.now() });
    });
    for (const name of [EVENT.ledger, EVENT.board] as const) {
      es.addEventListener(name, (ev) => {
        const data = this.parse(ev);
        if (data !== undefined) this.h.onDelta(name, data);
      });
    }
    es.onerror = () => {
      if (this.es !== es || this.stopped) return;
      es.close();
      this.es = undefined;
      void this.retry();
    };
  }

  private async retry(): Promise<void> {
    this.attempt += 1;
    if (!this.publicDashboard || this.token) {
      if (await tokenRefused(this.token)) {
        this.stop();
        this.h.onStatus({
          kind: 'unauthorized',
          message: this.token
            ? 'The relay refused this token (unknown or revoked). Enter a valid token.'
            : 'This relay needs a token to show its dashboard. Enter one below.',
        });
        return;
      }
    }
    if (this.stopped) return;
    const retryInMs = Math.min(MAX_RETRY_MS, MIN_RETRY_MS * 2 ** Math.min(this.attempt - 1, 4));
    this.h.onStatus({ kind: 'reconnecting', attempt: this.attempt, retryInMs });
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.open();
    }, retryInMs);
  }
}
