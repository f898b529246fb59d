/**
 * Intents forwarded from follower relays to the arbiter through PostgreSQL itself.
 *
 * Why the database and not HTTP between relays: relays already share it and listen on it,
 * so there is no internal URL to advertise, no relay-to-relay secret, no second network
 * path to fail; and a forwarded intent is a row, so one the arbiter had not answered when
 * it died is answered by the next arbiter (intent ids make a second arbitration a lookup).
 *
 * - `owp_intents (seq, relay, intent, ephemeral)`: a follower inserts a row and an `intent`
 *   note in one transaction, then waits for the `outcome` note naming its relay and the id.
 * - The arbiter's desk reads rows in order (on every `intent` note, on start and after a
 *   reconnect), submits each to the engine, and deletes the row and sends the `outcome` note
 *   in one transaction. A desk that stopped (deposed) answers nothing: the row stays for the
 *   next arbiter.
 * - A follower that missed notes (reconnect) reads the stored outcomes of what it waits for;
 *   what is still unanswered after `timeoutMs` gets `upstream-error` (retry with the same id).
 */
import pg from 'pg';
import { OwpError, type ErrorCode } from '../../shared/errors.js';
import type { Intent, Outcome } from '../../shared/model.js';
import type { Logger } from '../ports.js';
import { notifySql, type BusMessage, type PgBus } from './postgres-bus.js';
import { inTransaction, SCHEMA_LOCK } from './postgres.js';

const DDL = 'CREATE TABLE IF NOT EXISTS owp_intents (seq bigserial PRIMARY KEY, relay text NOT NULL, intent jsonb NOT NULL, ephemeral boolean NOT NULL)';

/**
 * The pool forwarded intents travel on: `synchronous_commit` off, so neither the follower's
 * row nor the arbiter's answer waits for a WAL flush (two of the three flushes on a forwarded
 * claim's path). Losing one in a database crash costs a retry, never a grant: the outcome
 * itself is written by the arbiter's fenced batch, synchronously, and a row answered twice is
 * a lookup of that stored outcome (intent ids); a lost row times out (`upstream-error`).
 */
export function openIntentPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 4, options: '-c synchronous_commit=off' });
  pool.on('error', () => undefined);
  return pool;
}

export async function ensureIntentTable(pool: pg.Pool): Promise<void> {
  await inTransaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    await c.query(DDL);
  });
}

interface Waiter {
  ephemeral: boolean;
  resolve: (o: Outcome) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout;
}

/** The follower's side: forward an intent, resolve with the arbiter's committed outcome. */
export class Forwarder {
  private readonly waiting = new Map<string, Waiter[]>();
  private readonly offs: (() => void)[];

  constructor(
    private readonly pool: pg.Pool,
    bus: PgBus,
    private readonly opts: { relayId: string; storedOutcome: (id: string) => Promise<Outcome | undefined>; timeoutMs?: number; log?: Logger },
  ) {
    this.offs = [bus.on((m) => this.onNote(m)), bus.onResync(() => void this.recheck())];
  }

  forward(intent: Intent, ephemeral: boolean): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settle(intent.id, (w) => w === waiter, (w) => w.reject(new OwpError('upstream-error', `No arbiter answered intent ${intent.id} in time (a failover may be under way); send it again with the same intent id.`)));
      }, this.opts.timeoutMs ?? 30_000);
      timer.unref?.();
      const waiter: Waiter = { ephemeral, resolve, reject, timer };
      const list = this.waiting.get(intent.id) ?? [];
      list.push(waiter);
      this.waiting.set(intent.id, list);
      // One statement (its own transaction): the row and the note commit together.
      const note = notifySql({ t: 'intent' });
      this.pool
        .query('WITH i AS (INSERT INTO owp_intents (relay, intent, ephemeral) VALUES ($1, $2, $3)) SELECT pg_notify($4, $5)', [this.opts.relayId, JSON.stringify(intent), ephemeral, ...note.values])
        .catch((err: unknown) => {
        this.settle(intent.id, (w) => w === waiter, (w) => w.reject(new OwpError('upstream-error', `Could not pass intent ${intent.id} to the arbiter (${(err as Error).message}); retry with the same intent id.`)));
      });
    });
  }

  /** Intents waiting for an answer (tests, status). */
  pending(): number {
    let n = 0;
    for (const l of this.waiting.values()) n += l.length;
    return n;
  }

  close(): void {
    for (const off of this.offs) off();
    for (const id of [...this.waiting.keys()]) this.settle(id, () => true, (w) => w.reject(new OwpError('shutting-down', 'The relay is shutting down; retry in a moment.')));
  }

  private onNote(m: BusMessage): void {
    if (m.t !== 'outcome' || m.r !== this.opts.relayId || typeof m.i !== 'string') return;
    const err = m.e as { code?: ErrorCode; message?: string } | undefined;
    if (err) this.settle(m.i, () => true, (w) => w.reject(new OwpError(err.code ?? 'internal', err.message ?? 'The arbiter refused this intent.')));
    else this.settle(m.i, () => true, (w) => w.resolve(m.o as Outcome));
  }

  /** After missed notes: answer from the store what was answered meanwhile. */
  private async recheck(): Promise<void> {
    for (const id of [...this.waiting.keys()]) {
      const stored = await this.opts.storedOutcome(id).catch(() => undefined);
      if (stored) this.settle(id, (w) => !w.ephemeral, (w) => w.resolve(stored));
    }
  }

  private settle(id: string, which: (w: Waiter) => boolean, how: (w: Waiter) => void): void {
    const list = this.waiting.get(id);
    if (!list) return;
    const rest = list.filter((w) => !which(w));
    for (const w of list) {
      if (!which(w)) continue;
      clearTimeout(w.timer);
      how(w);
    }
    if (rest.length > 0) this.waiting.set(id, rest);
    else this.waiting.delete(id);
  }
}

type Row = { seq: string; relay: string; intent: Intent; ephemeral: boolean };

/** The arbiter's side: take forwarded intents to the engine and send their outcomes back. */
export class IntentDesk {
  private active = false;
  private readonly taken = new Set<string>();
  private reading: Promise<void> | undefined;
  private again = false;
  private readonly offs: (() => void)[];

  constructor(
    private readonly pool: pg.Pool,
    bus: PgBus,
    private readonly opts: { submit: (intent: Intent, ephemeral: boolean) => Promise<Outcome>; log?: Logger },
  ) {
    this.offs = [
      bus.on((m) => {
        if (m.t === 'intent') this.read();
      }),
      bus.onResync(() => this.read()),
    ];
  }

  start(): void {
    this.active = true;
    this.read();
  }

  stop(): void {
    this.active = false;
    this.taken.clear();
  }

  close(): void {
    this.stop();
    for (const off of this.offs) off();
  }

  /** Read the rows not taken yet (coalesced: one read at a time, one more if asked meanwhile). */
  private read(): void {
    if (!this.active) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = this.readNow()
      .catch((err) => this.opts.log?.warn('could not read forwarded intents', { err: String(err) }))
      .finally(() => {
        this.reading = undefined;
        if (this.again) {
          this.again = false;
          this.read();
        }
      });
  }

  private async readNow(): Promise<void> {
    const { rows } = await this.pool.query<Row>('SELECT seq, relay, intent, ephemeral FROM owp_intents ORDER BY seq LIMIT 1000');
    for (const row of rows) {
      if (!this.active || this.taken.has(row.seq)) continue;
      this.taken.add(row.seq);
      void this.opts.submit(row.intent, row.ephemeral).then(
        (o) => this.answer(row, { o }),
        (e: unknown) => this.answer(row, { e: { code: e instanceof OwpError ? e.code : 'internal', message: (e as Error)?.message ?? String(e) } }),
      );
    }
    if (rows.length === 1000) this.again = true;
  }

  private async answer(row: Row, body: Record<string, unknown>): Promise<void> {
    // Deposed meanwhile: the row stays, the next arbiter answers it.
    if (!this.active || !this.taken.has(row.seq)) return;
    const note = notifySql({ t: 'outcome', r: row.relay, i: row.intent.id, ...body });
    try {
      await this.pool.query('WITH d AS (DELETE FROM owp_intents WHERE seq = $1) SELECT pg_notify($2, $3)', [row.seq, ...note.values]);
    } catch (err) {
      this.opts.log?.warn('could not answer a forwarded intent', { intent: row.intent.id, err: String(err) });
    } finally {
      this.taken.delete(row.seq);
    }
  }
}
