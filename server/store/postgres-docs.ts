/**
 * Yjs document updates shared by several relays on one PostgreSQL database (the DocFanout of
 * server/sync/docstore.ts).
 *
 * - Each update is written under a key no other relay uses (`u/<seq>-<writer tag>`) with a
 *   `doc` note in the same transaction: other relays hear of it only once it is committed.
 *   The note carries the update itself when it fits (base64 under MAX_PAYLOAD), else only
 *   its key and readers fetch it.
 * - After the listening connection was lost, `resync` makes every loaded doc catch up from
 *   the store (Yjs updates are idempotent: applying one twice changes nothing).
 * - Compaction deletes logged updates, so only one relay may do it at a time: the arbiter,
 *   through its fenced backend (a deposed arbiter's compaction fails and changes nothing).
 */
import type { DocFanout } from '../sync/docstore.js';
import { MAX_PAYLOAD, notifySql, type BusMessage, type PgBus } from './postgres-bus.js';
import type { PostgresBackend } from './postgres.js';
import { toRawOp } from './store.js';
import type { StoreBackend } from './port.js';

export interface DocNote extends BusMessage {
  t: 'doc';
  /** Document name. */
  d: string;
  /** Store key of the update. */
  k: string;
  /** The update, base64, when small enough. */
  u?: string;
}

export function postgresDocFanout(backend: PostgresBackend, bus: PgBus, compactor: () => StoreBackend | undefined): DocFanout {
  return {
    async append(name, key, update) {
      const note: DocNote = { t: 'doc', d: name, k: key };
      const b64 = Buffer.from(update.buffer, update.byteOffset, update.byteLength).toString('base64');
      if (b64.length + name.length + key.length < MAX_PAYLOAD) note.u = b64;
      const q = notifySql(note);
      await backend.batchChecked([{ type: 'put', key, value: update }], async (c) => {
        await c.query(q.text, q.values);
      });
    },
    async compact(ops) {
      const fenced = compactor();
      if (!fenced) return false;
      await fenced.batch(ops.map(toRawOp));
      return true;
    },
    subscribe(listener) {
      const offNote = bus.on((m) => {
        if (m.t !== 'doc' || typeof m.d !== 'string' || typeof m.k !== 'string') return;
        listener.update(m.d, m.k, typeof m.u === 'string' ? new Uint8Array(Buffer.from(m.u, 'base64')) : undefined);
      });
      const offResync = bus.onResync(() => listener.resync());
      return () => {
        offNote();
        offResync();
      };
    },
  };
}
