/**
 * The Store every relay module uses, over any StoreBackend (./port.ts): typed reads, JSON and
 * binary values, prefix scans, atomic batches and namespaced kv for feature modules.
 *
 * - JSON values are stored as the UTF-8 bytes of `JSON.stringify(value)`; binary values
 *   (Yjs updates) as their bytes. A reader says which it wants (`get` vs `getBinary`,
 *   `encoding: 'binary'`): the bytes carry no tag, so every backend holds the same bytes.
 * - Prefix scans cover [prefix, prefixEnd(prefix)), so `a/b/` never sees `a/b0...`.
 * - `kv(namespace)` keys are `kv/<namespace>/<key>`, apart from the relay's own prefixes.
 * - Durability (`createStore(backend, { durability })`, OWP_DURABILITY): with `fsync` (the
 *   default) every batch, put and del asks the backend for `sync`, so whatever a caller awaited
 *   is on stable storage; with `os` none does (docs/RELIABILITY.md).
 * - Deleted keys are counted by their first path segment (`doc/`, `ledger/`, ...);
 *   `compactDeleted(min)` has the backend drop the tombstones of each segment with at least
 *   `min` deletes since its last compaction (LevelDB: a range scan walks every tombstone, and a
 *   start scans `doc/` and `ledger/`). One compaction at a time; a no-op without `compactRange`.
 * - Key layout of the whole relay: docs/STORAGE.md.
 */
import type { KvStore } from '../ports.js';
import { checkKey, checkRange, prefixEnd, prefixRange, StoreError, type Durability, type KeyRange, type RawOp, type StoreBackend } from './port.js';

export type ValueKind = 'json' | 'binary';

export interface StoreOp {
  type: 'put' | 'del';
  key: string;
  value?: unknown;
  /** How `value` is written: JSON (default) or raw bytes (Uint8Array). */
  encoding?: ValueKind;
}

export interface ScanOptions {
  reverse?: boolean;
  limit?: number;
  /** Only keys >= this (inside the prefix). */
  gte?: string;
  encoding?: ValueKind;
}

/** A KvStore that can also list its keys (feature modules use it for small tables). */
export interface NamespacedKv extends KvStore {
  entries<T>(): Promise<Array<[string, T]>>;
}

export interface Store {
  /** The backend underneath (`kind` says which). */
  readonly backend: StoreBackend;
  /** `fsync`: every write is synced to stable storage before it resolves; `os`: left to the OS. */
  readonly durability: Durability;
  kv(namespace: string): NamespacedKv;
  /** Atomic: all ops or none. */
  batch(ops: StoreOp[]): Promise<void>;
  get<T>(key: string): Promise<T | undefined>;
  getBinary(key: string): Promise<Uint8Array | undefined>;
  put(key: string, value: unknown): Promise<void>;
  del(key: string): Promise<void>;
  /** Entries whose key starts with `prefix`, in key order (or reverse). */
  entries<T>(prefix: string, opts?: ScanOptions): Promise<Array<[string, T]>>;
  keys(prefix: string, opts?: { reverse?: boolean; limit?: number }): Promise<string[]>;
  /** Entries of any key range, lazily, from one snapshot (break out of the loop to stop early). */
  iterate<T>(range: KeyRange, encoding?: ValueKind): AsyncIterableIterator<[string, T]>;
  /** Compact away the tombstones of every key segment with at least `minDeletes` deletes since its last compaction; resolves with the segments done. */
  compactDeleted?(minDeletes: number): Promise<string[]>;
  close(): Promise<void>;
}

const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A value's JSON text as UTF-8 bytes. Buffer.from, not TextEncoder: for the short texts of
 * ledger entries it is ~3x cheaper and takes its bytes from Node's shared pool instead of a
 * fresh ArrayBuffer per value (10 per claim+complete cycle, mostly under 300 bytes). The bytes
 * are only read: every backend copies them (LevelDB into its WriteBatch, the memory volume).
 */
export function encodeJson(key: string, value: unknown): Uint8Array {
  if (value === undefined) throw new StoreError('bad-value', `put ${key} needs a value`);
  const text = JSON.stringify(value);
  if (text === undefined) throw new StoreError('bad-value', `the value for ${key} cannot be written as JSON`);
  return Buffer.from(text, 'utf8');
}

export function decodeJson<T>(key: string, bytes: Uint8Array): T {
  try {
    return JSON.parse(fromUtf8.decode(bytes)) as T;
  } catch {
    throw new StoreError('bad-value', `${key} does not hold a JSON value (read it with getBinary)`);
  }
}

export function toRawOp(op: StoreOp): RawOp {
  const key = checkKey(op.key);
  if (op.type === 'del') return { type: 'del', key };
  if (op.type !== 'put') throw new StoreError('bad-value', `unknown store op type ${JSON.stringify(op.type)}`);
  if (op.encoding === 'binary') {
    if (!(op.value instanceof Uint8Array)) throw new StoreError('bad-value', `binary value for ${key} must be a Uint8Array`);
    return { type: 'put', key, value: op.value };
  }
  return { type: 'put', key, value: encodeJson(key, op.value) };
}

async function* decoded<T>(it: AsyncIterableIterator<[string, Uint8Array]>, encoding: ValueKind): AsyncIterableIterator<[string, T]> {
  for await (const [k, v] of it) yield [k, (encoding === 'binary' ? v : decodeJson<T>(k, v)) as T];
}

export interface StoreOptions {
  /** Default `fsync`. */
  durability?: Durability;
}

/** The Store over `backend`. Closing the Store closes the backend. */
export function createStore(backend: StoreBackend, opts: StoreOptions = {}): Store {
  const durability = opts.durability ?? 'fsync';
  const write = { sync: durability === 'fsync' };
  /** Deletes since the segment's last compaction, by first path segment (`doc/`). */
  const deleted = new Map<string, number>();
  const countDelete = (key: string) => {
    const slash = key.indexOf('/');
    const segment = slash < 0 ? key : key.slice(0, slash + 1);
    deleted.set(segment, (deleted.get(segment) ?? 0) + 1);
  };
  let compacting: Promise<string[]> = Promise.resolve([]);
  const compactDeleted = async (minDeletes: number): Promise<string[]> => {
    const done: string[] = [];
    if (!backend.compactRange) return done;
    for (const [segment, n] of [...deleted]) {
      if (n < minDeletes) continue;
      deleted.set(segment, 0);
      await backend.compactRange({ gte: segment, lt: prefixEnd(segment) ?? '\uffff' });
      done.push(segment);
    }
    return done;
  };
  const store: Store = {
    backend,
    durability,
    kv(namespace: string): NamespacedKv {
      if (!namespace || namespace.includes('/')) throw new TypeError('kv namespace must be a non-empty name without "/"');
      const p = `kv/${namespace}/`;
      return {
        get: <T>(key: string) => store.get<T>(p + key),
        put: (key: string, value: unknown) => store.put(p + key, value),
        del: (key: string) => store.del(p + key),
        entries: async <T>() => (await store.entries<T>(p)).map(([k, v]) => [k.slice(p.length), v] as [string, T]),
      };
    },
    async batch(ops) {
      if (ops.length === 0) return;
      const raw = ops.map(toRawOp);
      await backend.batch(raw, write);
      for (const op of raw) if (op.type === 'del') countDelete(op.key);
    },
    async get<T>(key: string) {
      const bytes = await backend.get(checkKey(key));
      return bytes === undefined ? undefined : decodeJson<T>(key, bytes);
    },
    getBinary: async (key) => backend.get(checkKey(key)),
    put: async (key, value) => backend.batch([toRawOp({ type: 'put', key, value })], write),
    del: async (key) => {
      await backend.batch([{ type: 'del', key: checkKey(key) }], write);
      countDelete(key);
    },
    async entries<T>(prefix: string, opts: ScanOptions = {}) {
      const out: Array<[string, T]> = [];
      for await (const e of store.iterate<T>(prefixRange(checkKey(prefix), opts), opts.encoding)) out.push(e);
      return out;
    },
    async keys(prefix, opts = {}) {
      const out: string[] = [];
      for await (const [k] of backend.iterate(checkRange(prefixRange(checkKey(prefix), opts)))) out.push(k);
      return out;
    },
    iterate: <T>(range: KeyRange, encoding: ValueKind = 'json') => decoded<T>(backend.iterate(checkRange(range)), encoding),
    compactDeleted: (minDeletes) => (compacting = compacting.catch(() => []).then(() => compactDeleted(minDeletes))),
    close: async () => {
      await compacting.catch(() => undefined);
      await backend.close();
    },
  };
  return store;
}
