/**
 * Plugin settings as stored in the vault's data.json.
 *
 * Invariants:
 * - The stored shape is flat and documented (`{ relayUrl, token, tasksFolder, skills,
 *   capacity, maxConcurrent, suppressed }`) so a vault's data.json can be written by hand.
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
  identity?: Identity;
}

export interface Identity {
  relayUrl: string;
  token: string;
  role: Role;
  workerId?: string;
  name?: string;
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
  };
}

/** `http://host:8787` -> `ws://host:8787/yjs`; `https` -> `wss`. */
export function yjsServerUrl(relayUrl: string): string {
  return relayUrl.replace(/^http/, 'ws').replace(/\/+$/, '') + YJS_PATH;
}

function parseIdentity(v: unknown): Identity | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const r = v as Record<string, unknown>;
  if (typeof r.relayUrl !== 'string' || typeof r.token !== 'string') return undefined;
  if (!isRole(r.role)) return undefined;
  return {
    relayUrl: r.relayUrl,
    token: r.token,
    role: r.role,
    ...(typeof r.workerId === 'string' ? { workerId: r.workerId } : {}),
    ...(typeof r.name === 'string' ? { name: r.name } : {}),
  };
}

function idList(v: unknown): string[] {
  return Array.isArray(v) ? [...new Set(v.filter((s): s is string => typeof s === 'string'))] : [];
}
