/**
 * Migration of task notes written by plugin 0.1.0 (note format 1: fourteen `owp_*` keys,
 * no tags, no task line) to note format 2 (task-note.ts).
 *
 * Invariants:
 * - Only the plugin's own parts change: the `owp_*` entries are replaced by format 2's
 *   properties, a task line is added before the brief. The reader's keys, comments, tags and
 *   section are kept byte for byte, with one exception: a reader's key whose name format 2
 *   now uses (say their own `status`) is renamed `my_<key>` (value and comments kept), and
 *   the caller is told, so nothing of theirs is lost or overwritten.
 * - Protocol internals (`owp_fencing_token`, `owp_attempt`) are dropped: the ledger has them.
 * - Pure: no Node, no Obsidian. Throws NoteFormatError only on malformed frontmatter.
 */
import { editFrontmatterKeys, parseNote } from './frontmatter.js';
import { localDateTime, OWNED_KEYS, tagsFor, updateTaskNote, type NoteClock, type OwnedValues, type TaskLine } from './task-note.js';

export const LEGACY_KEYS = [
  'owp_id',
  'owp_repo',
  'owp_title',
  'owp_points',
  'owp_skills',
  'owp_tier',
  'owp_area',
  'owp_priority',
  'owp_status',
  'owp_holder',
  'owp_lease_expires',
  'owp_fencing_token',
  'owp_attempt',
  'owp_pr',
] as const;

export interface Migrated {
  text: string;
  id: string;
  repo: string;
  title: string;
  /** Reader keys renamed to make room: old name -> new name. */
  renamed: Record<string, string>;
}

const num = (v: unknown, d: number): number => (typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : d);
function str(v: unknown): string | null {
  if (v === null || v === undefined || v === '') return null;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'string') return v;
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
}

/** A free name for a reader's key: my_<key>, my_<key>_2, ... */
function freeName(key: string, taken: Set<string>): string {
  let name = `my_${key}`;
  for (let i = 2; taken.has(name); i++) name = `my_${key}_${i}`;
  taken.add(name);
  return name;
}

/** Migrate a 0.1.0 task note; undefined when the note is not one (no `owp_id`). */
export function migrateLegacyNote(text: string, clock: NoteClock): Migrated | undefined {
  const { data } = parseNote(text);
  if (typeof data.owp_id !== 'string' || data.owp_id === '') return undefined;
  const id = data.owp_id;
  const repo = typeof data.owp_repo === 'string' ? data.owp_repo : id.split(/[#:]/)[0];
  const title = typeof data.owp_title === 'string' && data.owp_title !== '' ? data.owp_title : id;
  const taken = new Set(Object.keys(data));
  const renamed: Record<string, string> = {};
  for (const k of OWNED_KEYS) if (k !== 'tags' && k in data) renamed[k] = freeName(k, taken);
  const status = str(data.owp_status) ?? 'queued';
  const expires = str(data.owp_lease_expires);
  const expiresMs = expires === null ? NaN : Date.parse(expires);
  const skills = Array.isArray(data.owp_skills) ? data.owp_skills.map(String) : [];
  const values: OwnedValues = {
    task: id,
    repo,
    status,
    holder: str(data.owp_holder),
    points: num(data.owp_points, 1),
    skills,
    tier: num(data.owp_tier, 0),
    area: str(data.owp_area) ?? '',
    priority: num(data.owp_priority, 0),
    issue: null,
    pr: str(data.owp_pr),
    lease_expires: Number.isNaN(expiresMs) ? null : localDateTime(expiresMs, clock),
    tags: tagsFor(status, data.tags),
  };
  const line: TaskLine = { mark: status === 'done' ? 'x' : status === 'cancelled' ? '-' : ' ', title };
  const { tags, ...rest } = values;
  const insert: Record<string, unknown> = 'tags' in data ? rest : values;
  const cleared = editFrontmatterKeys(text, { remove: LEGACY_KEYS, rename: renamed, insert });
  return { text: updateTaskNote(cleared, { tags }, line), id, repo, title, renamed };
}
