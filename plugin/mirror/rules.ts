/**
 * The mirror's rules as pure functions: what the vault should do when the documents change
 * (`planSync`) and when a note changes (`planNoteChange`). Facts in, effects out; the
 * Obsidian-facing shell (mirror.ts) only gathers the facts and performs the effects.
 *
 * Rules:
 * - The documents are the truth; a note is a projection and an editing surface.
 * - Never write while the user types (`busy`: retry later); never write a note that changed
 *   since it was read (`write` carries the expected text; the shell retries on mismatch).
 * - Ignore our own echo (the text we last wrote to that path).
 * - Never delete: a deleted note's task is suppressed; a missing note of a task this vault
 *   had a note for was deleted while Obsidian was closed (suppressed too, reported once);
 *   finished notes are moved to the archive, never removed.
 * - Put runtime keys back: status, holder, lease, PR, issue, the task line's box and the
 *   `owp` tags come from the relay; a hand edit is undone with a notice that says why.
 * - Maintainers' edits of descriptive keys, the title (task line) and the brief go to the
 *   board when the whole task still validates; contributors' are put back.
 * - An edit is what changed since the mirror last wrote the note (three-way compare), so a
 *   stale note never undoes other people's changes; a note never synced in this session is
 *   brought up to date instead of being sent.
 * - Notes written by plugin 0.1.0 are migrated (legacy.ts) and moved to the new file name
 *   when they still sit where 0.1.0 put them.
 */
import { TaskSchema, TERMINAL_STATES, type Task, type TaskRuntime } from '../../shared/model.js';
import { migrateLegacyNote } from '../../shared/notes/legacy.js';
import {
  EDITABLE_KEYS,
  OWNED_KEYS,
  RUNTIME_KEYS,
  differingKeys,
  ownedValuesFor,
  readTaskNote,
  renderTaskNote,
  sameLine,
  taskLineFor,
  archivedNotePath,
  legacyTaskNotePath,
  taskNotePath,
  updateTaskNote,
  type EditableKey,
  type NoteClock,
  type OwnedValues,
  type TaskLine,
  type TaskNote,
} from '../../shared/notes/task-note.js';

export const DAY_MS = 24 * 3600 * 1000;

/** What the mirror remembers about a task between events (the base of the three-way compare). */
export interface Memory {
  values: OwnedValues;
  line: TaskLine;
  brief: string;
  /** The note's canonical path when last synced (a change means: move the note). */
  canonical: string;
  /** The note's text as the mirror wrote (or last found) it in sync with `values`. */
  text?: string;
}

export type Effect =
  | { kind: 'create'; path: string; text: string }
  | { kind: 'write'; path: string; expected: string; next: string }
  | { kind: 'move'; from: string; to: string }
  | { kind: 'notice'; message: string }
  | { kind: 'complain'; path: string; text: string; why: string }
  | { kind: 'board'; taskId: string; patch: Partial<Task> }
  | { kind: 'index'; taskId: string; path: string }
  | { kind: 'remember'; taskId: string; memory: Memory }
  | { kind: 'suppress'; taskId: string; missing: boolean }
  | { kind: 'noted'; taskId: string }
  | { kind: 'dirty'; taskId: string }
  | { kind: 'echo'; path: string }
  | { kind: 'retry' };

export interface Place {
  folder: string;
  archiveFolder: string;
  archiveAfterDays: number;
  clock: NoteClock;
  now: number;
}

export interface NoteAt {
  path: string;
  /** Undefined when the file could not be read. */
  text: string | undefined;
  busy: boolean;
}

export interface SyncFacts {
  id: string;
  task: Task | undefined;
  runtime: TaskRuntime | undefined;
  place: Place;
  suppressed: boolean;
  noted: boolean;
  memory: Memory | undefined;
  /** The note the index points at, if it still exists. */
  indexed: NoteAt | undefined;
  /** A note at the task's canonical path (when none is indexed). */
  atCanonical: NoteAt | undefined;
  /** A free path for a new note (the canonical one, or one with a suffix when taken). */
  freePath: string;
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

export function canonicalPath(place: Place, task: Task): string {
  return taskNotePath(place.folder, task);
}

/** True when a finished task's note is due for the archive. */
export function dueForArchive(place: Place, runtime: TaskRuntime | undefined): boolean {
  if (place.archiveAfterDays <= 0 || !runtime || !TERMINAL_STATES.includes(runtime.state)) return false;
  return place.now - runtime.updatedAt >= place.archiveAfterDays * DAY_MS;
}

function wanted(f: SyncFacts, task: Task, noteTags?: unknown) {
  return {
    values: ownedValuesFor({ task, runtime: f.runtime, clock: f.place.clock, noteTags }),
    line: taskLineFor(task, f.runtime, f.place.clock),
  };
}

/** The documents changed for task `f.id`: what to do with its note. */
export function planSync(f: SyncFacts): Effect[] {
  const task = f.task;
  if (!task) return []; // gone from the board (archived by the relay): its note stays as it is
  const canonical = canonicalPath(f.place, task);
  let note = f.indexed;
  const out: Effect[] = [];
  if (!note && !f.suppressed && f.atCanonical) {
    // A note sits where this task's note belongs but was not indexed: unreadable at startup,
    // or this task's note after all.
    if (f.atCanonical.text === undefined) return [{ kind: 'retry' }];
    let other: TaskNote;
    try {
      other = readTaskNote(f.atCanonical.text);
    } catch (e) {
      return [{ kind: 'complain', path: f.atCanonical.path, text: f.atCanonical.text, why: errorText(e) }];
    }
    if (other.id === f.id) {
      note = f.atCanonical;
      out.push({ kind: 'index', taskId: f.id, path: note.path });
    }
  }
  if (!note) {
    if (f.suppressed) return [];
    if (f.noted) return [{ kind: 'suppress', taskId: f.id, missing: true }];
    const want = wanted(f, task);
    const text = renderTaskNote(want.values, want.line, task.body);
    return [
      { kind: 'create', path: f.freePath, text },
      { kind: 'index', taskId: f.id, path: f.freePath },
      { kind: 'noted', taskId: f.id },
      { kind: 'remember', taskId: f.id, memory: { ...want, brief: task.body, canonical, text } },
    ];
  }
  if (note.busy || note.text === undefined) return [...out, { kind: 'retry' }];
  return [...out, ...(unchanged(f, task, note.text, canonical) ?? planUpdate(f, task, note as NoteAt & { text: string }, canonical))];
}

/**
 * The quick answer for a note that still holds exactly the text the mirror last wrote while
 * nothing it shows has changed (the usual case when the ledger arrives after the board, or on
 * a restart): nothing to write, no parse. Undefined when the full plan must decide.
 */
function unchanged(f: SyncFacts, task: Task, text: string, canonical: string): Effect[] | undefined {
  const m = f.memory;
  if (!m || m.text !== text || m.canonical !== canonical || m.brief !== task.body || dueForArchive(f.place, f.runtime)) return undefined;
  const want = wanted(f, task, m.values.tags);
  if (!sameLine(m.line, want.line) || differingKeys(m.values, want.values, OWNED_KEYS).length > 0) return undefined;
  return [{ kind: 'remember', taskId: f.id, memory: { ...want, brief: task.body, canonical, text } }];
}

function planUpdate(f: SyncFacts, task: Task, note: NoteAt & { text: string }, canonical: string): Effect[] {
  const out: Effect[] = [];
  let text = note.text;
  let migratedFrom: string | undefined;
  let parsed: TaskNote;
  try {
    const legacy = migrateLegacyNote(text, f.place.clock);
    if (legacy) {
      migratedFrom = legacyTaskNotePath(f.place.folder, task);
      const kept = Object.entries(legacy.renamed).map(([a, b]) => `${a} -> ${b}`);
      if (kept.length > 0) out.push({ kind: 'notice', message: `OWP: "${note.path}" moved to the new note format. Your own ${kept.length > 1 ? 'properties were' : 'property was'} renamed to make room: ${kept.join(', ')}.` });
      text = legacy.text;
    }
    parsed = readTaskNote(text);
  } catch (e) {
    return [{ kind: 'complain', path: note.path, text: note.text, why: errorText(e) }];
  }
  const want = wanted(f, task, parsed.data.tags);
  const keys = new Set([...differingKeys(parsed.owned, want.values, OWNED_KEYS), ...OWNED_KEYS.filter((k) => !(k in parsed.owned))]);
  const values: Partial<OwnedValues> = {};
  for (const k of keys) (values as Record<string, unknown>)[k] = want.values[k];
  const next = updateTaskNote(text, values, sameLine(parsed.line, want.line) ? undefined : want.line, parsed.brief !== task.body ? task.body : undefined);
  if (next !== note.text) out.push({ kind: 'write', path: note.path, expected: note.text, next });
  out.push({ kind: 'remember', taskId: f.id, memory: { ...want, brief: task.body, canonical, text: next } });
  const before = migratedFrom ?? f.memory?.canonical;
  if (dueForArchive(f.place, f.runtime) && (note.path === canonical || note.path === before)) {
    out.push({ kind: 'move', from: note.path, to: archivedNotePath(f.place.archiveFolder, task) });
  } else if (before !== undefined && before !== canonical && note.path === before) {
    // Move only a note that sits where we (or 0.1.0) put it: one the user moved stays.
    out.push({ kind: 'move', from: note.path, to: canonical }, { kind: 'index', taskId: f.id, path: canonical });
  }
  return out;
}

export interface ChangeFacts {
  path: string;
  text: string;
  /** The text the mirror last wrote to this path, if any (our own echo). */
  lastWritten: string | undefined;
  inTasksFolder: boolean;
  task: Task | undefined;
  runtime: TaskRuntime | undefined;
  memory: Memory | undefined;
  canEditBoard: boolean;
  place: Place;
}

const FIELD_OF: Record<EditableKey, keyof Task> = { points: 'points', skills: 'skills', tier: 'tier', area: 'area', priority: 'priority' };

/** A note changed in the vault (modify or create event). */
export function planNoteChange(f: ChangeFacts): Effect[] {
  if (f.lastWritten === f.text) return [{ kind: 'echo', path: f.path }];
  const out: Effect[] = f.lastWritten !== undefined ? [{ kind: 'echo', path: f.path }] : [];
  let note: TaskNote;
  try {
    note = readTaskNote(f.text);
  } catch (e) {
    if (f.inTasksFolder || /^(task|owp_id)\s*:/m.test(f.text)) out.push({ kind: 'complain', path: f.path, text: f.text, why: errorText(e) });
    return out;
  }
  const id = note.id;
  if (id === undefined || !f.task || f.task.id !== id) return out;
  const task = f.task;
  out.push({ kind: 'index', taskId: id, path: f.path });
  if (typeof note.data.owp_id === 'string') return [...out, { kind: 'dirty', taskId: id }]; // 0.1.0 note: the sync migrates it
  const want = {
    values: ownedValuesFor({ task, runtime: f.runtime, clock: f.place.clock, noteTags: note.data.tags }),
    line: taskLineFor(task, f.runtime, f.place.clock),
  };
  const base = f.memory ?? { ...want, brief: task.body, canonical: '' };
  const edited = differingKeys(note.owned, base.values, EDITABLE_KEYS);
  const titleEdited = !!note.line && note.line.title !== base.line.title && note.line.title !== task.title;
  const briefEdited = note.brief !== undefined && note.brief !== base.brief && note.brief !== task.body;
  let putBack = false;
  if (edited.length > 0 || titleEdited || briefEdited) {
    const what = [...edited, ...(titleEdited ? ['the title'] : []), ...(briefEdited ? ['the brief'] : [])].join(', ');
    if (!f.memory) {
      out.push({ kind: 'notice', message: `OWP: "${f.path}" could not be read before, so it was brought up to date from the board instead of being sent (${what}). Make your change again if you meant one.` });
      putBack = true;
    } else if (f.canEditBoard) {
      const patch: Record<string, unknown> = {};
      for (const k of edited) patch[FIELD_OF[k]] = note.owned[k];
      if (titleEdited) patch.title = note.line!.title.trim();
      if (briefEdited) patch.body = note.brief;
      const r = TaskSchema.safeParse({ ...task, ...patch });
      if (r.success) {
        const clean: Record<string, unknown> = {};
        for (const k of Object.keys(patch)) clean[k] = (r.data as Record<string, unknown>)[k];
        out.push({ kind: 'board', taskId: id, patch: clean });
      } else {
        const issue = r.error.issues[0];
        out.push({ kind: 'notice', message: `OWP: "${f.path}" was not sent: ${issue.path.join('.')} ${issue.message}. The note is put back.` });
        putBack = true;
      }
    } else {
      out.push({ kind: 'notice', message: `OWP: only maintainers can change ${what} of a task; "${f.path}" was put back.` });
      putBack = true;
    }
  }
  const runtimeEdited: string[] = differingKeys(note.owned, want.values, RUNTIME_KEYS);
  if (!sameTags(note.owned.tags, want.values.tags)) runtimeEdited.push('the owp tags');
  if (note.line && note.line.mark !== want.line.mark) runtimeEdited.push('the task box');
  if (runtimeEdited.length > 0) {
    const hint = note.line?.mark === 'x' && want.line.mark !== 'x' ? ' To hand the task in, run "Complete task" (or "Submit pull request link").' : '';
    out.push({ kind: 'notice', message: `OWP: ${runtimeEdited.join(', ')} in "${f.path}" ${runtimeEdited.length > 1 ? 'are' : 'is'} written by the relay from the ledger; put back.${hint}` });
    putBack = true;
  }
  const stale =
    differingKeys(note.owned, want.values, OWNED_KEYS).length > 0 ||
    !sameLine(note.line, want.line) ||
    (note.brief !== undefined && note.brief !== task.body);
  if (putBack || stale) out.push({ kind: 'dirty', taskId: id });
  return out;
}

/** Only our own tags count: the reader may add, remove or reorder theirs. */
function sameTags(a: unknown, b: string[]): boolean {
  const ours = (v: unknown) => (Array.isArray(v) ? v.map(String).filter((t) => t === 'owp' || t.startsWith('owp/')).sort().join() : '');
  return ours(a) === ours(b);
}

/**
 * A task note whose task is no longer on the board (the relay archived it): moved to the
 * archive once the note says the task ended at least `archiveAfterDays` ago.
 */
export function planGone(place: Place, note: NoteAt): Effect[] {
  if (place.archiveAfterDays <= 0 || note.text === undefined || note.busy) return [];
  if (!note.path.startsWith(place.folder + '/')) return [];
  let parsed: TaskNote;
  try {
    parsed = readTaskNote(note.text);
  } catch {
    return [];
  }
  const ended = parsed.line?.ended;
  const repo = parsed.owned.repo;
  if (!parsed.id || typeof repo !== 'string' || !ended || !TERMINAL_STATES.includes(parsed.owned.status as TaskRuntime['state'])) return [];
  const endedMs = Date.parse(`${ended}T00:00:00Z`) - place.clock.offsetMinutes(place.now) * 60_000;
  if (Number.isNaN(endedMs) || place.now - endedMs < (place.archiveAfterDays + 1) * DAY_MS) return [];
  return [{ kind: 'move', from: note.path, to: archivedNotePath(place.archiveFolder, { id: parsed.id, repo, title: parsed.line!.title }) }];
}
