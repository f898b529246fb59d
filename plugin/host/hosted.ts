/**
 * The relay inside Obsidian ("Host the pool from this vault"): what main.js and the relay
 * chunk (`owp-relay.js`, built from ./relay-entry.ts) agree on, and the plugin's pure rules
 * for it. No Obsidian and no Node import: main.js bundles this for mobile too.
 *
 * Invariants:
 * - main.js never bundles the relay: it loads the chunk from its own folder with require(),
 *   on desktop only, when hosting is on (docs/OBSIDIAN.md says why a second file).
 * - A chunk is used only if it speaks `CHUNK_API` and was built with the same plugin
 *   version; anything else is refused with a sentence saying which file to put where.
 */
export const RELAY_CHUNK = 'owp-relay.js';
export const CHUNK_API = 1;

export interface HostLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface HostOptions {
  /** Absolute folder for the relay's data (its file store and nothing else). */
  dataDir: string;
  address: string;
  /** 0 = any free port. */
  port: number;
  log: HostLog;
}

export interface HostedRelay {
  url: string;
  port: number;
  /** Set only on the first start over an empty data folder: the new admin token, in clear. */
  createdAdminToken?: string;
  close(): Promise<void>;
}

/** What `owp-relay.js` exports. */
export interface RelayChunk {
  api: number;
  version: string;
  startHostedRelay(o: HostOptions): Promise<HostedRelay>;
}

/** Why a loaded module cannot be used as this plugin's relay chunk, or undefined when it can. */
export function chunkProblem(mod: unknown, pluginVersion: string): string | undefined {
  const m = mod as Partial<RelayChunk> | undefined;
  if (!m || typeof m.startHostedRelay !== 'function' || typeof m.api !== 'number') return `${RELAY_CHUNK} is not the relay of OWP Pool`;
  if (m.api !== CHUNK_API || m.version !== pluginVersion) return `${RELAY_CHUNK} is from version ${String(m.version)}, the plugin is ${pluginVersion}`;
  return undefined;
}

/** Addresses that only this computer can reach. */
export function isLoopback(address: string): boolean {
  return address === 'localhost' || address === '::1' || /^127\./.test(address);
}

/** The relay's data folder: the chosen one, else `relay-data` in the plugin's folder. */
export function hostDataDir(pluginDir: string, chosen: string): string {
  return chosen.trim() !== '' ? chosen.trim() : `${pluginDir}/relay-data`;
}

/**
 * Which relay and token this vault's session uses while it hosts: the token in the settings
 * when it is meant for this relay (the relay address is the hosted one), else the hosted
 * relay's admin token kept by the plugin.
 */
export function hostedConnection(hosted: { url: string }, settings: { relayUrl: string; token: string }, adminToken: string): { relayUrl: string; token: string } | undefined {
  if (settings.relayUrl === hosted.url && settings.token !== '') return { relayUrl: hosted.url, token: settings.token };
  return adminToken !== '' ? { relayUrl: hosted.url, token: adminToken } : undefined;
}
