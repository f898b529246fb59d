/**
 * The mirror's rules (plugin/mirror/rules.ts) without a vault: facts in, effects out.
 */
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { parseTask, type TaskRuntime } from '../../shared/model.js';
import { UTC_CLOCK, ownedValuesFor, readTaskNote, renderTaskNote, taskLineFor } from '../../shared/notes/task-note.js';
import { DAY_MS, planGone, planNoteChange, planSync, type ChangeFacts, type Memory, type Place, type SyncFacts } from '../../plugin/mirror/rules.js';

const NOW = Date.UTC(2026, 10, 27, 12);
const place: Place = { folder: 'OWP/Tasks', archiveFolder: 'OWP/Archive', archiveAfterDays: 3, clock: UTC_CLOCK, now: NOW };
const task = parseTask({ id: 'octo/app#7', repo: 'octo/app', title: 'Seven', body: 'Brief.', createdAt: 1, points: 2 });
const P = 'OWP/Tasks/octo/app/7 Seven.md';
const leased: TaskRuntime = {
  taskId: task.id, repo: task.repo, state: 'leased', attempt: 1, fencingToken: 3, queuedAt: 0, updatedAt: NOW,
  lease: { taskId: task.id, workerId: 'bob', fencingToken: 3, grantedAt: NOW, expiresAt: NOW + 3600_000, ttlMs: 3600_000 },
};
const want = (rt?: TaskRuntime) => ({ values: ownedValuesFor({ task, runtime: rt, clock: UTC_CLOCK }), line: taskLineFor(task, rt, UTC_CLOCK) });
const textFor = (rt?: TaskRuntime) => renderTaskNote(want(rt).values, want(rt).line, task.body);
const memoryFor = (rt?: TaskRuntime): Memory => ({ ...want(rt), brief: task.body, canonical: P });
const sync = (f: Partial<SyncFacts>): SyncFacts => ({
  id: task.id, task, runtime: undefined, place, suppressed: false, noted: false, memory: undefined, indexed: undefined, atCanonical: undefined, freePath: P, ...f,
});
const change = (f: Partial<ChangeFacts>): ChangeFacts => ({
  path: P, text: textFor(), lastWritten: undefined, inTasksFolder: true, task, runtime: undefined, memory: memoryFor(), canEditBoard: false, place, ...f,
});

describe('planSync', () => {
  it('creates a missing note once, remembers it, and never recreates one the user deleted', () => {
    const e = planSync(sync({}));
    expect(e.map((x) => x.kind)).toEqual(['create', 'index', 'noted', 'remember']);
    expect(e[0]).toEqual({ kind: 'create', path: P, text: textFor() });
    expect(planSync(sync({ suppressed: true }))).toEqual([]);
    expect(planSync(sync({ noted: true }))).toEqual([{ kind: 'suppress', taskId: task.id, missing: true }]);
  });

  it('waits while the user types, and writes with the text it read (compare-and-write)', () => {
    const indexed = { path: P, text: textFor(), busy: true };
    expect(planSync(sync({ runtime: leased, indexed }))).toEqual([{ kind: 'retry' }]);
    const e = planSync(sync({ runtime: leased, indexed: { ...indexed, busy: false } }));
    expect(e[0]).toEqual({ kind: 'write', path: P, expected: textFor(), next: textFor(leased) });
  });

  it('writes nothing when the note already says it all', () => {
    expect(planSync(sync({ indexed: { path: P, text: textFor(), busy: false }, memory: memoryFor() })).map((x) => x.kind)).toEqual(['remember']);
  });

  it('leaves a note whose task left the board as it is', () => {
    expect(planSync(sync({ task: undefined, indexed: { path: P, text: textFor(), busy: false } }))).toEqual([]);
  });

  it("migrates a 0.1.0 note and moves it from 0.1.0's name to the new one", () => {
    const old = fs.readFileSync(new URL('../fixtures/vault-0.1.0/OWP/Tasks/octo/app/octo-app-13 Document the CLI.md', import.meta.url), 'utf8');
    const t13 = parseTask({ id: 'octo/app#13', repo: 'octo/app', title: 'Document the CLI', body: 'Write docs/CLI.md.', createdAt: 1, skills: ['docs'] });
    const oldPath = 'OWP/Tasks/octo/app/octo-app-13 Document the CLI.md';
    const e = planSync(sync({ id: t13.id, task: t13, indexed: { path: oldPath, text: old, busy: false } }));
    const write = e.find((x) => x.kind === 'write')!;
    expect(write.kind === 'write' && readTaskNote(write.next).owned).toMatchObject({ task: 'octo/app#13', status: 'queued', tags: ['owp', 'owp/queued'] });
    expect(e).toContainEqual({ kind: 'move', from: oldPath, to: 'OWP/Tasks/octo/app/13 Document the CLI.md' });
  });

  it('archives a finished task once the days have passed, only from where the mirror put it', () => {
    const done: TaskRuntime = { ...leased, state: 'done', lease: undefined, updatedAt: NOW - 4 * DAY_MS };
    const indexed = { path: P, text: textFor(done), busy: false };
    expect(planSync(sync({ runtime: done, indexed, memory: memoryFor(done) }))).toContainEqual({ kind: 'move', from: P, to: 'OWP/Archive/octo/app/7 Seven.md' });
    expect(planSync(sync({ runtime: { ...done, updatedAt: NOW - DAY_MS }, indexed, memory: memoryFor(done) })).some((x) => x.kind === 'move')).toBe(false);
    expect(planSync(sync({ runtime: done, indexed: { ...indexed, path: 'Mine/seven.md' }, memory: memoryFor(done) })).some((x) => x.kind === 'move')).toBe(false);
    expect(planSync(sync({ runtime: done, indexed, memory: memoryFor(done), place: { ...place, archiveAfterDays: 0 } })).some((x) => x.kind === 'move')).toBe(false);
  });
});

describe('planSync on a note the mirror wrote itself', () => {
  const at = (text: string) => ({ path: P, text, busy: false });
  const remembered = (text: string, rt?: TaskRuntime): Memory => ({ ...memoryFor(rt), text });

  it('remembers the text it creates and writes', () => {
    const created = planSync(sync({}));
    expect(created).toContainEqual({ kind: 'remember', taskId: task.id, memory: remembered(textFor()) });
    const written = planSync(sync({ runtime: leased, indexed: at(textFor()), memory: remembered(textFor()) }));
    expect(written).toContainEqual({ kind: 'remember', taskId: task.id, memory: remembered(textFor(leased), leased) });
  });

  it('answers "nothing to write" for its own unchanged text without reading it again, and plans in full otherwise', () => {
    // A text the codec could not even parse: only the quick answer can accept it.
    const ours = textFor().replace('---\n', '---\nbroken: [\n');
    expect(planSync(sync({ indexed: at(ours), memory: remembered(ours) }))).toEqual([{ kind: 'remember', taskId: task.id, memory: remembered(ours) }]);
    expect(planSync(sync({ indexed: at(ours), memory: memoryFor() })).map((e) => e.kind)).toEqual(['complain']);
    // The ledger moved on: the full plan writes the new runtime values.
    const moved = planSync(sync({ runtime: leased, indexed: at(textFor()), memory: remembered(textFor()) }));
    expect(moved.find((e) => e.kind === 'write')).toMatchObject({ expected: textFor(), next: textFor(leased) });
    // The reader changed the note since: their text is kept, nothing is written for nothing.
    const mine = `${textFor()}My own line.\n`;
    expect(planSync(sync({ indexed: at(mine), memory: remembered(textFor()) })).map((e) => e.kind)).toEqual(['remember']);
    const update = planSync(sync({ runtime: leased, indexed: at(mine), memory: remembered(textFor()) })).find((e) => e.kind === 'write');
    expect(update).toMatchObject({ expected: mine });
    expect(update?.kind === 'write' && update.next.endsWith('My own line.\n')).toBe(true);
  });
});

describe('planNoteChange', () => {
  it('ignores its own echo', () => {
    expect(planNoteChange(change({ lastWritten: textFor() }))).toEqual([{ kind: 'echo', path: P }]);
  });

  it('puts runtime keys back with a notice that says why', () => {
    const e = planNoteChange(change({ text: textFor().replace('holder:\n', 'holder: mallory\n') }));
    expect(e).toContainEqual({ kind: 'notice', message: `OWP: holder in "${P}" is written by the relay from the ledger; put back.` });
    expect(e).toContainEqual({ kind: 'dirty', taskId: task.id });
    expect(e.some((x) => x.kind === 'board')).toBe(false);
  });

  it("sends a maintainer's valid edit (points, title, brief) to the board; refuses an invalid one", () => {
    const edited = textFor().replace('points: 2', 'points: 5').replace('- [ ] Seven', '- [ ] Seven, better').replace('Brief.', 'New brief.');
    expect(planNoteChange(change({ text: edited, canEditBoard: true }))).toContainEqual({ kind: 'board', taskId: task.id, patch: { points: 5, title: 'Seven, better', body: 'New brief.' } });
    const bad = planNoteChange(change({ text: textFor().replace('points: 2', 'points: 500'), canEditBoard: true }));
    expect(bad.some((x) => x.kind === 'board')).toBe(false);
    expect(bad.find((x) => x.kind === 'notice')).toMatchObject({ message: expect.stringMatching(/^OWP: ".*" was not sent: points .+ The note is put back\.$/) });
  });

  it("puts a contributor's edit back; a note never synced is brought up to date, not sent", () => {
    const edited = textFor().replace('points: 2', 'points: 5');
    expect(planNoteChange(change({ text: edited }))).toContainEqual({ kind: 'notice', message: `OWP: only maintainers can change points of a task; "${P}" was put back.` });
    const stale = planNoteChange(change({ text: edited, canEditBoard: true, memory: undefined }));
    expect(stale.some((x) => x.kind === 'board')).toBe(false);
    expect(stale).toContainEqual({ kind: 'dirty', taskId: task.id });
  });

  it("lets the reader change their own tags and keys freely", () => {
    const mine = textFor().replace('  - owp/queued\n', '  - owp/queued\n  - later\n').replace('task:', 'mine: yes\ntask:');
    expect(planNoteChange(change({ text: mine }))).toEqual([{ kind: 'index', taskId: task.id, path: P }]);
  });

  it('complains once about broken frontmatter in the tasks folder, and sends nothing', () => {
    const e = planNoteChange(change({ text: '---\npoints: [1,\n---\n' }));
    expect(e).toEqual([{ kind: 'complain', path: P, text: '---\npoints: [1,\n---\n', why: expect.stringMatching(/not valid YAML/) }]);
  });
});

describe('planGone', () => {
  it('archives a finished note whose task the relay no longer has, once due', () => {
    const done: TaskRuntime = { ...leased, state: 'done', lease: undefined, updatedAt: NOW - 10 * DAY_MS };
    const n = { path: P, text: textFor(done), busy: false };
    expect(planGone(place, n)).toEqual([{ kind: 'move', from: P, to: 'OWP/Archive/octo/app/7 Seven.md' }]);
    expect(planGone({ ...place, now: NOW - 9 * DAY_MS }, n)).toEqual([]);
    expect(planGone(place, { ...n, text: textFor(leased) })).toEqual([]);
  });
});
