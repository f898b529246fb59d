/**
 * Plugin settings as stored in the vault's data.json.
 *
 * Invariants:
 * - The stored shape is flat and documented (`{ relayUrl, token, tasksFolder, skills,
 *   capacity, maxConcurrent, suppressed }`) so a vault's data.json can be written by hand.
 * - The token is kept in data.json only where the app has no secret storage (secret.ts);
 *   the cached identity never holds the token, only a fingerprint of it.
 * - `normaliseSettings` accepts anything (a hand-written or old file) and returns valid
 *   settings: unknown keys are dropped, bad values fall back to the defaults.
 * - `tasksFolder` is always a safe vault path (`safeFolder`: no `..`, no leading slash).
 */
import { DEFAULTS, LIMITS } from '../../shared/model.js';
import { safeFolder } from '../../shared/notes/note-path.js';
import { isRole, YJS_PATH, type Role } from '../../shared/protocol.js';

export interface OwpSettings {
  relayUrl: string;
  token: string;
  tasksFolder: string;
  /** Contributor profile, written to the worker's inbox. */
  name: string;
  skills: string[];
  capacity: number;
  maxConcurrent: number;
  /** Task ids whose note the user deleted: not recreated until "Restore task note". */
  suppressed: string[];
  /** Task ids that have had a note in this vault (a missing one was deleted, not never made). */
  noted: string[];
  /** Written by the plugin: the tasks folder its notes were made in (to notice a change). */
  notesFolder?: string;
  /** Who the relay said this token is (GET /api/me), kept so the plugin starts offline. */
  identity?: CachedIdentity;
  /** Move notes of finished tasks to OWP/Archive/ this many days after they ended; 0 = never. */
  archiveAfterDays: number;
  /** Written by the plugin: the note format of this vault's task notes (see migrate.ts). */
  noteFormat?: number;
  /** Host the pool from this vault (desktop only): the relay inside Obsidian (plugin/host/). */
  host: HostSettings;
  /** The hosted relay's admin token (secret storage when the app has it, like `token`). */
  hostToken: string;
}

export interface HostSettings {
  /** Kept per computer where the app allows (main.ts: local storage), so a synced vault does not host twice. */
  enabled: boolean;
  /** Address the relay listens on; 127.0.0.1 unless the user asks for the network. */
  address: string;
  port: number;
  /** Absolute folder for the relay's data; '' = `relay-data` in the plugin's folder. */
  dataDir: string;
}

export const DEFAULT_HOST: HostSettings = { enabled: false, address: '127.0.0.1', port: 8787, dataDir: '' };


/** Who we are for this session (the token is held in memory only). */
export interface Identity {
  relayUrl: string;
  token: string;
  role: Role;
  workerId?: string;
  name?: string;
}

/** The identity as data.json keeps it: a fingerprint instead of the token. */
export interface CachedIdentity {
  relayUrl: string;
  tokenHash: string;
  role: Role;
  workerId?: string;
  name?: string;
}

/** FNV-1a of the token, base 36: enough to tell "the same token", useless to sign in with. */
export function tokenFingerprint(token: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < token.length; i++) h = Math.imul(h ^ token.charCodeAt(i), 0x01000193) >>> 0;
  return `fnv1a:${h.toString(36)}:${token.length}`;
}

export function cacheIdentity(i: Identity): CachedIdentity {
  return { relayUrl: i.relayUrl, tokenHash: tokenFingerprint(i.token), role: i.role, ...(i.workerId ? { workerId: i.workerId } : {}), ...(i.name ? { name: i.name } : {}) };
}

export const DEFAULT_SETTINGS: OwpSettings = {
  relayUrl: 'http://127.0.0.1:8787',
  token: '',
  tasksFolder: 'OWP/Tasks',
  name: '',
  skills: [],
  capacity: DEFAULTS.capacity,
  maxConcurrent: DEFAULTS.maxConcurrent,
  suppressed: [],
  noted: [],
  archiveAfterDays: 0,
  host: { ...DEFAULT_HOST },
  hostToken: '',
};

function int(v: unknown, min: number, max: number, fallback: number): number {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max ? n : fallback;
}

export function parseSkills(v: unknown): string[] {
  const list = Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v.split(',') : [];
  const out = list.map((s) => s.trim().toLowerCase()).filter((s) => /^[a-z0-9][a-z0-9+#._-]*$/.test(s));
  return [...new Set(out)].slice(0, LIMITS.skills);
}

export function normaliseSettings(raw: unknown): OwpSettings {
  const r = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const str = (v: unknown, d: string) => (typeof v === 'string' ? v.trim() : d);
  return {
    relayUrl: str(r.relayUrl, DEFAULT_SETTINGS.relayUrl).replace(/\/+$/, '') || DEFAULT_SETTINGS.relayUrl,
    token: str(r.token, ''),
    tasksFolder: safeFolder(str(r.tasksFolder, DEFAULT_SETTINGS.tasksFolder)),
    name: str(r.name, ''),
    skills: parseSkills(r.skills),
    capacity: int(r.capacity, 1, LIMITS.capacity, DEFAULT_SETTINGS.capacity),
    maxConcurrent: int(r.maxConcurrent, 1, LIMITS.maxConcurrent, DEFAULT_SETTINGS.maxConcurrent),
    identity: parseIdentity(r.identity),
    ...(typeof r.notesFolder === 'string' ? { notesFolder: safeFolder(r.notesFolder) } : {}),
    suppressed: idList(r.suppressed),
    noted: idList(r.noted),
    archiveAfterDays: int(r.archiveAfterDays, 0, 3650, 0),
    ...(typeof r.noteFormat === 'number' && Number.isInteger(r.noteFormat) ? { noteFormat: r.noteFormat } : {}),
    host: parseHost(r.host),
    hostToken: str(r.hostToken, ''),
  };
}

function parseHost(v: unknown): HostSettings {
  const r = (v && typeof v === 'object' ? v : {}) as Record<string, unknown>;
  const address = typeof r.address === 'string' && /^[0-9a-fA-F.:]+$|^localhost$/.test(r.address.trim()) ? r.address.trim() : DEFAULT_HOST.address;
  const dataDir = typeof r.dataDir === 'string' && isAbsolutePath(r.dataDir.trim()) ? r.dataDir.trim() : '';
  return { enabled: r.enabled === true, address, port: int(r.port, 0, 65535, DEFAULT_HOST.port), dataDir };
}

/** `/srv/owp`, `C:\owp` or `\\server\share`: a folder the relay can use whatever the working directory. */
export function isAbsolutePath(p: string): boolean {
  return /^\/|^[A-Za-z]:[\\/]|^\\\\/.test(p);
}

/** `http://host:8787` -> `ws://host:8787/yjs`; `https` -> `wss`. */
export function yjsServerUrl(relayUrl: string): string {
  return relayUrl.replace(/^http/, 'ws').replace(/\/+$/, '') + YJS_PATH;
}

/** The cached identity; one written by an older version (with the token itself) is converted. */
function parseIdentity(v: unknown): CachedIdentity | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const r = v as Record<string, unknown>;
  const tokenHash = typeof r.tokenHash === 'string' ? r.tokenHash : typeof r.token === 'string' ? tokenFingerprint(r.token) : undefined;
  if (typeof r.relayUrl !== 'string' || tokenHash === undefined) return undefined;
  if (!isRole(r.role)) return undefined;
  return {
    relayUrl: r.relayUrl,
    tokenHash,
    role: r.role,
    ...(typeof r.workerId === 'string' ? { workerId: r.workerId } : {}),
    ...(typeof r.name === 'string' ? { name: r.name } : {}),
  };
}

function idList(v: unknown): string[] {
  return Array.isArray(v) ? [...new Set(v.filter((s): s is string => typeof s === 'string'))] : [];
}
