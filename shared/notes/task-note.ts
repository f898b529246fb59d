/**
 * The task note codec (note format 2): how a task (board) and its runtime (ledger) appear
 * as a markdown note that feels native in Obsidian, and how a note is read back.
 *
 *   ---
 *   task: octo/app#12            text (the task id: how the plugin finds the note)
 *   repo: octo/app               text
 *   status: leased               text
 *   holder: alice                text
 *   points: 3                    number
 *   skills: [typescript]         list
 *   tier: 1                      number
 *   area: src/parser/            text
 *   priority: 2                  number
 *   issue: https://...           text (URL)
 *   pr: https://...              text (URL)
 *   lease_expires: 2026-11-24T11:00:00   date & time (local)
 *   tags: [owp, owp/leased]
 *   ---
 *   - [ ] Name the line in parser errors
 *
 *   <!-- owp:brief:start --> ... <!-- owp:brief:end -->
 *
 *   ## My notes
 *
 * Invariants:
 * - The plugin owns the keys in OWNED_KEYS, the task line (the first `- [ ]` line before
 *   the brief) and the brief between the markers. Every other byte is kept byte for byte.
 * - In `tags` it owns only `owp` and `owp/<status>`: the reader's own tags stay, in order.
 * - Protocol internals (fencing token, attempt) are not in the note: the ledger has them.
 * - The task line is ticked (`[x]`, with obsidian-tasks' done date) exactly when the task is
 *   done, and marked cancelled (`[-]`, cancelled date) when it was cancelled.
 * - `lease_expires` is local time without a zone (Obsidian's date & time property type); the
 *   offset comes from the NoteClock passed in, so the codec stays pure.
 * - Pure: no Node, no Obsidian.
 */
import type { Task, TaskRuntime } from '../model.js';
import { NoteFormatError, parseNote, setFrontmatterKeys } from './frontmatter.js';

export const NOTE_FORMAT = 2;
export const BRIEF_START = '<!-- owp:brief:start -->';
export const BRIEF_END = '<!-- owp:brief:end -->';
export const READER_SECTION = '## My notes';
export const OWP_TAG = 'owp';

/** Keys a maintainer may change from a note (the board takes them). */
export const EDITABLE_KEYS = ['points', 'skills', 'tier', 'area', 'priority'] as const;
/** Keys the relay writes (from the ledger, or the board's import): put back when edited. */
export const RUNTIME_KEYS = ['status', 'holder', 'lease_expires', 'pr', 'issue'] as const;
export const OWNED_KEYS = ['task', 'repo', 'status', 'holder', 'points', 'skills', 'tier', 'area', 'priority', 'issue', 'pr', 'lease_expires', 'tags'] as const;
export type OwnedKey = (typeof OWNED_KEYS)[number];
export type EditableKey = (typeof EDITABLE_KEYS)[number];

export interface OwnedValues {
  task: string;
  repo: string;
  status: string;
  holder: string | null;
  points: number;
  skills: string[];
  tier: number;
  area: string;
  priority: number;
  issue: string | null;
  pr: string | null;
  /** Local date and time `YYYY-MM-DDTHH:mm:ss`, or null without an active lease. */
  lease_expires: string | null;
  tags: string[];
}

export type NoteValues = { [K in OwnedKey]?: unknown };

/** The task line: `- [ ] <title>`; `[x]` when done, `[-]` when cancelled, with the date it ended. */
export interface TaskLine {
  mark: ' ' | 'x' | '-';
  title: string;
  /** YYYY-MM-DD the task ended (obsidian-tasks' done / cancelled date), if it did. */
  ended?: string;
}

/** Local time for the note: offset from UTC in minutes at a given instant. */
export interface NoteClock {
  offsetMinutes(ms: number): number;
}

export const LOCAL_CLOCK: NoteClock = { offsetMinutes: (ms) => -new Date(ms).getTimezoneOffset() };
export const UTC_CLOCK: NoteClock = { offsetMinutes: () => 0 };

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `YYYY-MM-DDTHH:mm:ss` in the clock's local time. */
export function localDateTime(ms: number, clock: NoteClock): string {
  const d = new Date(ms + clock.offsetMinutes(ms) * 60_000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** The tags a note should carry: ours first, then the reader's own (not `owp` or `owp/...`). */
export function tagsFor(status: string, noteTags: unknown): string[] {
  const own = Array.isArray(noteTags) ? noteTags.map(String) : typeof noteTags === 'string' ? noteTags.split(/[\s,]+/).filter(Boolean) : [];
  const mine = own.filter((t) => { const x = t.replace(/^#/, ''); return x !== OWP_TAG && !x.startsWith(OWP_TAG + '/'); });
  return [OWP_TAG, `${OWP_TAG}/${status}`, ...mine];
}

export interface ValuesInput {
  task: Task;
  runtime: TaskRuntime | undefined;
  clock: NoteClock;
  /** The note's current `tags` (the reader's own are kept). */
  noteTags?: unknown;
}

export function statusOf(task: Task, runtime: TaskRuntime | undefined): string {
  return runtime?.state ?? (task.cancelled ? 'cancelled' : 'queued');
}

/** What the note's properties should say for this task and runtime. */
export function ownedValuesFor({ task, runtime, clock, noteTags }: ValuesInput): OwnedValues {
  const lease = runtime?.lease;
  const status = statusOf(task, runtime);
  return {
    task: task.id,
    repo: task.repo,
    status,
    holder: lease?.workerId ?? null,
    points: task.points,
    skills: [...task.skills],
    tier: task.tier,
    area: task.area,
    priority: task.priority,
    issue: task.issueUrl ?? null,
    pr: runtime?.prUrl ?? null,
    lease_expires: lease ? localDateTime(lease.expiresAt, clock) : null,
    tags: tagsFor(status, noteTags),
  };
}

/** What the task line should say. */
export function taskLineFor(task: Task, runtime: TaskRuntime | undefined, clock: NoteClock): TaskLine {
  const status = statusOf(task, runtime);
  const ended = runtime && (status === 'done' || status === 'cancelled') ? localDateTime(runtime.updatedAt, clock).slice(0, 10) : undefined;
  const mark = status === 'done' ? 'x' : status === 'cancelled' ? '-' : ' ';
  return { mark, title: task.title, ...(ended ? { ended } : {}) };
}

const NULLABLE = new Set<OwnedKey>(['holder', 'lease_expires', 'pr', 'issue']);
const NUMBERS = new Set<OwnedKey>(['points', 'tier', 'priority']);
const LISTS = new Set<OwnedKey>(['skills', 'tags']);

function normaliseValue(key: OwnedKey, v: unknown): unknown {
  if (v === undefined) return LISTS.has(key) ? [] : null;
  if (v === '' && NULLABLE.has(key)) return null;
  if (v === null && key === 'area') return '';
  if (LISTS.has(key)) {
    if (Array.isArray(v)) return v.map((s) => String(s));
    if (typeof v === 'string') return v.split(key === 'tags' ? /[\s,]+/ : ',').map((s) => s.trim()).filter(Boolean);
    return v;
  }
  if (NUMBERS.has(key)) return typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v.trim()) : v;
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : v;
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
export function differingKeys<K extends OwnedKey>(note: NoteValues, want: Partial<OwnedValues>, keys: readonly K[]): K[] {
  return keys.filter((k) => k in want && !sameValue(normaliseValue(k, note[k]), (want as Record<string, unknown>)[k]));
}

/** True when frontmatter data is a task note's (this format or plugin 0.1.0's). */
export function taskIdOf(data: Record<string, unknown>): string | undefined {
  if (typeof data.task === 'string' && data.task !== '' && typeof data.repo === 'string') return data.task;
  if (typeof data.owp_id === 'string' && data.owp_id !== '') return data.owp_id;
  return undefined;
}

/** The brief between the markers, or undefined when the markers are missing. */
export function extractBrief(text: string): string | undefined {
  const s = text.indexOf(BRIEF_START);
  if (s < 0) return undefined;
  const from = s + BRIEF_START.length;
  const e = text.indexOf(BRIEF_END, from);
  if (e < 0) return undefined;
  return text.slice(from, e).replace(/^\r?\n/, '').replace(/\r?\n$/, '');
}

function briefBlock(brief: string): string {
  return `${BRIEF_START}\n${brief === '' ? '' : brief + '\n'}${BRIEF_END}`;
}

const LINE_RE = /^- \[([ xX-])\] (.*?)(?: (✅|❌) (\d{4}-\d{2}-\d{2}))?[ \t]*\r?$/;

function renderLine(l: TaskLine): string {
  const date = l.ended ? ` ${l.mark === '-' ? '❌' : '✅'} ${l.ended}` : '';
  return `- [${l.mark}] ${l.title}${date}`;
}

/** Where the task line is: the first `- [ ]` line of the body before the brief. */
function findLine(text: string, bodyStart: number): { start: number; end: number; line: TaskLine } | undefined {
  const briefAt = text.indexOf(BRIEF_START, bodyStart);
  const limit = briefAt < 0 ? text.length : briefAt;
  let at = bodyStart;
  while (at < limit) {
    const nl = text.indexOf('\n', at);
    const end = nl < 0 || nl > limit ? Math.min(limit, nl < 0 ? text.length : nl) : nl;
    const m = LINE_RE.exec(text.slice(at, end));
    if (m) {
      const mark = m[1] === 'X' ? 'x' : (m[1] as TaskLine['mark']);
      const raw = text.slice(at, end);
      return { start: at, end: raw.endsWith('\r') ? end - 1 : end, line: { mark, title: m[2], ...(m[4] ? { ended: m[4] } : {}) } };
    }
    if (nl < 0) break;
    at = nl + 1;
  }
  return undefined;
}

/** A new note for a task. */
export function renderTaskNote(values: OwnedValues, line: TaskLine, brief: string): string {
  const fm = setFrontmatterKeys('', values as unknown as Record<string, unknown>);
  return `${fm}${renderLine(line)}\n\n${briefBlock(brief)}\n\n${READER_SECTION}\n\n`;
}

export interface TaskNote {
  data: Record<string, unknown>;
  owned: NoteValues;
  /** The task id (this format's `task`, or 0.1.0's `owp_id`), if this is a task note. */
  id: string | undefined;
  /** Undefined when the note has no task line. */
  line: TaskLine | undefined;
  /** Undefined when the note has no brief markers. */
  brief: string | undefined;
}

/** Read a task note. Throws NoteFormatError on malformed frontmatter. */
export function readTaskNote(text: string): TaskNote {
  const parsed = parseNote(text);
  const bodyStart = text.length - parsed.content.length;
  return { data: parsed.data, owned: readOwned(parsed.data), id: taskIdOf(parsed.data), line: findLine(text, bodyStart)?.line, brief: extractBrief(parsed.content) };
}

export function sameLine(a: TaskLine | undefined, b: TaskLine): boolean {
  return !!a && a.mark === b.mark && a.title === b.title && (a.ended ?? '') === (b.ended ?? '');
}

/**
 * Change owned keys, the task line and (optionally) the brief of an existing note, keeping
 * every other byte. Returns the same string when nothing changes.
 */
export function updateTaskNote(text: string, values: Partial<OwnedValues>, line?: TaskLine, brief?: string): string {
  let out = Object.keys(values).length > 0 ? setFrontmatterKeys(text, values) : text;
  if (line !== undefined) {
    const bodyStart = out.length - parseNote(out).content.length;
    const found = findLine(out, bodyStart);
    if (found) {
      if (!sameLine(found.line, line)) out = out.slice(0, found.start) + renderLine(line) + out.slice(found.end);
    } else {
      out = out.slice(0, bodyStart) + renderLine(line) + '\n\n' + out.slice(bodyStart);
    }
  }
  if (brief !== undefined) {
    const s = out.indexOf(BRIEF_START);
    const e = s < 0 ? -1 : out.indexOf(BRIEF_END, s + BRIEF_START.length);
    if (s >= 0 && e >= 0) {
      if (extractBrief(out) !== brief) out = out.slice(0, s) + briefBlock(brief) + out.slice(e + BRIEF_END.length);
    } else {
      // No markers yet: put the brief after the task line (or the frontmatter), before the reader's text.
      const bodyStart = out.length - parseNote(out).content.length;
      const found = findLine(out, bodyStart);
      out = found
        ? out.slice(0, found.end) + '\n\n' + briefBlock(brief) + out.slice(found.end)
        : out.slice(0, bodyStart) + briefBlock(brief) + '\n\n' + out.slice(bodyStart);
    }
  }
  return out;
}

export { safeName, safeFolder, shortId, taskNotePath, legacyTaskNotePath, archivedNotePath } from './note-path.js';

export { NoteFormatError };
