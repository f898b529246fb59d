import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_FRONTMATTER_CHARS, NoteFormatError, parseNote, setFrontmatterKeys } from '../../shared/notes/frontmatter.js';
import {
  OWNED_KEYS,
  UTC_CLOCK,
  type OwnedValues,
  type TaskLine,
  differingKeys,
  extractBrief,
  ownedValuesFor,
  readTaskNote,
  renderTaskNote,
  taskLineFor,
  taskNotePath,
  updateTaskNote,
} from '../../shared/notes/task-note.js';
import { parseTask, type TaskRuntime } from '../../shared/model.js';
import { fcOptions } from '../helpers/scheduler-arbitraries.js';
import fs from 'node:fs';

const task = parseTask({ id: 'octo/app#12', repo: 'octo/app', title: 'Fix: the "parser"', createdAt: 1, skills: ['ts'], points: 3, tier: 1, area: 'src/' });
const clock = UTC_CLOCK;
const values = (rt?: TaskRuntime, t = task, noteTags?: unknown) => ownedValuesFor({ task: t, runtime: rt, clock, noteTags });
const line = (rt?: TaskRuntime, t = task) => taskLineFor(t, rt, clock);
const leased = (t = task, expiresAt = Date.UTC(2026, 10, 24, 10, 0, 0)): TaskRuntime => ({
  taskId: t.id, repo: t.repo, state: 'leased', attempt: 2, fencingToken: 5, queuedAt: 0, updatedAt: 0,
  lease: { taskId: t.id, workerId: 'alice', fencingToken: 5, grantedAt: 0, expiresAt, ttlMs: 7_200_000 },
});

describe('task note codec (note format 2)', () => {
  it('renders a leased task note exactly as approved (test/plugin/notes-task.approved.md)', () => {
    const t = parseTask({ id: 'octo/app#12', repo: 'octo/app', title: 'Name the line in parser errors', body: 'Parser errors say "unexpected token".\n\nInclude the 1-based line and column.', createdAt: 1, skills: ['typescript', 'parsers'], points: 3, tier: 1, area: 'src/parser/', priority: 2, issueUrl: 'https://github.com/octo/app/issues/12' });
    const note = renderTaskNote(values(leased(t), t), line(leased(t), t), t.body);
    expect(note).toBe(fs.readFileSync(new URL('./notes-task.approved.md', import.meta.url), 'utf8'));
    expect(note).not.toMatch(/fencing|attempt|owp_/);
  });

  it('ticks the task line with the done date when done, marks it cancelled when cancelled', () => {
    const done: TaskRuntime = { taskId: task.id, repo: task.repo, state: 'done', attempt: 1, fencingToken: 1, queuedAt: 0, updatedAt: Date.UTC(2026, 10, 20, 12) };
    expect(line(done)).toEqual({ mark: 'x', title: task.title, ended: '2026-11-20' });
    const note = renderTaskNote(values(done), line(done), '');
    expect(note).toContain('\n- [x] Fix: the "parser" ✅ 2026-11-20\n');
    expect(readTaskNote(note).line).toEqual(line(done));
    expect(readTaskNote(note).owned.tags).toEqual(['owp', 'owp/done']);
    const cancelled = { ...done, state: 'cancelled' as const };
    expect(renderTaskNote(values(cancelled), line(cancelled), '')).toContain('\n- [-] Fix: the "parser" ❌ 2026-11-20\n');
    // the reader's own task lines (below the brief) are never taken for ours
    const mine = renderTaskNote(values(), line(), 'b') + '- [x] my own step\n';
    expect(readTaskNote(mine).line).toEqual({ mark: ' ', title: task.title });
    expect(updateTaskNote(mine, {}, line(done))).toBe(mine.replace('- [ ] Fix', '- [x] Fix').replace('"parser"\n', '"parser" ✅ 2026-11-20\n'));
  });

  it("keeps the reader's own tags, after ours, and only ours change with the status", () => {
    expect(values(undefined, task, ['idea', 'owp/leased', '#owp']).tags).toEqual(['owp', 'owp/queued', 'idea']);
    expect(values(undefined, task, 'idea, later').tags).toEqual(['owp', 'owp/queued', 'idea', 'later']);
  });

  it('writes lease expiry as local date and time (the clock gives the offset)', () => {
    const plus2 = { offsetMinutes: () => 120 };
    expect(ownedValuesFor({ task, runtime: leased(), clock: plus2 }).lease_expires).toBe('2026-11-24T12:00:00');
    expect(values(leased()).lease_expires).toBe('2026-11-24T10:00:00');
  });

  it('renders a note whose owned values read back equal to the task and runtime', () => {
    const v = values(leased());
    const note = renderTaskNote(v, line(leased()), 'The brief.\n\nSecond paragraph.');
    const read = readTaskNote(note);
    expect(read.owned).toEqual(v);
    expect(read.id).toBe(task.id);
    expect(read.brief).toBe('The brief.\n\nSecond paragraph.');
    expect(differingKeys(read.owned, v, OWNED_KEYS)).toEqual([]);
  });

  it('keeps unknown keys, comments and the reader section byte for byte when owned keys change', () => {
    const base = renderTaskNote(values(), line(), 'brief');
    const mine = base
      .replace('---\n', '---\n# my comment\nalias: [a, b]   # flow list kept\n')
      .replace('\npr:\n', '\npr:\nnested:\n  deep: "yes"\n  list:\n  - 1\n')
      + 'I think this is **hard**.\r\n- [ ] ask bob\n';
    const out = updateTaskNote(mine, { status: 'leased', holder: 'bob', skills: ['ts', 'rust'] }, undefined, 'new brief');
    expect(out).toContain('# my comment\nalias: [a, b]   # flow list kept\n');
    expect(out).toContain('nested:\n  deep: "yes"\n  list:\n  - 1\n');
    expect(out.endsWith('## My notes\n\nI think this is **hard**.\r\n- [ ] ask bob\n')).toBe(true);
    const read = readTaskNote(out);
    expect(read.owned.holder).toBe('bob');
    expect(read.owned.skills).toEqual(['ts', 'rust']);
    expect(read.brief).toBe('new brief');
    expect(read.data.alias).toEqual(['a', 'b']);
  });

  it('returns the very same text when nothing owned changes', () => {
    const note = renderTaskNote(values(), line(), 'x');
    expect(updateTaskNote(note, values(), line(), 'x')).toBe(note);
  });

  it('refuses ---js and ---javascript frontmatter without evaluating it', () => {
    (globalThis as Record<string, unknown>).owpEvaluated = false;
    for (const lang of ['js', 'javascript', ' js']) {
      const text = `---${lang}\n{ title: (globalThis.owpEvaluated = true) }\n---\nbody`;
      expect(() => parseNote(text)).toThrow(NoteFormatError);
      expect(() => setFrontmatterKeys(text, { task: 'x' })).toThrow(/JavaScript frontmatter/);
    }
    expect((globalThis as Record<string, unknown>).owpEvaluated).toBe(false);
  });

  it('reports malformed YAML and an unclosed block as invalid-yaml errors', () => {
    const bad = () => parseNote('---\npoints: [1,\n---\nbody');
    expect(bad).toThrow(NoteFormatError);
    try { bad(); } catch (e) { expect((e as NoteFormatError).code).toBe('invalid-yaml'); }
    expect(() => parseNote('---\npoints: 1\nno end')).toThrow(/not closed/);
    // `----` is a thematic break, not frontmatter; an empty block is no data
    expect(parseNote('----\ntext\n').hasFrontmatter).toBe(false);
    expect(parseNote('---\n---\nbody').data).toEqual({});
    expect(parseNote('---\r\na: 1\r\n---\r\nbody').content).toBe('body');
  });

  it('reads and edits pathological frontmatter in linear time: 10,000 keys, a long line without a colon', () => {
    const base = renderTaskNote(values(), line(), 'b');
    let keys = '';
    for (let i = 0; i < 10_000; i++) keys += `k${i}: value ${i}\n`;
    const many = base.replace('\npr:\n', `\npr:\n${keys}`);
    expect(Object.keys(readTaskNote(many).data).length).toBe(10_000 + OWNED_KEYS.length);
    const edited = updateTaskNote(many, { priority: 4 });
    expect(edited).toBe(many.replace('priority: 0\n', 'priority: 4\n'));
    const spaces = base.replace('\npr:\n', `\npr:\nx${' '.repeat(200_000)}y\n`);
    expect(() => readTaskNote(spaces)).toThrow(NoteFormatError); // not YAML: a plain scalar at top level
    expect(updateTaskNote(spaces, { priority: 4 })).toBe(spaces.replace('priority: 0\n', 'priority: 4\n'));
  });

  it('refuses duplicate top-level keys and frontmatter over the size limit, with invalid-yaml', () => {
    expect(() => parseNote('---\ntask: a\nx: 1\ntask: b\n---\n')).toThrow(/"task" appears more than once/);
    const big = `---\nlong: ${'y'.repeat(MAX_FRONTMATTER_CHARS)}\n---\nbody`;
    expect(() => parseNote(big)).toThrow(/larger than 1 MB/);
    const hugeBody = renderTaskNote(values(), line(), 'b') + 'z'.repeat(5_000_000);
    expect(readTaskNote(hugeBody).id).toBe(task.id);
  });

  it('does not share parse results between calls', () => {
    const text = '---\nskills:\n  - a\n---\n';
    const first = parseNote(text);
    (first.data.skills as string[]).push('mutated');
    expect(parseNote(text).data).toEqual({ skills: ['a'] });
  });

  it('adds a frontmatter block, a task line and brief markers to a plain note without touching its text', () => {
    const plain = '# My idea\n\nSome text.\n';
    const out = updateTaskNote(plain, { task: 'x', repo: 'a/b' }, { mark: ' ', title: 'My idea' }, 'brief');
    expect(out.endsWith('# My idea\n\nSome text.\n')).toBe(true);
    const read = readTaskNote(out);
    expect(read.owned).toEqual({ task: 'x', repo: 'a/b' });
    expect(read.line).toEqual({ mark: ' ', title: 'My idea' });
    expect(extractBrief(out)).toBe('brief');
  });

  it('names notes by short id and title, in the folder of the repository', () => {
    expect(taskNotePath('OWP/Tasks/', task)).toBe('OWP/Tasks/octo/app/12 Fix- the -parser-.md');
    expect(taskNotePath('OWP/Tasks', { id: 'octo/hello:readme-typo', repo: 'octo/hello', title: 'Typos' })).toBe('OWP/Tasks/octo/hello/readme-typo Typos.md');
    expect(taskNotePath('OWP/Tasks', { id: '../x', repo: 'a/b', title: '..' })).toBe('OWP/Tasks/a/b/x untitled.md');
  });
});

const ownedArb: fc.Arbitrary<OwnedValues> = fc.record({
  task: fc.string({ minLength: 1, maxLength: 30 }),
  repo: fc.constantFrom('a/b', 'octo/app'),
  status: fc.constantFrom('queued', 'leased', 'pr_open', 'done'),
  holder: fc.option(fc.stringMatching(/^[a-z][a-z0-9_.@-]{0,10}$/), { nil: null }),
  points: fc.integer({ min: 1, max: 100 }),
  skills: fc.array(fc.stringMatching(/^[a-z0-9][a-z0-9+#._-]{0,10}$/), { maxLength: 4 }),
  tier: fc.constantFrom(0, 1, 2, 3),
  area: fc.constantFrom('', 'docs/', 'src/parser/'),
  priority: fc.integer({ min: -100, max: 100 }),
  issue: fc.option(fc.constant('https://github.com/a/b/issues/1'), { nil: null }),
  pr: fc.option(fc.constant('https://github.com/a/b/pull/1'), { nil: null }),
  lease_expires: fc.option(fc.integer({ min: 0, max: 4_000_000_000_000 }).map((t) => new Date(t).toISOString().slice(0, 19)), { nil: null }),
  tags: fc.array(fc.stringMatching(/^[a-z][a-z/]{0,8}$/), { maxLength: 3 }).map((t) => ['owp', 'owp/queued', ...t]),
});
const lineArb: fc.Arbitrary<TaskLine> = fc.record({ mark: fc.constantFrom(' ', 'x', '-'), title: fc.stringMatching(/^[^\r\n]*\S$/).filter((s) => !/^\s/.test(s) && !/ (✅|❌) \d{4}-\d{2}-\d{2}$/.test(s)) });

const briefArb = fc.string({ maxLength: 200 }).filter((s) => !s.includes('<!-- owp:brief:'));
const readerArb = fc.string({ maxLength: 200 });
const extraKeyArb = fc.dictionary(fc.stringMatching(/^[a-z][a-z_]{0,8}$/).filter((k) => !k.startsWith('owp') && !(OWNED_KEYS as readonly string[]).includes(k)), fc.oneof(fc.string({ maxLength: 20 }), fc.integer()), { maxKeys: 3 });

describe('codec round trip (property)', () => {
  it('parse(serialise(x)) gives back owned values and brief; unknown content survives updates', () => {
    fc.assert(
      fc.property(ownedArb, ownedArb, lineArb, lineArb, briefArb, briefArb, readerArb, extraKeyArb, (a, b, lineA, lineB, briefA, briefB, reader, extra) => {
        const created = renderTaskNote(a, lineA, briefA);
        const read = readTaskNote(created);
        expect(read.owned).toEqual(a);
        expect(read.line).toEqual(lineA);
        expect(read.brief).toBe(briefA);
        // the user adds keys of their own and writes in their section
        const extraYaml = Object.entries(extra).map(([k, v]) => `${k}: ${JSON.stringify(v)}\n`).join('');
        // a replacer function: a value such as "$`" must not be read as a replacement pattern
        const edited = created.replace(/\n---\n/, () => `\n${extraYaml}---\n`) + reader;
        const updated = updateTaskNote(edited, b, lineB, briefB);
        const back = readTaskNote(updated);
        expect(back.owned).toEqual(b);
        expect(back.line).toEqual(lineB);
        expect(back.brief).toBe(briefB);
        for (const [k, v] of Object.entries(extra)) expect(back.data[k]).toEqual(v);
        expect(updated.includes(extraYaml)).toBe(true);
        expect(updated.endsWith('## My notes\n\n' + reader)).toBe(true);
      }),
      fcOptions(150),
    );
  });
});
