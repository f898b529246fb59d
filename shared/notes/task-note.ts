/**
 * The task note codec: how a task (board) and its runtime (ledger) appear as a markdown
 * note, and how a note is read back.
 *
 * Invariants:
 * - The plugin owns only the `owp_*` frontmatter keys and the brief between the markers.
 *   Every other byte (other keys, the reader's own section) is kept byte for byte by
 *   `updateTaskNote`.
 * - Descriptive keys (DESCRIPTIVE_KEYS) and the brief may be edited by maintainers; runtime
 *   keys (RUNTIME_KEYS) come from the ledger alone.
 * - `readOwned` normalises values (YAML Dates, numeric strings, missing = null) so that
 *   comparing what a note says with what the documents say is exact and cheap.
 * - Pure: no Node, no Obsidian.
 */
import type { RiskTier, Task, TaskRuntime } from '../model.js';
import { NoteFormatError, parseNote, setFrontmatterKeys } from './frontmatter.js';

export const BRIEF_START = '<!-- owp:brief:start -->';
export const BRIEF_END = '<!-- owp:brief:end -->';
export const READER_SECTION = '## My notes';

export const DESCRIPTIVE_KEYS = [
  'owp_id',
  'owp_repo',
  'owp_title',
  'owp_points',
  'owp_skills',
  'owp_tier',
  'owp_area',
  'owp_priority',
] as const;
export const RUNTIME_KEYS = [
  'owp_status',
  'owp_holder',
  'owp_lease_expires',
  'owp_fencing_token',
  'owp_attempt',
  'owp_pr',
] as const;
export const OWNED_KEYS = [...DESCRIPTIVE_KEYS, ...RUNTIME_KEYS] as const;
export type OwnedKey = (typeof OWNED_KEYS)[number];
/** Descriptive keys a maintainer may change from a note (id and repo identify the task). */
export const EDITABLE_KEYS = ['owp_title', 'owp_points', 'owp_skills', 'owp_tier', 'owp_area', 'owp_priority'] as const;

export interface OwnedValues {
  owp_id: string;
  owp_repo: string;
  owp_title: string;
  owp_points: number;
  owp_skills: string[];
  owp_tier: RiskTier;
  owp_area: string;
  owp_priority: number;
  owp_status: string;
  owp_holder: string | null;
  /** ISO 8601 UTC time, or null without an active lease. */
  owp_lease_expires: string | null;
  owp_fencing_token: number | null;
  owp_attempt: number;
  owp_pr: string | null;
}

export type NoteValues = { [K in OwnedKey]?: unknown };

/** What the note should say for this task and runtime. */
export function ownedValuesFor(task: Task, runtime: TaskRuntime | undefined): OwnedValues {
  const lease = runtime?.lease;
  return {
    owp_id: task.id,
    owp_repo: task.repo,
    owp_title: task.title,
    owp_points: task.points,
    owp_skills: [...task.skills],
    owp_tier: task.tier,
    owp_area: task.area,
    owp_priority: task.priority,
    owp_status: runtime?.state ?? (task.cancelled ? 'cancelled' : 'queued'),
    owp_holder: lease?.workerId ?? null,
    owp_lease_expires: lease ? new Date(lease.expiresAt).toISOString() : null,
    owp_fencing_token: lease ? lease.fencingToken : null,
    owp_attempt: runtime?.attempt ?? 0,
    owp_pr: runtime?.prUrl ?? null,
  };
}

const NULLABLE = new Set<OwnedKey>(['owp_holder', 'owp_lease_expires', 'owp_fencing_token', 'owp_pr']);

function normaliseValue(key: OwnedKey, v: unknown): unknown {
  if (v === undefined) return key === 'owp_skills' ? [] : null;
  if (v === '' && NULLABLE.has(key)) return null;
  if (v === null && key === 'owp_area') return '';
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? String(v) : v.toISOString();
  if (key === 'owp_skills') {
    if (Array.isArray(v)) return v.map((s) => String(s));
    if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean);
    return v;
  }
  if (['owp_points', 'owp_tier', 'owp_priority', 'owp_fencing_token', 'owp_attempt'].includes(key)) {
    if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return Number(v.trim());
    return v;
  }
  if (['owp_id', 'owp_repo', 'owp_title', 'owp_area', 'owp_status', 'owp_holder', 'owp_pr'].includes(key)) {
    return typeof v === 'number' || typeof v === 'boolean' ? String(v) : v;
  }
  if (key === 'owp_lease_expires' && typeof v === 'string') {
    const t = Date.parse(v);
    return Number.isNaN(t) ? v : new Date(t).toISOString();
  }
  return v;
}

/** Owned values as the note states them, normalised (absent keys are not included). */
export function readOwned(data: Record<string, unknown>): NoteValues {
  const out: NoteValues = {};
  for (const k of OWNED_KEYS) if (k in data) out[k] = normaliseValue(k, data[k]);
  return out;
}

export function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** Keys among `keys` whose value differs between the note and the wanted values. */
export function differingKeys(note: NoteValues, want: Partial<OwnedValues>, keys: readonly OwnedKey[]): OwnedKey[] {
  return keys.filter((k) => k in want && !sameValue(normaliseValue(k, note[k]), (want as Record<string, unknown>)[k]));
}

/** The brief between the markers, or undefined when the markers are missing. */
export function extractBrief(text: string): string | undefined {
  const s = text.indexOf(BRIEF_START);
  if (s < 0) return undefined;
  const from = s + BRIEF_START.length;
  const e = text.indexOf(BRIEF_END, from);
  if (e < 0) return undefined;
  let inner = text.slice(from, e);
  if (inner.startsWith('\r\n')) inner = inner.slice(2);
  else if (inner.startsWith('\n')) inner = inner.slice(1);
  if (inner.endsWith('\r\n')) inner = inner.slice(0, -2);
  else if (inner.endsWith('\n')) inner = inner.slice(0, -1);
  return inner;
}

function briefBlock(brief: string): string {
  return `${BRIEF_START}\n${brief === '' ? '' : brief + '\n'}${BRIEF_END}`;
}

/** A new note for a task. */
export function renderTaskNote(values: OwnedValues, brief: string): string {
  const fm = setFrontmatterKeys('', values as unknown as Record<string, unknown>);
  return `${fm}${briefBlock(brief)}\n\n${READER_SECTION}\n\n`;
}

export interface TaskNote {
  data: Record<string, unknown>;
  owned: NoteValues;
  /** Undefined when the note has no brief markers. */
  brief: string | undefined;
}

/** Read a task note. Throws NoteFormatError on malformed frontmatter. */
export function readTaskNote(text: string): TaskNote {
  const parsed = parseNote(text);
  return { data: parsed.data, owned: readOwned(parsed.data), brief: extractBrief(parsed.content) };
}

/**
 * Change owned keys and (optionally) the brief of an existing note, keeping every other
 * byte. Returns the same string when nothing changes.
 */
export function updateTaskNote(text: string, values: Partial<OwnedValues>, brief?: string): string {
  let out = Object.keys(values).length > 0 ? setFrontmatterKeys(text, values) : text;
  if (brief !== undefined) {
    const s = out.indexOf(BRIEF_START);
    const e = s < 0 ? -1 : out.indexOf(BRIEF_END, s + BRIEF_START.length);
    if (s >= 0 && e >= 0) {
      if (extractBrief(out) !== brief) out = out.slice(0, s) + briefBlock(brief) + out.slice(e + BRIEF_END.length);
    } else {
      // No markers yet: put the brief right after the frontmatter, before the reader's text.
      const parsed = parseNote(out);
      const at = out.length - parsed.content.length;
      out = out.slice(0, at) + briefBlock(brief) + '\n\n' + out.slice(at);
    }
  }
  return out;
}

export { safeName, safeFolder, taskNotePath } from './note-path.js';

export { NoteFormatError };
