/**
 * The relay's one LevelDB: every persisted byte of OWP Pool lives here, under a key prefix.
 *
 * Invariants:
 * - One `Level` instance per data folder (LevelDB takes a lock; a second process fails to open).
 * - Keys are strings. Values are JSON by default; binary values (Yjs updates) are written with
 *   `encoding: 'binary'` and read back as Uint8Array.
 * - `batch()` is atomic: either every op of the list is on disk or none is. The engine uses it to
 *   write ledger entries and audit entries together.
 * - Prefix scans use [prefix, prefixEnd) where prefixEnd bumps the last character, so `a/b/` never
 *   sees `a/b0...` nor `a/bc/...`.
 * - Feature modules get `kv(namespace)`: keys `kv/<namespace>/<key>`, so they cannot collide with
 *   the relay's own prefixes (`doc/`, `audit/`, `auth/`, `ledger/`, `archive/`, `meta/`).
 *
 * Key layout: see docs/ARCHITECTURE-relay-sync.md.
 */
import { Level } from 'level';
import type { KvStore } from '../ports.js';

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
  /** Only keys >= this (must start with the prefix). */
  gte?: string;
  encoding?: ValueKind;
}

/** A KvStore that can also list its keys (feature modules use it for small tables). */
export interface NamespacedKv extends KvStore {
  entries<T>(): Promise<Array<[string, T]>>;
}

export interface Store {
  /** The Level instance (string keys, JSON values by default). */
  db: Level<string, unknown>;
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
  close(): Promise<void>;
}

/** The smallest string greater than every string starting with `prefix`. */
export function prefixEnd(prefix: string): string {
  if (prefix.length === 0) return '\uffff';
  const last = prefix.charCodeAt(prefix.length - 1);
  return prefix.slice(0, -1) + String.fromCharCode(last + 1);
}

function range(prefix: string, opts: { reverse?: boolean; limit?: number; gte?: string }) {
  return {
    gte: opts.gte !== undefined && opts.gte > prefix ? opts.gte : prefix,
    lt: prefixEnd(prefix),
    reverse: opts.reverse ?? false,
    limit: opts.limit ?? -1,
  };
}

function toLevelOp(op: StoreOp) {
  if (op.type === 'del') return { type: 'del' as const, key: op.key };
  if (op.encoding === 'binary') {
    if (!(op.value instanceof Uint8Array)) throw new TypeError(`binary value for ${op.key} must be a Uint8Array`);
    return { type: 'put' as const, key: op.key, value: op.value, valueEncoding: 'view' as const };
  }
  if (op.value === undefined) throw new TypeError(`put ${op.key} needs a value`);
  return { type: 'put' as const, key: op.key, value: op.value };
}

export async function openStore(dir: string): Promise<Store> {
  const db = new Level<string, unknown>(dir, { keyEncoding: 'utf8', valueEncoding: 'json' });
  await db.open();

  const store: Store = {
    db,
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
      // abstract-level accepts a per-op valueEncoding; its typing does not model the mix.
      await db.batch(ops.map(toLevelOp) as never);
    },
    async get<T>(key: string) {
      return (await db.get(key)) as T | undefined;
    },
    async getBinary(key) {
      const v = await db.get<string, Uint8Array>(key, { valueEncoding: 'view' });
      return v ?? undefined;
    },
    async put(key, value) {
      if (value === undefined) throw new TypeError(`put ${key} needs a value`);
      await db.put(key, value);
    },
    async del(key) {
      await db.del(key);
    },
    async entries<T>(prefix: string, opts: ScanOptions = {}) {
      const out: Array<[string, T]> = [];
      const it = db.iterator<string, T>({
        ...range(prefix, opts),
        valueEncoding: opts.encoding === 'binary' ? 'view' : 'json',
      } as never);
      for await (const [k, v] of it) out.push([k, v]);
      return out;
    },
    async keys(prefix, opts = {}) {
      const out: string[] = [];
      for await (const k of db.keys(range(prefix, opts))) out.push(k);
      return out;
    },
    async close() {
      if (db.status === 'open' || db.status === 'opening') await db.close();
    },
  };
  return store;
}
