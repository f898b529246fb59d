/**
 * The relay chunk's entry (built to `owp-relay.js` next to main.js; never bundled into
 * main.js): the reference relay on the pure-JavaScript file store, for "Host the pool from
 * this vault". It runs in Obsidian's own (desktop, Electron) process: HTTP from node:http,
 * WebSocket from `ws` over node:http's upgrade, storage through the storage port's file
 * backend (node:fs only; LevelDB's native module cannot load inside Obsidian). This file
 * imports no Node built-in itself (the server modules do, in the chunk only).
 *
 * Invariants: the only module under plugin/ that imports server code; `close()` stops
 * accepting, flushes and closes the store, and frees the port.
 */
import { startRelay } from '../../server/relay.js';
import { openFileStore } from '../../server/store/index.js';
import { CHUNK_API, type HostedRelay, type HostOptions } from './hosted.js';

declare const OWP_PLUGIN_VERSION: string;

export const api = CHUNK_API;
/** The plugin version this chunk was built with (esbuild's define); main.js checks it. */
export const version: string = typeof OWP_PLUGIN_VERSION === 'string' ? OWP_PLUGIN_VERSION : 'dev';

export async function startHostedRelay(o: HostOptions): Promise<HostedRelay> {
  // The relay makes dataDir, then opens the store in it ('/' is a separator on Windows too).
  const openStore = () => openFileStore(`${o.dataDir}/relay.log`);
  const relay = await startRelay({ dataDir: o.dataDir, openStore, host: o.address, port: o.port, log: o.log, version });
  return { url: relay.url, port: relay.port, ...(relay.createdAdminToken ? { createdAdminToken: relay.createdAdminToken } : {}), close: () => relay.close() };
}
