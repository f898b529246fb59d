/**
 * What the plugin needs from the platform it runs on, injectable for tests.
 *
 * Invariants:
 * - In Obsidian the defaults are used: the browser WebSocket and a y-indexeddb cache.
 * - Cross-tab BroadcastChannel sync is always off: every vault of the app shares one origin,
 *   so two vaults on one relay with different tokens (say a maintainer's and a worker's)
 *   would pass each other's edits around and the relay would see forbidden writes.
 * - Tests (Node) replace them with `ws` and an in-memory cache that outlives a plugin
 *   "restart", and always set `disableBc` (Node 20 has a global BroadcastChannel that
 *   would let two providers in one process sync without the relay).
 */
import type * as Y from 'yjs';
import { IndexeddbPersistence } from 'y-indexeddb';

export interface DocPersistence {
  whenSynced: Promise<unknown>;
  destroy(): Promise<void> | void;
}
export type PersistenceFactory = (name: string, doc: Y.Doc) => DocPersistence;

export interface PlatformDeps {
  WebSocket?: unknown;
  createPersistence: PersistenceFactory;
  disableBc: boolean;
  now(): number;
}

const defaults: PlatformDeps = {
  createPersistence: (name, doc) => new IndexeddbPersistence(name, doc),
  disableBc: true,
  now: () => Date.now(),
};

let current: PlatformDeps = { ...defaults };

export function platform(): PlatformDeps {
  return current;
}

/** Tests only: swap platform pieces. Call with no argument to restore the defaults. */
export function configurePlatform(deps?: Partial<PlatformDeps>): void {
  current = { ...defaults, ...deps };
}
