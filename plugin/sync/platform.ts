/**
 * What the plugin needs from the platform it runs on, injectable for tests.
 *
 * Invariants:
 * - The local cache is always the real y-indexeddb `IndexeddbPersistence` over the global
 *   `indexedDB` (Obsidian's, shared by every vault of the app; in tests fake-indexeddb).
 *   There is no other cache implementation to swap in.
 * - Opening a cache never blocks the plugin: if IndexedDB is missing or refuses to open
 *   the database, `openCache` resolves with `ok: false` and the plugin works online only.
 * - Cross-tab BroadcastChannel sync is always off: every vault of the app shares one origin,
 *   so two vaults on one relay with different tokens (say a maintainer's and a worker's)
 *   would pass each other's edits around and the relay would see forbidden writes.
 * - Tests (Node) replace the WebSocket with `ws`, the clock with a movable one, and always
 *   set `disableBc` (Node 20 has a global BroadcastChannel that would let two providers in
 *   one process sync without the relay).
 */
import type * as Y from 'yjs';
import { IndexeddbPersistence } from 'y-indexeddb';

export interface DocCache {
  /** Resolves once the cached state is in the document (ok) or the cache failed (not ok). */
  ready: Promise<{ ok: boolean; error?: string }>;
  destroy(): Promise<void>;
  /** Delete the cached copy for good (and close it): the relay re-created the document. */
  clear(): Promise<void>;
}

export interface PlatformDeps {
  WebSocket?: unknown;
  disableBc: boolean;
  now(): number;
}

const defaults: PlatformDeps = {
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

/** Open the IndexedDB cache `name` into `doc` (y-indexeddb). Never throws. */
export function openCache(name: string, doc: Y.Doc): DocCache {
  if (typeof indexedDB === 'undefined') {
    return { ready: Promise.resolve({ ok: false, error: 'this device has no IndexedDB' }), destroy: async () => undefined, clear: async () => undefined };
  }
  let persistence: IndexeddbPersistence;
  try {
    persistence = new IndexeddbPersistence(name, doc);
  } catch (e) {
    return { ready: Promise.resolve({ ok: false, error: e instanceof Error ? e.message : String(e) }), destroy: async () => undefined, clear: async () => undefined };
  }
  // y-indexeddb keeps the open-database promise in `_db`; when it rejects, `whenSynced`
  // never resolves, so race the two.
  const opened = (persistence as unknown as { _db: Promise<unknown> })._db;
  const failed = opened.then(
    () => new Promise<never>(() => undefined),
    (e: unknown) => ({ ok: false, error: e instanceof Error ? e.message : String(e) }),
  );
  const ready = Promise.race([persistence.whenSynced.then(() => ({ ok: true })), failed]);
  return {
    ready,
    destroy: async () => {
      try {
        await persistence.destroy();
      } catch {
        // the database never opened: nothing to close
      }
    },
    clear: async () => {
      try {
        await persistence.clearData();
      } catch {
        // the database never opened: nothing to delete
      }
    },
  };
}
