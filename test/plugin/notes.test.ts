import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MAX_FRONTMATTER_CHARS, NoteFormatError, parseNote, setFrontmatterKeys } from '../../shared/notes/frontmatter.js';
import {
  OWNED_KEYS,
  type OwnedValues,
  differingKeys,
  extractBrief,
  ownedValuesFor,
  readTaskNote,
  renderTaskNote,
  taskNotePath,
  updateTaskNote,
} from '../../shared/notes/task-note.js';
import { parseTask } from '../../shared/model.js';
import fs from 'node:fs';

const task = parseTask({ id: 'octo/app#12', repo: 'octo/app', title: 'Fix: the "parser"', createdAt: 1, skills: ['ts'], points: 3, tier: 1, area: 'src/' });

describe('task note codec', () => {
  it('renders a leased task note exactly as approved (test/plugin/notes-task.approved.md)', () => {
    const t = parseTask({ id: 'octo/app#12', repo: 'octo/app', title: 'Name the line in parser errors', body: 'Parser errors say "unexpected token".\n\nInclude the 1-based line and column.', createdAt: 1, skills: ['typescript', 'parsers'], points: 3, tier: 1, area: 'src/parser/', priority: 2 });
    const note = renderTaskNote(
      ownedValuesFor(t, {
        taskId: t.id, repo: t.repo, state: 'leased', attempt: 2, fencingToken: 5, queuedAt: 0, updatedAt: 0,
        lease: { taskId: t.id, workerId: 'alice', fencingToken: 5, grantedAt: 0, expiresAt: Date.UTC(2026, 10, 24, 10, 0, 0), ttlMs: 7_200_000 },
      }),
      t.body,
    );
    expect(note).toBe(fs.readFileSync(new URL('./notes-task.approved.md', import.meta.url), 'utf8'));
  });

  it('renders a note whose owned values read back equal to the task and runtime', () => {
    const values = ownedValuesFor(task, {
      taskId: task.id, repo: task.repo, state: 'leased', attempt: 1, fencingToken: 4, queuedAt: 0, updatedAt: 0,
      lease: { taskId: task.id, workerId: 'bob', fencingToken: 4, grantedAt: 0, expiresAt: 1_700_000_000_000, ttlMs: 1000 },
    });
    const note = renderTaskNote(values, 'The brief.\n\nSecond paragraph.');
    const read = readTaskNote(note);
    expect(read.owned).toEqual(values);
    expect(read.brief).toBe('The brief.\n\nSecond paragraph.');
    expect(differingKeys(read.owned, values, OWNED_KEYS)).toEqual([]);
  });

  it('keeps unknown keys, comments and the reader section byte for byte when owned keys change', () => {
    const base = renderTaskNote(ownedValuesFor(task, undefined), 'brief');
    const mine = base
      .replace('---\n', '---\n# my comment\nalias: [a, b]   # flow list kept\n')
      .replace('owp_pr:\n', 'owp_pr:\nnested:\n  deep: "yes"\n  list:\n  - 1\n')
      + 'I think this is **hard**.\r\n- [ ] ask bob\n';
    const out = updateTaskNote(mine, { owp_status: 'leased', owp_holder: 'bob', owp_skills: ['ts', 'rust'] }, 'new brief');
    expect(out).toContain('# my comment\nalias: [a, b]   # flow list kept\n');
    expect(out).toContain('nested:\n  deep: "yes"\n  list:\n  - 1\n');
    expect(out.endsWith('## My notes\n\nI think this is **hard**.\r\n- [ ] ask bob\n')).toBe(true);
    const read = readTaskNote(out);
    expect(read.owned.owp_holder).toBe('bob');
    expect(read.owned.owp_skills).toEqual(['ts', 'rust']);
    expect(read.brief).toBe('new brief');
    expect(read.data.alias).toEqual(['a', 'b']);
  });

  it('returns the very same text when nothing owned changes', () => {
    const note = renderTaskNote(ownedValuesFor(task, undefined), 'x');
    expect(updateTaskNote(note, ownedValuesFor(task, undefined), 'x')).toBe(note);
  });

  it('refuses ---js and ---javascript frontmatter without evaluating it', () => {
    (globalThis as Record<string, unknown>).owpEvaluated = false;
    for (const lang of ['js', 'javascript', ' js']) {
      const text = `---${lang}\n{ title: (globalThis.owpEvaluated = true) }\n---\nbody`;
      expect(() => parseNote(text)).toThrow(NoteFormatError);
      expect(() => setFrontmatterKeys(text, { owp_id: 'x' })).toThrow(/JavaScript frontmatter/);
    }
    expect((globalThis as Record<string, unknown>).owpEvaluated).toBe(false);
  });

  it('reports malformed YAML and an unclosed block as invalid-yaml errors', () => {
    const bad = () => parseNote('---\nowp_points: [1,\n---\nbody');
    expect(bad).toThrow(NoteFormatError);
    try { bad(); } catch (e) { expect((e as NoteFormatError).code).toBe('invalid-yaml'); }
    expect(() => parseNote('---\nowp_points: 1\nno end')).toThrow(/not closed/);
  });

  it('reads and edits pathological frontmatter in linear time: 10,000 keys, a long line without a colon', () => {
    const base = renderTaskNote(ownedValuesFor(task, undefined), 'b');
    let keys = '';
    for (let i = 0; i < 10_000; i++) keys += `k${i}: value ${i}\n`;
    const many = base.replace('owp_pr:\n', `owp_pr:\n${keys}`);
    expect(Object.keys(readTaskNote(many).data).length).toBe(10_000 + OWNED_KEYS.length);
    const edited = updateTaskNote(many, { owp_priority: 4 });
    expect(edited).toBe(many.replace('owp_priority: 0\n', 'owp_priority: 4\n'));
    // Before: a backtracking key pattern took seconds on such a line (quadratic).
    const spaces = base.replace('owp_pr:\n', `owp_pr:\nx${' '.repeat(200_000)}y\n`);
    expect(() => readTaskNote(spaces)).toThrow(NoteFormatError); // not YAML: a plain scalar at top level
    expect(updateTaskNote(spaces, { owp_priority: 4 })).toBe(spaces.replace('owp_priority: 0\n', 'owp_priority: 4\n'));
  });

  it('refuses duplicate top-level keys and frontmatter over the size limit, with invalid-yaml', () => {
    expect(() => parseNote('---\nowp_id: a\nx: 1\nowp_id: b\n---\n')).toThrow(/"owp_id" appears more than once/);
    const big = `---\nlong: ${'y'.repeat(MAX_FRONTMATTER_CHARS)}\n---\nbody`;
    expect(() => parseNote(big)).toThrow(/larger than 1 MB/);
    try {
      parseNote(big);
    } catch (e) {
      expect((e as NoteFormatError).code).toBe('invalid-yaml');
    }
    // a huge body is fine: only the frontmatter is parsed
    const hugeBody = renderTaskNote(ownedValuesFor(task, undefined), 'b') + 'z'.repeat(5_000_000);
    expect(readTaskNote(hugeBody).owned.owp_id).toBe(task.id);
  });

  it('does not share parse results between calls (no gray-matter cache)', () => {
    const text = '---\nowp_skills:\n  - a\n---\n';
    const first = parseNote(text);
    (first.data.owp_skills as string[]).push('mutated');
    first.data.extra = 1;
    expect(parseNote(text).data).toEqual({ owp_skills: ['a'] });
  });

  it('accepts YAML dates as Date objects or strings', () => {
    const iso = '2026-11-24T03:00:00.000Z';
    expect(readTaskNote(`---\nowp_lease_expires: ${iso}\n---\n`).owned.owp_lease_expires).toBe(iso);
    expect(readTaskNote(`---\nowp_lease_expires: "${iso}"\n---\n`).owned.owp_lease_expires).toBe(iso);
    // processFrontMatter-style tools may hand us a Date; normalisation must match the string form.
    expect(differingKeys({ owp_lease_expires: new Date(iso) }, { owp_lease_expires: iso }, ['owp_lease_expires'])).toEqual([]);
  });

  it('adds a frontmatter block and brief markers to a plain note without touching its text', () => {
    const plain = '# My idea\n\nSome text.\n';
    const out = updateTaskNote(plain, { owp_id: 'x', owp_repo: 'a/b' }, 'brief');
    expect(out.endsWith('# My idea\n\nSome text.\n')).toBe(true);
    expect(readTaskNote(out).owned).toEqual({ owp_id: 'x', owp_repo: 'a/b' });
    expect(extractBrief(out)).toBe('brief');
  });

  it('builds safe, stable note paths', () => {
    expect(taskNotePath('OWP/Tasks/', task)).toBe('OWP/Tasks/octo/app/octo-app-12 Fix- the -parser-.md');
    expect(taskNotePath('OWP/Tasks', { id: '../x', repo: 'a/b', title: '..' })).toBe('OWP/Tasks/a/b/x untitled.md');
  });
});

const ownedArb: fc.Arbitrary<OwnedValues> = fc.record({
  owp_id: fc.string({ minLength: 1, maxLength: 30 }),
  owp_repo: fc.constantFrom('a/b', 'octo/app'),
  owp_title: fc.string({ minLength: 1, maxLength: 60 }),
  owp_points: fc.integer({ min: 1, max: 100 }),
  owp_skills: fc.array(fc.stringMatching(/^[a-z0-9][a-z0-9+#._-]{0,10}$/), { maxLength: 4 }),
  owp_tier: fc.constantFrom(0, 1, 2, 3) as fc.Arbitrary<0 | 1 | 2 | 3>,
  owp_area: fc.constantFrom('', 'docs/', 'src/parser/'),
  owp_priority: fc.integer({ min: -100, max: 100 }),
  owp_status: fc.constantFrom('queued', 'leased', 'pr_open', 'done'),
  owp_holder: fc.option(fc.stringMatching(/^[a-z][a-z0-9_.@-]{0,10}$/), { nil: null }),
  owp_lease_expires: fc.option(fc.integer({ min: 0, max: 4_000_000_000_000 }).map((t) => new Date(t).toISOString()), { nil: null }),
  owp_fencing_token: fc.option(fc.integer({ min: 1, max: 1e6 }), { nil: null }),
  owp_attempt: fc.integer({ min: 0, max: 10 }),
  owp_pr: fc.option(fc.constant('https://github.com/a/b/pull/1'), { nil: null }),
});
const briefArb = fc.string({ maxLength: 200 }).filter((s) => !s.includes('<!-- owp:brief:'));
const readerArb = fc.string({ maxLength: 200 });
const extraKeyArb = fc.dictionary(fc.stringMatching(/^[a-z][a-z_]{0,8}$/).filter((k) => !k.startsWith('owp')), fc.oneof(fc.string({ maxLength: 20 }), fc.integer()), { maxKeys: 3 });

describe('codec round trip (property)', () => {
  it('parse(serialise(x)) gives back owned values and brief; unknown content survives updates', () => {
    fc.assert(
      fc.property(ownedArb, ownedArb, briefArb, briefArb, readerArb, extraKeyArb, (a, b, briefA, briefB, reader, extra) => {
        const created = renderTaskNote(a, briefA);
        const read = readTaskNote(created);
        expect(read.owned).toEqual(a);
        expect(read.brief).toBe(briefA);
        // the user adds keys of their own and writes in their section
        const extraYaml = Object.entries(extra).map(([k, v]) => `${k}: ${JSON.stringify(v)}\n`).join('');
        // a replacer function: a value such as "$`" must not be read as a replacement pattern
        const edited = created.replace(/\n---\n/, () => `\n${extraYaml}---\n`) + reader;
        const updated = updateTaskNote(edited, b, briefB);
        const back = readTaskNote(updated);
        expect(back.owned).toEqual(b);
        expect(back.brief).toBe(briefB);
        for (const [k, v] of Object.entries(extra)) expect(back.data[k]).toEqual(v);
        expect(updated.includes(extraYaml)).toBe(true);
        expect(updated.endsWith('## My notes\n\n' + reader)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });
});
