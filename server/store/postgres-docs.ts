/**
 * Yjs document updates shared by several relays on one PostgreSQL database (the DocFanout of
 * server/sync/docstore.ts), and their rotation (docs/ROTATION.md, "Several relays").
 *
 * - Each update is written under a key no other relay uses (`u/<seq>-<writer tag>`) with a
 *   `doc` note in the same transaction: other relays hear of it only once it is committed.
 *   The note carries the update itself when it fits (base64 under MAX_PAYLOAD), else only
 *   its key and readers fetch it.
 * - After the listening connection was lost, `resync` makes every loaded doc catch up from
 *   the store (Yjs updates are idempotent: applying one twice changes nothing).
 * - Compaction deletes logged updates, so only one relay may do it at a time: the arbiter,
 *   after the fence check in the same transaction (a deposed arbiter's compaction fails and
 *   changes nothing), and only while the doc is at the generation it compacts.
 * - Generations: `owp_doc_gen (name, generation)` holds each rotated document's generation
 *   (no row: never rotated here; every relay loaded the same one). An update of a rotating
 *   document is written under the document's advisory lock held SHARED, and only if the row
 *   still names the generation its writer holds (no row: any); its note carries `g`. A
 *   rotation (the arbiter only, after the fence check in the same transaction) holds that lock
 *   EXCLUSIVE, reads the row and the whole log, and writes the new snapshot, the generation
 *   record, the row, the deletion of exactly the log it read and a `rot` note, all in one
 *   transaction. So every update commits either before the rotation (in the log it read, so
 *   in the new generation) or after it (refused if of the old one): none is lost to a
 *   rotation, none of an old generation lands in a new log. An arbiter killed mid-rotation
 *   commits nothing: the old generation stays whole.
 */
import type pg from 'pg';
import type { DocFanout } from '../sync/docstore.js';
import { CHANNEL, MAX_PAYLOAD, notifySql, type BusMessage, type PgBus } from './postgres-bus.js';
import { inTransaction, SCHEMA_LOCK, writeOps, type PostgresBackend } from './postgres.js';
import { toRawOp } from './store.js';

export interface DocNote extends BusMessage {
  t: 'doc';
  /** Document name. */
  d: string;
  /** Store key of the update. */
  k: string;
  /** The update, base64, when small enough. */
  u?: string;
  /** The generation the update belongs to (rotating documents). */
  g?: number;
}

/** A document was rotated: `d` is now at generation `g`. */
export interface RotationNote extends BusMessage {
  t: 'rot';
  d: string;
  g: number;
}

/** Advisory lock class of a document's generation (second key: hashtext(name)). */
export const DOC_GEN_LOCK = 7_240_005;

const DDL = 'CREATE TABLE IF NOT EXISTS owp_doc_gen (name text PRIMARY KEY, generation bigint NOT NULL)';

export async function ensureDocGenTable(pool: pg.Pool): Promise<void> {
  await inTransaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
    await c.query(DDL);
  });
}

/** Insert the update only while the doc is at the writer's generation (no row: any), and send its note. */
const APPEND_AT_GENERATION = `WITH ins AS (
  INSERT INTO owp_kv (key, value) SELECT $1, $2 WHERE coalesce((SELECT generation FROM owp_doc_gen WHERE name = $3), $4) = $4
  ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value RETURNING 1)
SELECT pg_notify($5, $6) FROM ins`;

const LOCK_SHARED = 'SELECT pg_advisory_xact_lock_shared($1, hashtext($2))';
const LOCK_EXCLUSIVE = 'SELECT pg_advisory_xact_lock($1, hashtext($2))';

/** The byte after the last key of a prefix ending in `/` (`u/` -> `u0`). */
const afterPrefix = (prefix: string) => prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);

const buf = (u8: Uint8Array) => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);

/** The arbiter's fence check (run first in a transaction), or undefined while this relay follows. */
export type DocFence = () => ((c: pg.PoolClient) => Promise<void>) | undefined;

/** Under the doc's lock (shared): the stored generation is `generation` (no row: any). */
async function atGeneration(c: pg.PoolClient, name: string, generation: number): Promise<boolean> {
  await c.query(LOCK_SHARED, [DOC_GEN_LOCK, name]);
  const { rows } = await c.query<{ generation: string }>('SELECT generation FROM owp_doc_gen WHERE name = $1', [name]);
  return rows.length === 0 || Number(rows[0]!.generation) === generation;
}

export function postgresDocFanout(backend: PostgresBackend, bus: PgBus, fenceOf: DocFence): DocFanout {
  return {
    async append(name, key, update, generation) {
      const note: DocNote = { t: 'doc', d: name, k: key, ...(generation === undefined ? {} : { g: generation }) };
      const b64 = buf(update).toString('base64');
      if (b64.length + name.length + key.length < MAX_PAYLOAD) note.u = b64;
      const q = notifySql(note);
      if (generation === undefined) {
        await backend.batchChecked([{ type: 'put', key, value: update }], async (c) => {
          await c.query(q.text, q.values);
        });
        return true;
      }
      return inTransaction(backend.pool, async (c) => {
        await c.query(LOCK_SHARED, [DOC_GEN_LOCK, name]);
        const r = await c.query(APPEND_AT_GENERATION, [Buffer.from(key, 'utf8'), buf(update), name, generation, CHANNEL, JSON.stringify(note)]);
        return r.rowCount === 1;
      });
    },
    async compact(name, generation, ops) {
      const fence = fenceOf();
      if (!fence) return false;
      return inTransaction(backend.pool, async (c) => {
        await fence(c);
        if (!(await atGeneration(c, name, generation))) return false;
        await writeOps(c, ops.map(toRawOp));
        return true;
      });
    },
    mayCompact: () => fenceOf() !== undefined,
    async rotate(name, logPrefix, build) {
      const fence = fenceOf();
      if (!fence) return false;
      return inTransaction(backend.pool, async (c) => {
        await fence(c);
        await c.query(LOCK_EXCLUSIVE, [DOC_GEN_LOCK, name]);
        const row = await c.query<{ generation: string }>('SELECT generation FROM owp_doc_gen WHERE name = $1', [name]);
        const log = await c.query<{ key: Buffer; value: Buffer }>('SELECT key, value FROM owp_kv WHERE key >= $1 AND key < $2 ORDER BY key', [
          Buffer.from(logPrefix, 'utf8'),
          Buffer.from(afterPrefix(logPrefix), 'utf8'),
        ]);
        const stored = row.rows[0] ? Number(row.rows[0].generation) : undefined;
        const built = build(stored, log.rows.map((r): [string, Uint8Array] => [r.key.toString('utf8'), r.value]));
        if (!built) return false;
        await writeOps(c, built.ops.map(toRawOp));
        await c.query('INSERT INTO owp_doc_gen (name, generation) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET generation = EXCLUDED.generation', [name, built.generation]);
        const q = notifySql({ t: 'rot', d: name, g: built.generation } satisfies RotationNote);
        await c.query(q.text, q.values);
        return true;
      });
    },
    subscribe(listener) {
      const offNote = bus.on((m) => {
        if (typeof m.d !== 'string') return;
        if (m.t === 'rot' && typeof m.g === 'number') return listener.rotated(m.d, m.g);
        if (m.t !== 'doc' || typeof m.k !== 'string') return;
        listener.update(m.d, m.k, typeof m.u === 'string' ? new Uint8Array(Buffer.from(m.u, 'base64')) : undefined, typeof m.g === 'number' ? m.g : undefined);
      });
      const offResync = bus.onResync(() => listener.resync());
      return () => {
        offNote();
        offResync();
      };
    },
  };
}
