/**
 * The ledger's change log, for follower relays (several relays on one PostgreSQL database):
 * which ledger keys each of the arbiter's batches changed, so a follower reads only those
 * entries (by sequence number) instead of the whole ledger after every batch.
 *
 * - `owp_ledger_log (seq bigserial, keys bytea[])`: one row per fenced batch that writes a
 *   `ledger/` key, inserted in the batch's own transaction (after the fence check), listing
 *   the ledger keys it put or deleted. Writers take an advisory transaction lock before the
 *   insert, so rows commit in `seq` order: a reader that sees row N has seen every row < N.
 * - A follower keeps a cursor (the last seq it applied). `readLedgerChanges(since)` reads, in
 *   one snapshot, the rows after it and the current values of their keys (absent: deleted)
 *   plus `ledger/meta`. Values are read as they are now, so reading a row twice is harmless.
 * - The arbiter keeps the last `keep` rows (default 10,000 batches). A follower whose cursor
 *   is older than the oldest row, or that has no cursor yet (start, a role change), is told
 *   to read the whole ledger; the cursor returned is taken before that read, so the whole
 *   read is at least as new and nothing is skipped.
 */
import type pg from 'pg';
import type { RawOp } from './port.js';
import { inTransaction, SCHEMA_LOCK } from './postgres.js';

const DDL = 'CREATE TABLE IF NOT EXISTS owp_ledger_log (seq bigserial PRIMARY KEY, keys bytea[] NOT NULL)';
/** Serialises writers of the log, so rows commit in seq order. */
const LOG_LOCK = 7_240_004;
const LEDGER = 'ledger/';
const META = 'ledger/meta';
/** A follower further behind than this many batches reads the whole ledger instead. */
const MAX_ROWS = 5000;

export async function ensureLedgerLog(pool: pg.Pool): Promise<void> {
  await inTransaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    await c.query(DDL);
  });
}

/** In the writing transaction: log the ledger keys `ops` touch (nothing when none), and prune old rows now and then. */
export async function logLedgerKeys(c: pg.ClientBase, ops: RawOp[], keep = 10_000): Promise<void> {
  if (!ops.some((op) => op.key.startsWith(LEDGER))) return;
  const keys = [...new Set(ops.filter((op) => op.key.startsWith(LEDGER) && op.key !== META).map((op) => op.key))].map((k) => Buffer.from(k, 'utf8'));
  await c.query('SELECT pg_advisory_xact_lock($1)', [LOG_LOCK]);
  const { rows } = await c.query<{ seq: string }>('INSERT INTO owp_ledger_log (keys) VALUES ($1::bytea[]) RETURNING seq', [keys]);
  const seq = Number(rows[0]!.seq);
  if (seq % Math.max(1, Math.floor(keep / 10)) === 0) await c.query('DELETE FROM owp_ledger_log WHERE seq <= $1', [seq - keep]);
}

export interface LedgerChangeRead {
  /** The last seq covered: pass it as `since` next time. */
  cursor: number;
  /** Changed ledger keys with their bytes now (undefined: deleted), `ledger/meta` included; absent: read the whole ledger. */
  entries?: Array<[string, Uint8Array | undefined]>;
}

/** What changed in the ledger after `since` (undefined: no cursor yet), from one snapshot. */
export async function readLedgerChanges(pool: pg.Pool, since: number | undefined): Promise<LedgerChangeRead> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const span = await client.query<{ lo: string | null; hi: string | null }>('SELECT min(seq) AS lo, max(seq) AS hi FROM owp_ledger_log');
    const lo = span.rows[0]?.lo == null ? undefined : Number(span.rows[0].lo);
    const hi = span.rows[0]?.hi == null ? 0 : Number(span.rows[0].hi);
    // No cursor, rows pruned past it, a log that was emptied (migrate --replace), or too far behind: read everything.
    if (since === undefined || since > hi || (lo !== undefined && lo > since + 1) || hi - since > MAX_ROWS) return { cursor: hi };
    if (hi === since) return { cursor: hi, entries: [] };
    const { rows } = await client.query<{ keys: Buffer[] }>('SELECT keys FROM owp_ledger_log WHERE seq > $1 ORDER BY seq', [since]);
    const keys = new Set<string>([META]);
    for (const row of rows) for (const k of row.keys) keys.add(k.toString('utf8'));
    const wanted = [...keys].map((k) => Buffer.from(k, 'utf8'));
    const values = await client.query<{ key: Buffer; value: Buffer }>('SELECT key, value FROM owp_kv WHERE key = ANY($1::bytea[])', [wanted]);
    const found = new Map(values.rows.map((r) => [r.key.toString('utf8'), r.value]));
    return { cursor: hi, entries: [...keys].map((k) => [k, found.get(k)]) };
  } finally {
    await client.query('COMMIT').catch(() => undefined);
    client.release();
  }
}
