/**
 * `owp migrate --from DIR --to postgres://...`: a stopped relay's LevelDB pool copied into
 * PostgreSQL, byte for byte (docs/MIGRATE.md).
 *
 * - The source must be at rest: LevelDB's lock refuses a folder a relay still runs on, and
 *   its audit chain must verify (a break is never carried into the new database unnoticed).
 * - The copy is ONE transaction holding `owp_kv` in EXCLUSIVE mode (reads go on, no relay
 *   writes meanwhile) and the startup lock (a relay starting waits for the whole pool). A
 *   relay using the database (its advisory lock, or a live arbiter lease) refuses the copy.
 * - A target that holds keys is refused unless `replace`: then its keys, forwarded intents
 *   and ledger log are deleted in the same transaction.
 * - Verified before COMMIT, inside the transaction: every key and value read back (count and
 *   sha256 of the whole stream equal to the source's), and the audit chain verified on the
 *   copy with the same head as the source. A copy that does not verify rolls back: the
 *   database is as it was.
 */
import { createHash, type Hash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { AuditLog } from '../audit/index.js';
import { openStore } from './index.js';
import type { StoreBackend } from './port.js';
import { describeDatabaseUrl, openPostgresBackend, SINGLE_RELAY_LOCK, STARTUP_LOCK, transactionReader } from './postgres.js';
import { createStore, type Store } from './store.js';

const ROWS = 1000;
const ROW_BYTES = 8 * 1024 * 1024;
/** Tables of several relays that belong to the pool a database holds (cleared by --replace). */
const POOL_TABLES = ['owp_intents', 'owp_ledger_log', 'owp_doc_gen'];

export type MigrateRefusal = 'not-found' | 'locked' | 'not-empty' | 'audit-broken' | 'unavailable' | 'copy-mismatch';

export class MigrateRefused extends Error {
  constructor(
    readonly code: MigrateRefusal,
    message: string,
  ) {
    super(message);
    this.name = 'MigrateRefused';
  }
}

export interface MigrateOptions {
  /** A relay's data folder (holding `leveldb/`), or the LevelDB folder itself. */
  from: string;
  /** postgres://... */
  to: string;
  /** Delete what the database holds and copy in its place (default: refuse a non-empty database). */
  replace?: boolean;
}

/** What `owp migrate` did: the counts and digest both sides agreed on, and where. */
export interface MigrateSummary extends Counted {
  from: string;
  /** Where the pool went, without the password. */
  to: string;
  audit: { entries: number; headSeq: number; headHash: string };
  /** Keys deleted from the database first (`replace`). */
  replaced: number;
}

/** The digest both sides are compared by: length-prefixed key and value, in key order. */
function feed(h: Hash, key: string, value: Uint8Array): void {
  const k = Buffer.from(key, 'utf8');
  const len = Buffer.alloc(8);
  len.writeUInt32BE(k.length, 0);
  len.writeUInt32BE(value.length, 4);
  h.update(len).update(k).update(value);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The LevelDB folder of `from` (never created: LevelDB would make an empty one). */
async function levelFolder(from: string): Promise<string> {
  if (await exists(join(from, 'leveldb', 'CURRENT'))) return join(from, 'leveldb');
  if (await exists(join(from, 'CURRENT'))) return from;
  throw new MigrateRefused('not-found', `${from} holds no relay data (no ${join(from, 'leveldb')} folder); give the data folder a relay ran on (its --data or OWP_DATA)`);
}

async function openSource(from: string): Promise<Store> {
  const dir = await levelFolder(from);
  try {
    return await openStore(dir);
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause;
    if (cause?.code === 'LEVEL_LOCKED') throw new MigrateRefused('locked', `${from} is in use by a running relay; stop it first (migrate copies a pool at rest, so nothing is written to it during the copy)`);
    throw new MigrateRefused('unavailable', `cannot open the LevelDB pool in ${dir} (${(e as Error).message})`);
  }
}

/** What a pool holds: counted on the source and again on the copy, which must agree. */
export interface Counted {
  keys: number;
  bytes: number;
  /** sha256 of every key and value in key order: equal on both sides. */
  sha256: string;
  tasks: number;
  leases: number;
  workers: number;
  tokens: number;
  documents: number;
  archived: number;
}

/** A JSON field of a stored value, or undefined when the value is not the JSON object expected. */
function field(value: Uint8Array, name: string): unknown {
  try {
    return (JSON.parse(Buffer.from(value).toString('utf8')) as Record<string, unknown>)?.[name];
  } catch {
    return undefined;
  }
}

/** What a pool holds, for the summary (and the digest the copy is checked against). */
function counter(): { add(key: string, value: Uint8Array): void; done(): Counted } {
  const h = createHash('sha256');
  const docs = new Set<string>();
  const c = { keys: 0, bytes: 0, tasks: 0, leases: 0, workers: 0, tokens: 0, archived: 0 };
  return {
    add(key, value) {
      feed(h, key, value);
      c.keys += 1;
      c.bytes += key.length + value.length;
      if (key.startsWith('ledger/task/')) {
        c.tasks += 1;
        if (field(value, 'state') === 'leased') c.leases += 1;
      } else if (key.startsWith('ledger/worker/')) c.workers += 1;
      else if (key.startsWith('auth/')) {
        if (field(value, 'revokedAt') === undefined) c.tokens += 1;
      } else if (key.startsWith('archive/task/')) c.archived += 1;
      else if (key.startsWith('doc/')) docs.add(key.slice(4, key.indexOf('/', 4)));
    },
    done: () => ({ ...c, documents: docs.size, sha256: h.digest('hex') }),
  };
}

async function verifiedChain(store: Store, where: string): Promise<MigrateSummary['audit']> {
  const log = await AuditLog.open(store);
  const v = await log.verify();
  if (!v.ok) throw new MigrateRefused('audit-broken', `the audit chain in ${where} is broken at entry ${v.brokenAt} (${v.reason}); nothing was copied. Restore the folder from a backup (docs/BACKUP.md), or check it with \`owp audit verify\` on a relay started on it`);
  const head = log.head();
  return { entries: v.entries, headSeq: head.seq, headHash: head.hash };
}

/** Refuse a database a relay is using; count (and with `replace` delete) what it holds. */
async function claimTarget(c: pg.PoolClient, to: string, replace: boolean): Promise<number> {
  const where = describeDatabaseUrl(to);
  await c.query('LOCK TABLE owp_kv IN EXCLUSIVE MODE');
  const locks = await c.query<{ single: boolean; startup: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS single, pg_try_advisory_xact_lock($2) AS startup', [SINGLE_RELAY_LOCK, STARTUP_LOCK]);
  const leader = await c.query<{ live: boolean }>(`SELECT to_regclass('owp_leader') IS NOT NULL AS live`);
  const live = leader.rows[0]?.live ? (await c.query(`SELECT 1 FROM owp_leader WHERE expires_at > now()`)).rows.length > 0 : false;
  if (!locks.rows[0]?.single || !locks.rows[0]?.startup || live) {
    throw new MigrateRefused('locked', `the database at ${where} is in use by a running relay; stop every relay on it first`);
  }
  const { rows } = await c.query<{ n: string }>('SELECT count(*) AS n FROM owp_kv');
  const held = Number(rows[0]?.n ?? 0);
  if (held > 0 && !replace) {
    throw new MigrateRefused('not-empty', `the database at ${where} already holds ${held} keys of a pool; migrate fills only an empty database. Give --replace to delete them and copy the folder in their place`);
  }
  if (replace) {
    await c.query('DELETE FROM owp_kv');
    for (const t of POOL_TABLES) if ((await c.query(`SELECT to_regclass($1) IS NOT NULL AS t`, [t])).rows[0]?.t) await c.query(`DELETE FROM ${t}`);
  }
  return replace ? held : 0;
}

async function copyRows(c: pg.PoolClient, source: Store): Promise<Counted> {
  const count = counter();
  let keys: Buffer[] = [];
  let values: Buffer[] = [];
  let size = 0;
  const flush = async () => {
    if (keys.length === 0) return;
    await c.query('INSERT INTO owp_kv (key, value) SELECT * FROM unnest($1::bytea[], $2::bytea[])', [keys, values]);
    keys = [];
    values = [];
    size = 0;
  };
  for await (const [key, value] of source.backend.iterate({})) {
    count.add(key, value);
    keys.push(Buffer.from(key, 'utf8'));
    values.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    size += key.length + value.length;
    if (keys.length >= ROWS || size >= ROW_BYTES) await flush();
  }
  await flush();
  return count.done();
}

/** Read the copy back inside the transaction: the same bytes, and a chain that verifies to the same head. */
async function checkCopy(reader: StoreBackend, copied: Counted, chain: MigrateSummary['audit'], where: string): Promise<void> {
  const back = counter();
  for await (const [key, value] of reader.iterate({})) back.add(key, value);
  const got = back.done();
  if (got.keys !== copied.keys || got.sha256 !== copied.sha256) {
    throw new MigrateRefused('copy-mismatch', `reading the copy back found ${got.keys} keys (sha256 ${got.sha256.slice(0, 12)}) where ${copied.keys} were written (${copied.sha256.slice(0, 12)}); the copy was rolled back and ${where} is as it was`);
  }
  const copy = await verifiedChain(createStore(reader), where).catch((e: Error) => {
    throw new MigrateRefused('copy-mismatch', `the copied audit chain does not verify (${e.message}); the copy was rolled back`);
  });
  if (copy.entries !== chain.entries || copy.headHash !== chain.headHash) {
    throw new MigrateRefused('copy-mismatch', `the copied audit chain ends at entry ${copy.entries} where the folder's ends at ${chain.entries}; the copy was rolled back`);
  }
}

export async function migrateToPostgres(opts: MigrateOptions): Promise<MigrateSummary> {
  const where = describeDatabaseUrl(opts.to);
  const source = await openSource(opts.from);
  try {
    const chain = await verifiedChain(source, opts.from);
    const target = await openPostgresBackend(opts.to).catch((e: Error) => {
      throw new MigrateRefused('unavailable', e.message);
    });
    const client = await target.pool.connect();
    try {
      await client.query('BEGIN');
      const replaced = await claimTarget(client, opts.to, opts.replace === true);
      const copied = await copyRows(client, source);
      await checkCopy(transactionReader(client), copied, chain, where);
      await client.query('COMMIT');
      return { from: opts.from, to: where, ...copied, audit: chain, replaced };
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
      await target.close();
    }
  } finally {
    await source.close();
  }
}
