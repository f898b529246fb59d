/**
 * Task note paths (shared/notes/note-path.ts): safe, stable, normalised and bounded for any
 * id, repo, title and tasks folder, including `/`, `:`, `#`, `..`, emoji and long titles.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import path from 'node:path';
import { MAX_NAME_BYTES, safeFolder, taskNotePath } from '../../shared/notes/note-path.js';
import { normalizePath } from '../obsidian/vault.js';

const nasty = fc.constantFrom('/', ':', '#', '..', '.', '\\', '^', '[', ']', '|', '?', '*', '"', '<', '>', ' ', '\u00a0', '\t', '\n', '\u0000', '\u202e', '😀', '👩‍💻', '🇫🇷', 'e\u0301', 'é', 'ß', '中', 'CON', '-', '%2e%2e');
/** Strings mixing ordinary text with the characters that break paths, up to 300 characters. */
const messy = (maxLength: number) =>
  fc.array(fc.oneof(nasty, fc.string({ maxLength: 8 }), fc.string({ unit: 'grapheme', maxLength: 4 })), { maxLength }).map((parts) => parts.join(''));
const longTitle = fc.tuple(fc.constantFrom('😀', 'a', 'é', '中', '/', '..'), fc.integer({ min: 100, max: 300 })).map(([c, n]) => c.repeat(n));
const taskArb = fc.record({
  id: messy(40),
  repo: fc.tuple(messy(6), messy(6)).map(([o, r]) => `${o}/${r}`),
  title: fc.oneof(messy(80), longTitle),
});
const folderArb = fc.oneof(fc.constantFrom('OWP/Tasks', '', '/', '..', '../..', '../../etc', './OWP//Tasks/', 'C:\\Users', 'a/./b/../c'), messy(10));

/** No lone surrogate (half an emoji). */
const wellFormed = (s: string) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
const bytes = (s: string) => new TextEncoder().encode(s).length;
const UNSAFE_CHAR = /[\\:*?"<>|#^[\]\u0000-\u001f\u007f\u202e]/;

describe('task note paths (property)', () => {
  it('are stable, normalised, inside the tasks folder, free of unsafe characters and bounded', () => {
    fc.assert(
      fc.property(folderArb, taskArb, (folder, task) => {
        const p = taskNotePath(folder, task);
        expect(taskNotePath(folder, { ...task })).toBe(p); // stable
        expect(normalizePath(p)).toBe(p); // Obsidian would not change it
        expect(wellFormed(p)).toBe(true); // no half of an emoji
        const base = safeFolder(folder);
        expect(p.startsWith(base + '/')).toBe(true);
        const segments = p.split('/');
        expect(segments.length).toBe(base.split('/').length + 3);
        const name = segments[segments.length - 1]!;
        expect(name.endsWith('.md')).toBe(true);
        for (const s of [...segments.slice(0, -1), name.slice(0, -3)]) {
          expect(s).not.toBe('');
          expect(s).not.toMatch(/^[\s.]|[\s.]$/); // so never '.' or '..' either
          expect(s).not.toMatch(UNSAFE_CHAR);
          expect(bytes(s)).toBeLessThanOrEqual(MAX_NAME_BYTES);
        }
        for (const s of segments.slice(0, -1)) expect(s).not.toMatch(/^(con|prn|aux|nul|com\d|lpt\d)(\.|$)/i);
        // resolved under a vault root it stays in the tasks folder
        const root = path.posix.resolve('/vault');
        expect(path.posix.resolve(root, p).startsWith(path.posix.join(root, base) + '/')).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('never puts a folder escape in the tasks folder itself', () => {
    fc.assert(
      fc.property(folderArb, (folder) => {
        const f = safeFolder(folder);
        expect(safeFolder(f)).toBe(f); // idempotent
        expect(f.split('/').every((s) => s !== '' && s !== '.' && s !== '..')).toBe(true);
        expect(normalizePath(f)).toBe(f);
      }),
    );
  });

  it('handles the named cases', () => {
    expect(taskNotePath('../../etc', { id: 'octo/app#1', repo: 'octo/app', title: 'a/b: c#d' })).toBe('etc/octo/app/1 a-b- c-d.md');
    expect(taskNotePath('OWP/Tasks', { id: '../x', repo: '../..', title: '..' })).toBe('OWP/Tasks/untitled/untitled/x untitled.md');
    const emoji = taskNotePath('OWP/Tasks', { id: 'o/r#2', repo: 'o/r', title: '😀'.repeat(300) });
    expect(wellFormed(emoji)).toBe(true);
    expect(bytes(emoji.split('/').pop()!)).toBeLessThanOrEqual(MAX_NAME_BYTES);
    const long = taskNotePath('OWP/Tasks', { id: 'o/r#3', repo: 'o/r', title: 'x'.repeat(300) });
    expect(long).toBe(`OWP/Tasks/o/r/3 ${'x'.repeat(80)}.md`);
    expect(taskNotePath('OWP/Tasks', { id: 'o/r#4', repo: 'o/con', title: 'nul' })).toBe('OWP/Tasks/o/con-/o-r-4 nul.md');
  });
});
