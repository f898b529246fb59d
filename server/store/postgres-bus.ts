/**
 * Fan-out between relays on one PostgreSQL database: LISTEN/NOTIFY on one channel.
 *
 * - Every message is JSON with a type `t` (`doc`, `rot`, `batch`, `intent`, `outcome`, `tokens`);
 *   PostgreSQL delivers a NOTIFY only when its transaction commits, so a message sent inside
 *   the writing transaction (`notifySql`) never points at something a reader cannot see yet.
 * - A message is a pointer (a key, a batch number) plus, when small, the data itself; the
 *   store stays the authority. Payloads over MAX_PAYLOAD are not sent whole: callers leave
 *   the data out and readers fetch it.
 * - One dedicated connection listens. If it drops, it reconnects (100 ms doubling to 2 s)
 *   and then every `onResync` listener runs: notifications may have been missed, so each
 *   subscriber catches up from the store.
 */
import pg from 'pg';
import type { Logger } from '../ports.js';

export const CHANNEL = 'owp_fanout';
/** PostgreSQL's NOTIFY payload limit is 8000 bytes; stay clear of it. */
export const MAX_PAYLOAD = 7000;

export interface BusMessage {
  t: string;
  [field: string]: unknown;
}

/** The statement and values that send `m` (run it inside the writing transaction). */
export function notifySql(m: BusMessage): { text: string; values: string[] } {
  return { text: 'SELECT pg_notify($1, $2)', values: [CHANNEL, JSON.stringify(m)] };
}

export class PgBus {
  private client: pg.Client | undefined;
  private readonly listeners = new Set<(m: BusMessage) => void>();
  private readonly resyncListeners = new Set<() => void>();
  private closed = false;
  private retryMs = 100;
  private timer: NodeJS.Timeout | undefined;
  /** Connections made so far (1 after open; each reconnect adds one). */
  connections = 0;

  private constructor(
    private readonly url: string,
    private readonly log?: Logger,
    private readonly name?: string,
  ) {}

  /** `name`: the listening connection's application_name (pg_stat_activity shows whose it is). */
  static async open(url: string, opts: { log?: Logger; name?: string } = {}): Promise<PgBus> {
    const bus = new PgBus(url, opts.log, opts.name);
    await bus.connect();
    return bus;
  }

  /** Every message from now on (including this relay's own). */
  on(listener: (m: BusMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called after the listening connection was lost and made again: catch up from the store. */
  onResync(listener: () => void): () => void {
    this.resyncListeners.add(listener);
    return () => this.resyncListeners.delete(listener);
  }

  /** Send a message on its own (not tied to a write). */
  async publish(m: BusMessage, via: { query: pg.Pool['query'] } | pg.ClientBase): Promise<void> {
    const q = notifySql(m);
    await via.query(q.text, q.values);
  }

  /** Whether the listening connection is up. */
  listening(): boolean {
    return this.client !== undefined;
  }

  /** The backend pid of the listening connection (tests cut it with pg_terminate_backend). */
  pid(): number | undefined {
    return (this.client as unknown as { processID?: number } | undefined)?.processID;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const c = new pg.Client({ connectionString: this.url, ...(this.name ? { application_name: this.name } : {}) });
    c.on('error', () => this.lost(c));
    c.on('end', () => this.lost(c));
    c.on('notification', (n) => {
      if (n.channel !== CHANNEL || !n.payload) return;
      let m: BusMessage;
      try {
        m = JSON.parse(n.payload) as BusMessage;
      } catch {
        return;
      }
      for (const l of this.listeners) {
        try {
          l(m);
        } catch (err) {
          this.log?.error('fan-out listener failed', { type: m.t, err: String(err) });
        }
      }
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      await c.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await c.end().catch(() => undefined);
      return;
    }
    this.client = c;
    this.connections += 1;
  }

  private lost(c: pg.Client): void {
    if (this.client !== c || this.closed) return;
    this.client = undefined;
    this.log?.warn('lost the fan-out connection to PostgreSQL; reconnecting');
    this.retry();
  }

  private retry(): void {
    this.timer = setTimeout(() => {
      this.connect().then(
        () => {
          if (this.closed) return;
          this.retryMs = 100;
          this.log?.info('fan-out connection to PostgreSQL restored; catching up from the store');
          for (const l of this.resyncListeners) {
            try {
              l();
            } catch (err) {
              this.log?.error('fan-out resync failed', { err: String(err) });
            }
          }
        },
        () => {
          this.retryMs = Math.min(2000, this.retryMs * 2);
          if (!this.closed) this.retry();
        },
      );
    }, this.retryMs);
    this.timer.unref?.();
  }
}
