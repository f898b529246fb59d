/**
 * One arbiter among several relays on one PostgreSQL database: a leader row with an epoch,
 * renewed on a lease, and fenced writes.
 *
 * - `owp_leader` holds one row: holder (a relay's id), epoch, expires_at. Lease times are the
 *   database's clock (`now()`), so relays' clocks never have to agree.
 * - A relay becomes arbiter by taking the row once it has expired; taking it adds one to the
 *   epoch. The arbiter renews every `renewMs` (a third of the lease); a renewal that finds
 *   another holder or epoch, or that does not succeed within the lease, deposes it.
 * - Fencing: `fencedBackend` writes each batch in a transaction that first locks the leader
 *   row FOR SHARE and checks holder and epoch; a deposed arbiter's batch fails with code
 *   `fenced` and writes nothing, and a takeover waits for a fenced batch in flight to commit.
 * - Failover: a follower tries every `renewMs`; after the arbiter dies its lease ends within
 *   `leaseMs`, so another relay arbitrates within about leaseMs + renewMs (< 2 x leaseMs).
 */
import pg from 'pg';
import { StoreError, type RawOp, type StoreBackend } from './port.js';
import { inTransaction, SCHEMA_LOCK, type PostgresBackend } from './postgres.js';

export interface LeaderState {
  role: 'arbiter' | 'follower';
  /** The epoch this relay arbitrates under (arbiter), or the last one it saw (follower). */
  epoch: number;
  holder?: string;
}

export interface ElectionOptions {
  relayId: string;
  /** Default 2500 ms: failover within 2 x 2.5 s = 5 s. */
  leaseMs?: number;
  renewMs?: number;
  onChange?: (state: LeaderState) => void;
  log?: { warn(msg: string, fields?: Record<string, unknown>): void };
}

/**
 * The election's own connections: a renewal never queues behind the store's queries in a
 * busy pool (which, under load, deposed a healthy arbiter whose lease ran out while its
 * renewal waited for a connection).
 */
export function openElectionPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => undefined);
  return pool;
}

const DDL = 'CREATE TABLE IF NOT EXISTS owp_leader (id int PRIMARY KEY CHECK (id = 1), holder text NOT NULL, epoch bigint NOT NULL, expires_at timestamptz NOT NULL)';

const ACQUIRE = `INSERT INTO owp_leader (id, holder, epoch, expires_at) VALUES (1, $1, 1, now() + $2 * interval '1 millisecond')
  ON CONFLICT (id) DO UPDATE SET holder = EXCLUDED.holder, epoch = owp_leader.epoch + 1, expires_at = EXCLUDED.expires_at
  WHERE owp_leader.expires_at < now()
  RETURNING epoch`;

const RENEW = `UPDATE owp_leader SET expires_at = now() + $3 * interval '1 millisecond' WHERE id = 1 AND holder = $1 AND epoch = $2 RETURNING epoch`;

export class Election {
  private state: LeaderState = { role: 'follower', epoch: 0 };
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private inFlight: Promise<void> = Promise.resolve();
  private lastRenewedAt = 0;
  readonly leaseMs: number;
  readonly renewMs: number;

  constructor(
    private readonly pool: pg.Pool,
    private readonly opts: ElectionOptions,
  ) {
    this.leaseMs = opts.leaseMs ?? 2500;
    this.renewMs = opts.renewMs ?? Math.max(10, Math.floor(this.leaseMs / 3));
  }

  static async open(pool: pg.Pool, opts: ElectionOptions): Promise<Election> {
    // Relays starting together race on CREATE TABLE IF NOT EXISTS (a unique violation in
    // pg_type), so the schema change takes the same advisory lock as the store's.
    await inTransaction(pool, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
      await c.query(DDL);
    });
    const e = new Election(pool, opts);
    await e.step();
    e.running = true;
    e.schedule();
    return e;
  }

  current(): LeaderState {
    return { ...this.state };
  }

  /** One election step: renew as arbiter, or try to take an expired lease as follower. */
  step(): Promise<void> {
    this.inFlight = this.inFlight.then(() => this.stepNow());
    return this.inFlight;
  }

  /** Stop electing; an arbiter gives the lease up at once so another relay takes over without waiting. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.inFlight;
    if (this.state.role === 'arbiter') {
      await this.pool
        .query(`UPDATE owp_leader SET expires_at = now() - interval '1 millisecond' WHERE id = 1 AND holder = $1 AND epoch = $2`, [this.opts.relayId, this.state.epoch])
        .catch(() => undefined);
      this.set({ role: 'follower', epoch: this.state.epoch });
    }
  }

  /** The fence a batch must pass: this relay still holds the row under its epoch. */
  readonly check = async (client: pg.PoolClient): Promise<void> => {
    const { role, epoch } = this.state;
    const { rows } = await client.query('SELECT 1 FROM owp_leader WHERE id = 1 AND holder = $1 AND epoch = $2 FOR SHARE', [this.opts.relayId, epoch]);
    if (role !== 'arbiter' || rows.length === 0) {
      throw new StoreError('fenced', `this relay is not the arbiter under epoch ${epoch} any more; the write was refused`);
    }
  };

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => void this.step().finally(() => this.schedule()), this.renewMs);
    this.timer.unref?.();
  }

  private async stepNow(): Promise<void> {
    const startedAt = Date.now();
    try {
      if (this.state.role === 'arbiter') {
        const { rows } = await this.pool.query<{ epoch: string }>(RENEW, [this.opts.relayId, this.state.epoch, this.leaseMs]);
        if (rows.length === 0) this.set({ role: 'follower', epoch: this.state.epoch });
        else this.lastRenewedAt = startedAt;
        return;
      }
      const { rows } = await this.pool.query<{ epoch: string }>(ACQUIRE, [this.opts.relayId, this.leaseMs]);
      if (rows.length > 0) {
        this.lastRenewedAt = startedAt;
        this.set({ role: 'arbiter', epoch: Number(rows[0].epoch), holder: this.opts.relayId });
        return;
      }
      const seen = await this.pool.query<{ epoch: string; holder: string }>('SELECT epoch, holder FROM owp_leader WHERE id = 1');
      if (seen.rows[0]) this.set({ role: 'follower', epoch: Number(seen.rows[0].epoch), holder: seen.rows[0].holder });
    } catch (err) {
      this.opts.log?.warn('leader election step failed', { err: String(err) });
      // Cannot reach the database: an arbiter that could not renew within its lease steps down.
      if (this.state.role === 'arbiter' && Date.now() - this.lastRenewedAt >= this.leaseMs) this.set({ role: 'follower', epoch: this.state.epoch });
    }
  }

  private set(next: LeaderState): void {
    const changed = next.role !== this.state.role || next.epoch !== this.state.epoch || next.holder !== this.state.holder;
    this.state = next;
    if (changed) this.opts.onChange?.({ ...next });
  }
}

/**
 * The backend whose every batch passes the election's fence (the arbiter's ledger writes);
 * `also` runs after the fence in the same transaction (the ledger's change log).
 */
export function fencedBackend(backend: PostgresBackend, election: Election, also?: (client: pg.PoolClient, ops: RawOp[]) => Promise<void>): StoreBackend {
  return {
    kind: 'postgres-fenced',
    get: (key) => backend.get(key),
    iterate: (range) => backend.iterate(range),
    batch: (ops) =>
      backend.batchChecked(ops, async (c) => {
        await election.check(c);
        await also?.(c, ops);
      }),
    close: async () => undefined,
  };
}
