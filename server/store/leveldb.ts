/**
 * The embedded default backend: LevelDB (`level`) in one folder. The only module that imports
 * `level` (eslint enforces it).
 *
 * - One instance per folder: LevelDB takes a lock, so a second open (this process or another)
 *   fails with LEVEL_DATABASE_NOT_OPEN caused by LEVEL_LOCKED; main.ts turns that into advice.
 * - Keys are UTF-8 (LevelDB orders their bytes: code point order), values raw bytes. Data
 *   written before the storage port (JSON values through Level's json encoding) is the same bytes.
 * - Iterators read LevelDB's implicit snapshot taken when they are created.
 * - `compactRange` drops the tombstones of deleted keys in a range (a range scan walks every
 *   one until LevelDB's own compactions reach them: after 100,000 task lifecycles the 104 keys
 *   of `doc/` took 141 ms to list, 9 ms once compacted).
 * - A batch (one chained LevelDB WriteBatch: all ops or none) with `sync` is fsynced
 *   (LevelDB's `sync: true`) before it resolves.
 */
import { Level } from 'level';
import { StoreError, type BatchOptions, type KeyRange, type RawOp, type StoreBackend } from './port.js';

type Db = Level<string, Uint8Array>;

async function* levelIterate(db: Db, range: KeyRange): AsyncIterableIterator<[string, Uint8Array]> {
  const it = db.iterator({ ...range, limit: range.limit ?? -1 });
  try {
    for await (const entry of it) yield entry;
  } finally {
    await it.close();
  }
}

export async function openLevelBackend(dir: string): Promise<StoreBackend> {
  const db: Db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  await db.open();
  const native = db as unknown as { compactRange?: (start: string, end: string) => Promise<void> };
  let closed = false;
  const open = () => {
    if (closed) throw new StoreError('closed', 'the store is closed');
  };
  return {
    kind: 'leveldb',
    async get(key) {
      open();
      return (await db.get(key)) ?? undefined;
    },
    async batch(ops: RawOp[], opts?: BatchOptions) {
      open();
      if (ops.length === 0) return;
      // A chained batch: one native call per op. The array form (`db.batch(ops)`) costs 5-10x
      // more main-thread time per op (option spreading and per-op property reads in the binding);
      // it was the largest single cost of an engine batch (docs/BENCHMARKS.md "Profile").
      // Both are one atomic LevelDB WriteBatch. sync: LevelDB fsyncs its write-ahead log before
      // the write returns (and groups concurrent writers into one sync).
      const b = db.batch();
      try {
        for (const op of ops) {
          if (op.type === 'put') b.put(op.key, op.value);
          else b.del(op.key);
        }
      } catch (e) {
        await b.close();
        throw e;
      }
      await b.write({ sync: opts?.sync === true });
    },
    iterate(range) {
      open();
      return levelIterate(db, range);
    },
    // LevelDB's own thread does the work; the event loop only waits for it (`level` types
    // cover browsers too; in Node it is classic-level, which has it).
    compactRange: native.compactRange
      ? async (range) => {
          open();
          await native.compactRange!.call(db, range.gte, range.lt);
        }
      : undefined,
    async close() {
      closed = true;
      if (db.status === 'open' || db.status === 'opening') await db.close();
    },
  };
}
