/**
 * The PostgreSQL backend of the storage port (node-postgres), selected by OWP_DATABASE_URL.
 * Several stores may open the same database; `exclusive` (the relay's) holds an advisory lock
 * so that one relay arbitrates per database.
 *
 * - One table `owp_kv (key bytea PRIMARY KEY, value bytea)`: keys as their UTF-8 bytes, so
 *   PostgreSQL orders them by byte = code point, whatever the database's collation. Created
 *   on open under an advisory lock (relays starting together do not race).
 * - `batch` is one transaction (the final state of each key: one DELETE, one upsert);
 *   `batchChecked` runs a check inside it first (where an elected arbiter's epoch fence goes).
 * - `iterate` reads pages of 500 by key; a walk longer than one page runs in a REPEATABLE READ
 *   READ ONLY transaction, so every page comes from one snapshot.
 */
import pg from 'pg';
import { StoreError, type KeyRange, type RawOp, type StoreBackend } from './port.js';

const PAGE = 500;
/** Advisory lock serialising schema changes: concurrent `CREATE TABLE IF NOT EXISTS` can race in PostgreSQL. */
export const SCHEMA_LOCK = 7_240_001;

export interface PostgresBackend extends StoreBackend {
  readonly pool: pg.Pool;
  /** Like batch, but `check` runs first in the same transaction; if it throws, nothing is written. */
  batchChecked(ops: RawOp[], check: (client: pg.PoolClient) => Promise<void>): Promise<void>;
}

const bytes = (u8: Uint8Array) => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
const keyBytes = (key: string) => Buffer.from(key, 'utf8');

/** WHERE ... ORDER BY ... for a range from checkRange, continuing after `after` (keyset paging). */
function rangeSql(r: KeyRange, after: string | undefined, limit: number): { text: string; values: Buffer[] } {
  const where: string[] = [];
  const values: Buffer[] = [];
  const cond = (op: string, key: string) => {
    values.push(keyBytes(key));
    where.push(`key ${op} $${values.length}`);
  };
  if (r.gt !== undefined) cond('>', r.gt);
  if (r.gte !== undefined) cond('>=', r.gte);
  if (r.lt !== undefined) cond('<', r.lt);
  if (r.lte !== undefined) cond('<=', r.lte);
  if (after !== undefined) cond(r.reverse ? '<' : '>', after);
  const text = `SELECT key, value FROM owp_kv${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY key ${r.reverse ? 'DESC' : 'ASC'} LIMIT ${limit}`;
  return { text, values };
}

type Row = { key: Buffer; value: Buffer };

/** Rows of `r` in pages of PAGE through `query` (one snapshot only if `query` runs in one). */
async function* pagedRows(query: pg.ClientBase['query'], r: KeyRange, left: number): AsyncIterableIterator<[string, Uint8Array]> {
  let after: string | undefined;
  while (left > 0) {
    const q = rangeSql(r, after, Math.min(PAGE, left));
    const { rows } = await query<Row>(q.text, q.values);
    for (const row of rows) {
      after = row.key.toString('utf8');
      left -= 1;
      yield [after, row.value];
    }
    if (rows.length < PAGE) break;
  }
}

const limitOf = (r: KeyRange) => (r.limit === undefined || r.limit < 0 ? Infinity : r.limit);

async function* pgIterate(pool: pg.Pool, r: KeyRange): AsyncIterableIterator<[string, Uint8Array]> {
  const left = limitOf(r);
  if (left === 0) return;
  if (left <= PAGE) {
    const q = rangeSql(r, undefined, left);
    for (const row of (await pool.query<Row>(q.text, q.values)).rows) yield [row.key.toString('utf8'), row.value];
    return;
  }
  const client = await pool.connect();
  let ok = false;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    yield* pagedRows(client.query.bind(client) as pg.ClientBase['query'], r, left);
    await client.query('COMMIT');
    ok = true;
  } finally {
    if (!ok) await client.query('ROLLBACK').catch(() => undefined);
    client.release();
  }
}

/**
 * A read-only backend over one client, inside a transaction the caller holds: reads see that
 * transaction's own writes (`owp migrate` verifies its copy this way before committing it).
 */
export function transactionReader(client: pg.ClientBase): StoreBackend {
  const query = client.query.bind(client) as pg.ClientBase['query'];
  return {
    kind: 'postgres-transaction',
    async get(key) {
      const { rows } = await client.query<{ value: Buffer }>('SELECT value FROM owp_kv WHERE key = $1', [keyBytes(key)]);
      return rows[0]?.value;
    },
    batch: () => Promise.reject(new StoreError('closed', 'this view of a transaction is read-only')),
    iterate: (range) => pagedRows(query, range, limitOf(range)),
    close: async () => undefined,
  };
}

/** The final state of every key the ops touch, in one DELETE and one upsert. */
export async function writeOps(client: pg.ClientBase, ops: RawOp[]): Promise<void> {
  const last = new Map<string, Uint8Array | null>();
  for (const op of ops) {
    last.delete(op.key);
    last.set(op.key, op.type === 'put' ? op.value : null);
  }
  const dels: Buffer[] = [];
  const putKeys: Buffer[] = [];
  const putValues: Buffer[] = [];
  for (const [k, v] of last) {
    if (v === null) dels.push(keyBytes(k));
    else {
      putKeys.push(keyBytes(k));
      putValues.push(bytes(v));
    }
  }
  if (dels.length) await client.query('DELETE FROM owp_kv WHERE key = ANY($1::bytea[])', [dels]);
  if (putKeys.length) {
    await client.query(
      'INSERT INTO owp_kv (key, value) SELECT * FROM unnest($1::bytea[], $2::bytea[]) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value',
      [putKeys, putValues],
    );
  }
}

/** Run `fn` in a transaction on a client of `pool`. */
export async function inTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Where a URL points, without its password (for messages and logs). */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return 'the database in OWP_DATABASE_URL';
  }
}

/** Held by a relay without OWP_RELAY_ID for as long as it runs (one relay per database). */
export const SINGLE_RELAY_LOCK = 7_240_002;
/** Held while a relay of several starts (one relay creates the first admin token), and by `owp migrate` while it copies. */
export const STARTUP_LOCK = 7_240_003;

/** Hold a session advisory lock on a connection of its own: one relay per database (until election). */
async function holdRelayLock(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [SINGLE_RELAY_LOCK]);
  if (rows[0]?.ok) return client;
  await client.end();
  throw new StoreError('locked', `the PostgreSQL database at ${describeDatabaseUrl(url)} is in use by another relay`);
}

/**
 * The relay's tables with their indexes and TOAST (owp_db_size_bytes): not pg_database_size,
 * because the database may hold other applications' tables too.
 */
const SIZE_SQL =
  "SELECT sum(pg_total_relation_size(c.oid))::bigint AS bytes FROM pg_class c WHERE c.oid IN (to_regclass('owp_kv'), to_regclass('owp_intents'), to_regclass('owp_leader'), to_regclass('owp_doc_gen'))";

export interface PostgresOptions {
  /** Pool size (default 10). */
  max?: number;
  /** Refuse to open while another exclusive opener holds the database (one relay per database). */
  exclusive?: boolean;
}

export async function openPostgresBackend(url: string, opts: PostgresOptions = {}): Promise<PostgresBackend> {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 10 });
  // An idle client losing its connection must not crash the relay; the next query reconnects.
  pool.on('error', () => undefined);
  let lock: pg.Client | undefined;
  try {
    await inTransaction(pool, async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
      await c.query('CREATE TABLE IF NOT EXISTS owp_kv (key bytea PRIMARY KEY, value bytea NOT NULL)');
    });
    lock = opts.exclusive ? await holdRelayLock(url) : undefined;
  } catch (err) {
    await pool.end().catch(() => undefined);
    if (err instanceof StoreError) throw err;
    throw new StoreError('unavailable', `could not open the PostgreSQL database at ${describeDatabaseUrl(url)} (${(err as Error).message}); check OWP_DATABASE_URL and that the server accepts this user`);
  }
  let closed = false;
  const open = () => {
    if (closed) throw new StoreError('closed', 'the store is closed');
  };
  const backend: PostgresBackend = {
    kind: 'postgres',
    pool,
    async get(key) {
      open();
      const { rows } = await pool.query<{ value: Buffer }>('SELECT value FROM owp_kv WHERE key = $1', [keyBytes(key)]);
      return rows[0]?.value;
    },
    async batch(ops) {
      open();
      if (ops.length > 0) await inTransaction(pool, (c) => writeOps(c, ops));
    },
    async batchChecked(ops, check) {
      open();
      await inTransaction(pool, async (c) => {
        await check(c);
        await writeOps(c, ops);
      });
    },
    iterate(range) {
      open();
      return pgIterate(pool, range);
    },
    async sizeBytes() {
      open();
      const { rows } = await pool.query<{ bytes: string | null }>(SIZE_SQL);
      return Number(rows[0]?.bytes ?? 0);
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
      await lock?.end();
    },
  };
  return backend;
}
