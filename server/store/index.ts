/**
 * The relay's storage: every persisted byte of OWP Pool goes through one Store (./store.ts) over
 * one backend of the storage port (./port.ts). LevelDB (./leveldb.ts) is the embedded default;
 * ./memory.ts and ./file.ts are pure JavaScript (no native code) for tests and for the relay
 * inside Obsidian. `level` and `pg` are imported only when their backend is first opened, so a
 * bundle without native modules (the Obsidian plugin's owp-relay.js) may include this module.
 * ./postgres.ts is for several relays on one database (OWP_DATABASE_URL). Key layout and the
 * port's contract: docs/STORAGE.md.
 */
import { join } from 'node:path';
import { openFileBackend, type FileBackendOptions } from './file.js';
import { openMemoryBackend, type MemoryVolume } from './memory.js';
import type { PostgresOptions } from './postgres.js';
import type { Durability } from './port.js';
import { createStore, type Store, type StoreOptions } from './store.js';

export { createStore, decodeJson, type NamespacedKv, type ScanOptions, type Store, type StoreOp, type StoreOptions, type ValueKind } from './store.js';
export { compareKeys, DURABILITY_MODES, prefixEnd, prefixRange, StoreError, type BatchOptions, type Durability, type KeyRange, type RawOp, type StoreBackend } from './port.js';
export { MemoryVolume } from './memory.js';

/** The embedded default: a LevelDB folder. */
export async function openStore(dir: string, opts?: StoreOptions): Promise<Store> {
  // Loaded on first use, as PostgreSQL's driver below: a bundle of the relay without native
  // modules (the relay inside Obsidian) never evaluates them.
  const { openLevelBackend } = await import('./leveldb.js');
  return createStore(await openLevelBackend(dir), opts);
}

export function openMemoryStore(volume?: MemoryVolume): Store {
  return createStore(openMemoryBackend({ volume }));
}

export async function openFileStore(path: string, opts?: FileBackendOptions & StoreOptions): Promise<Store> {
  return createStore(await openFileBackend(path, opts), opts);
}

/** PostgreSQL (OWP_DATABASE_URL): several relays may share it. Every batch is a committed transaction, durable as the server is configured. */
export async function openPostgresStore(url: string, opts?: PostgresOptions): Promise<Store> {
  // Loaded only when used: `pg` is a sizeable part of a LevelDB relay's start-up otherwise.
  const { openPostgresBackend } = await import('./postgres.js');
  return createStore(await openPostgresBackend(url, opts));
}

/** The relay's store: PostgreSQL when a database URL is given, else LevelDB under the data folder. */
export async function openRelayStore(cfg: { dataDir: string; databaseUrl?: string; durability?: Durability }): Promise<Store> {
  return cfg.databaseUrl ? openPostgresStore(cfg.databaseUrl, { exclusive: true }) : openStore(join(cfg.dataDir, 'leveldb'), { durability: cfg.durability });
}
