/**
 * Where a task's note lives in the vault: `<tasksFolder>/<owner>/<repo>/<short id> <title>.md`
 * (the short id is the task id without its repository), and where finished ones are archived.
 *
 * Invariants (property-tested in test/plugin/note-path.test.ts):
 * - Stable: a pure function of the folder and the task's id, repo and title.
 * - Safe: every segment is non-empty, not `.` or `..`, has no path separator, no character
 *   Obsidian refuses in file names or links (`\ / : * ? " < > | # ^ [ ]`), no control or
 *   bidirectional-override character, and does not start or end with a space or dot. The
 *   path never leaves the tasks folder.
 * - Already normalised: Obsidian's `normalizePath` (slashes, non-breaking spaces, NFC) leaves
 *   it unchanged.
 * - Bounded: the file name is at most MAX_NAME_BYTES bytes of UTF-8 (file systems allow 255)
 *   and is never cut inside a character (no lone surrogate halves).
 * - Pure: no Node, no Obsidian.
 */
import type { Task } from '../model.js';

export const DEFAULT_TASKS_FOLDER = 'OWP/Tasks';
/** The note's file name (with `.md`) stays within this many UTF-8 bytes. */
export const MAX_NAME_BYTES = 200;
/** A folder segment (owner, repo, a part of the tasks folder) stays within this many bytes. */
export const MAX_SEGMENT_BYTES = 100;

// Characters Obsidian refuses in names or links, C0/C1 controls, DEL, line and paragraph
// separators, bidirectional controls (a name must not read differently from what it is).
// eslint-disable-next-line no-control-regex -- control characters are exactly what this replaces
const UNSAFE = /[\\/:*?"<>|#^[\]\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]+/g;
const RESERVED = /^(con|prn|aux|nul|com\d|lpt\d)$/i; // Windows device names

function utf8Length(cp: string): number {
  const c = cp.codePointAt(0)!;
  return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
}

/** Cut to at most `maxChars` characters and `maxBytes` UTF-8 bytes, at a character boundary. */
function cut(s: string, maxChars: number, maxBytes: number): string {
  let out = '';
  let bytes = 0;
  let chars = 0;
  for (const cp of s) {
    const b = utf8Length(cp);
    if (chars + 1 > maxChars || bytes + b > maxBytes) break;
    out += cp;
    bytes += b;
    chars++;
  }
  return out;
}

function trimEnds(s: string): string {
  return s.replace(/^[\s.-]+|[\s.]+$/g, '');
}

/**
 * A file-name-safe form of a string: no path separators or characters Obsidian links
 * dislike, NFC, at most `max` characters and `maxBytes` UTF-8 bytes, never empty.
 */
export function safeName(s: string, max: number, maxBytes = MAX_SEGMENT_BYTES): string {
  const cleaned = trimEnds(
    s
      .normalize('NFC')
      .replace(/[\u00a0\u202f]/g, ' ')
      .replace(UNSAFE, '-')
      .replace(/\s+/g, ' '),
  );
  const out = trimEnds(cut(cleaned, max, maxBytes));
  return out === '' ? 'untitled' : out;
}

/** A whole folder segment: a safe name that is not a Windows device name either. */
function segment(s: string): string {
  const out = safeName(s, MAX_SEGMENT_BYTES);
  return RESERVED.test(out.split('.')[0]) ? `${out}-` : out;
}

/**
 * The tasks folder as a safe vault path: `.`/`..`/empty segments dropped, each segment made
 * safe. Falls back to DEFAULT_TASKS_FOLDER when nothing is left.
 */
export function safeFolder(folder: string): string {
  const parts = folder
    .replace(/\\/g, '/')
    .split('/')
    .map((p) => p.trim())
    .filter((p) => p !== '' && p !== '.' && p !== '..')
    .map(segment);
  return parts.length > 0 ? parts.join('/') : DEFAULT_TASKS_FOLDER;
}

/**
 * The task id without its repository: `octo/app#12` -> `12`, `octo/hello:readme-typo` ->
 * `readme-typo` (the folder already names the repository). An id that does not start with
 * its repository is kept whole.
 */
export function shortId(task: Pick<Task, 'id' | 'repo'>): string {
  const rest = task.id.startsWith(task.repo) ? task.id.slice(task.repo.length).replace(/^[#:/!@-]+/, '') : '';
  return rest === '' ? task.id : rest;
}

function notePath(folder: string, repoName: string, idPart: string, title: string): string {
  const slash = repoName.indexOf('/');
  const owner = slash < 0 ? repoName : repoName.slice(0, slash);
  const repo = slash < 0 ? 'unknown' : repoName.slice(slash + 1);
  const id = safeName(idPart, 100, 100);
  const budget = MAX_NAME_BYTES - ' .md'.length - new TextEncoder().encode(id).length;
  const name = `${id} ${safeName(title, 80, budget)}`;
  return `${safeFolder(folder)}/${segment(owner || 'unknown')}/${segment(repo || 'unknown')}/${name}.md`;
}

/** `<tasksFolder>/<owner>/<repo>/<safe short id> <safe title>.md` */
export function taskNotePath(tasksFolder: string, task: Pick<Task, 'id' | 'repo' | 'title'>): string {
  return notePath(tasksFolder, task.repo, shortId(task), task.title);
}

/** Where plugin 0.1.0 put a task's note (`<safe full id> <title>`): migration moves it from there. */
export function legacyTaskNotePath(tasksFolder: string, task: Pick<Task, 'id' | 'repo' | 'title'>): string {
  return notePath(tasksFolder, task.repo, task.id, task.title);
}

export const DEFAULT_ARCHIVE_FOLDER = 'OWP/Archive';

/** A finished task's note in the archive: `<archive>/<owner>/<repo>/<name of the note>`. */
export function archivedNotePath(archiveFolder: string, task: Pick<Task, 'id' | 'repo' | 'title'>): string {
  return notePath(archiveFolder, task.repo, shortId(task), task.title);
}
