/**
 * Safe, surgical frontmatter handling for markdown notes.
 *
 * Invariants:
 * - A small splitter finds the block between the `---` lines and `yaml` parses it: nothing
 *   is ever evaluated (`---js` / `---javascript` frontmatter is refused); only YAML is accepted.
 * - Every parse is fresh (no cache), so mutating a result cannot change a later parse.
 * - Editing (`setFrontmatterKeys`) touches only the top-level entries it is asked to set:
 *   every other byte of the note (other keys, comments, blank lines, the body) is kept
 *   exactly as it was.
 * - Bad input never throws anything but NoteFormatError (code 'invalid-yaml').
 * - Linear time in the size of the note: no quadratic duplicate-key check (ours is a Set over
 *   top-level keys), no backtracking regex; a frontmatter block over MAX_FRONTMATTER_CHARS is
 *   refused rather than parsed.
 * - No Node or Obsidian imports: the plugin bundles this for mobile.
 */
import { isMap, isScalar, parseDocument, stringify as stringifyYaml } from 'yaml';
import { OwpError } from '../errors.js';

export class NoteFormatError extends OwpError {
  constructor(message: string) {
    super('invalid-yaml', message);
    this.name = 'NoteFormatError';
  }
}

function refuseJs(): never {
  throw new NoteFormatError('JavaScript frontmatter (---js) is not allowed; use YAML between --- lines.');
}

/** Larger frontmatter is refused (a task note's is a few hundred bytes). */
export const MAX_FRONTMATTER_CHARS = 1_000_000;

/**
 * YAML to data. yaml's own `uniqueKeys` check compares every pair of keys (10,000 keys take
 * seconds), so it is off and duplicate top-level keys are found with a Set instead.
 */
function parseYamlBlock(s: string): unknown {
  const doc = parseDocument(s, { prettyErrors: true, uniqueKeys: false });
  if (doc.errors.length > 0) throw doc.errors[0];
  if (isMap(doc.contents)) {
    const seen = new Set<string>();
    for (const pair of doc.contents.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      if (seen.has(key)) throw new NoteFormatError(`The key "${key.slice(0, 80)}" appears more than once in the frontmatter; keep one.`);
      seen.add(key);
    }
  }
  return doc.toJS() ?? {};
}

const OPEN_RE = /^---([^\r\n]*)\r?\n/;

export interface FrontmatterBlock {
  /** Text of the YAML between the delimiters (no delimiters), '' when empty. */
  yaml: string;
  /** Index in the note where the YAML text starts. */
  start: number;
  /** Index in the note where the YAML text ends (the closing --- line starts here). */
  end: number;
  /** Index in the note just after the closing --- line and its line break (the body starts here). */
  after: number;
}

/** Locate the frontmatter block, or undefined when the note has none. Throws on an unclosed block. */
export function findFrontmatter(text: string): FrontmatterBlock | undefined {
  const open = OPEN_RE.exec(text);
  if (!open || open[1].startsWith('-')) return undefined; // `----` is a thematic break, not frontmatter
  const lang = open[1].trim();
  if (lang === 'js' || lang === 'javascript') refuseJs();
  if (lang !== '' && lang !== 'yaml' && lang !== 'yml') {
    throw new NoteFormatError(`Frontmatter language "${lang}" is not supported; use YAML between --- lines.`);
  }
  const start = open[0].length;
  // The block may be empty: the closing line can follow the opening line directly.
  const closeRe = /^---[ \t]*(\r?\n|$)/gm;
  closeRe.lastIndex = start;
  const close = closeRe.exec(text);
  if (!close) throw new NoteFormatError('The frontmatter is not closed: add a line with --- after it.');
  if (close.index - start > MAX_FRONTMATTER_CHARS) {
    throw new NoteFormatError(`The frontmatter is larger than ${MAX_FRONTMATTER_CHARS / 1_000_000} MB; move the long content below the --- line.`);
  }
  return { yaml: text.slice(start, close.index), start, end: close.index, after: close.index + close[0].length };
}

export interface ParsedNote {
  /** Frontmatter data (a fresh copy), {} when the note has none. */
  data: Record<string, unknown>;
  /** The note without its frontmatter. */
  content: string;
  hasFrontmatter: boolean;
}

/** Parse a note's frontmatter safely. Throws NoteFormatError on malformed YAML or `---js`. */
export function parseNote(text: string): ParsedNote {
  const block = findFrontmatter(text);
  if (!block) return { data: {}, content: text, hasFrontmatter: false };
  let data: unknown;
  try {
    data = block.yaml.trim() === '' ? {} : parseYamlBlock(block.yaml);
  } catch (e) {
    if (e instanceof NoteFormatError) throw e;
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new NoteFormatError(`The frontmatter is not valid YAML (${why}). Fix it and save the note again.`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new NoteFormatError('The frontmatter must be a list of key: value lines.');
  }
  return { data: data as Record<string, unknown>, content: text.slice(block.after), hasFrontmatter: true };
}

interface Segment {
  key?: string;
  text: string;
}

// No nested quantifiers that can trade characters: a long line without a colon is linear.
const KEY_RE = /^(?:"([^"]*)"[ \t]*|'([^']*)'[ \t]*|([^\s#'"\-?:,[\]{}&*!|>%@`][^:#]*)):(?:[ \t]|$)/;

/** Split a YAML block into top-level entries (key line + its indented continuation) and other lines. */
function segments(yaml: string): Segment[] {
  const lines = yaml.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  const out: Segment[] = [];
  for (const line of lines) {
    const bare = line.replace(/\r?\n$/, '');
    const m = KEY_RE.exec(bare);
    const last = out[out.length - 1];
    if (m) {
      out.push({ key: m[1] ?? m[2] ?? m[3].trim(), text: line });
    } else if (last?.key !== undefined && bare.trim() !== '' && (/^[ \t]/.test(bare) || /^-([ \t]|$)/.test(bare))) {
      last.text += line; // continuation of the entry above (nested map, block list)
    } else {
      out.push({ text: line });
    }
  }
  return out;
}

/**
 * Entries rendered lately (`key` NUL JSON of the value -> text): a note repeats most of its
 * neighbours' entries (repo, status, points, tags), and yaml's stringify is the costly part
 * of writing 10,000 new notes. Strings are immutable, so sharing them is safe; bounded.
 */
const rendered = new Map<string, string>();
const RENDERED_MAX = 4096;
/** Values whose JSON tells them apart exactly (not NaN or -0, not nested, no Dates). */
const plainValue = (v: unknown): boolean =>
  typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v) && !Object.is(v, -0)) || (Array.isArray(v) && v.every((x) => typeof x === 'string'));

/** Render one top-level `key: value` entry the way processFrontMatter would (block lists). */
export function renderEntry(key: string, value: unknown): string {
  if (value === null || value === undefined) return `${key}:\n`;
  if (Array.isArray(value) && value.length === 0) return `${key}: []\n`;
  if (!plainValue(value)) return stringifyYaml({ [key]: value }, { lineWidth: 0 });
  const memo = `${key}\u0000${JSON.stringify(value)}`;
  let text = rendered.get(memo);
  if (text === undefined) {
    text = stringifyYaml({ [key]: value }, { lineWidth: 0 });
    if (rendered.size >= RENDERED_MAX) rendered.clear();
    rendered.set(memo, text);
  }
  return text;
}

/**
 * Set (or add) some top-level keys in a note's frontmatter, keeping every other byte.
 * A note without frontmatter gets a block at the top. Keys that already hold exactly the
 * rendered text are left alone. Throws NoteFormatError if the existing block is unclosed.
 */
export function setFrontmatterKeys(text: string, values: Record<string, unknown>): string {
  const block = findFrontmatter(text);
  const keys = Object.keys(values);
  if (!block) {
    return '---\n' + keys.map((k) => renderEntry(k, values[k])).join('') + '---\n' + text;
  }
  const segs = segments(block.yaml);
  // A last line without a newline must get one before anything is appended after it.
  const endsOpen = block.yaml !== '' && !block.yaml.endsWith('\n');
  const seen = new Set<string>();
  for (const s of segs) {
    if (s.key !== undefined && keys.includes(s.key) && !seen.has(s.key)) {
      seen.add(s.key);
      const eol = s.text.endsWith('\n') ? '' : '\n';
      const rendered = renderEntry(s.key, values[s.key]);
      if (s.text + eol !== rendered) s.text = s.text.endsWith('\n') ? rendered : rendered.replace(/\n$/, '');
    }
  }
  const missing = keys.filter((k) => !seen.has(k));
  let yaml = segs.map((s) => s.text).join('');
  if (missing.length > 0) {
    if (endsOpen) yaml += '\n';
    yaml += missing.map((k) => renderEntry(k, values[k])).join('');
  }
  return text.slice(0, block.start) + yaml + text.slice(block.end);
}

/**
 * Remove top-level keys (their whole entry, continuation lines included) and rename others,
 * keeping every other byte. Renaming onto a key that exists is refused (NoteFormatError).
 */
export function editFrontmatterKeys(text: string, edits: { remove?: readonly string[]; rename?: Record<string, string>; insert?: Record<string, unknown> }): string {
  const block = findFrontmatter(text);
  if (!block) return text;
  const remove = new Set(edits.remove ?? []);
  const rename = edits.rename ?? {};
  const segs = segments(block.yaml);
  const present = new Set(segs.filter((s) => s.key !== undefined).map((s) => s.key!));
  for (const to of Object.values(rename)) {
    if (present.has(to)) throw new NoteFormatError(`The frontmatter already has a key "${to}".`);
  }
  const kept: Segment[] = [];
  const inserted = Object.entries(edits.insert ?? {}).map(([k, v]) => renderEntry(k, v)).join('');
  let pending = inserted !== '';
  for (const s of segs) {
    if (s.key !== undefined && remove.has(s.key)) {
      // The new entries take the place of the first removed one.
      if (pending) kept.push({ text: inserted });
      pending = false;
      continue;
    }
    if (s.key !== undefined && rename[s.key] !== undefined) {
      const m = KEY_RE.exec(s.text.replace(/\r?\n[\s\S]*$/, ''))!;
      const colon = m[0].lastIndexOf(':');
      s.text = `${rename[s.key]}${s.text.slice(colon)}`;
    }
    kept.push(s);
  }
  if (pending) kept.unshift({ text: inserted });
  return text.slice(0, block.start) + kept.map((s) => s.text).join('') + text.slice(block.end);
}
