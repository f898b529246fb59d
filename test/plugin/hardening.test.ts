/**
 * The plugin against hostile or unusual vault content, through the real plugin, the Obsidian
 * double and a real relay: `---js` frontmatter, huge notes and 10,000 frontmatter keys, and a
 * changed tasks folder.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
vi.mock('obsidian', () => import('../obsidian/index.js'));
import fs from 'node:fs';
import path from 'node:path';
import { startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';
import { makeVaultDir, mirrorIdle, openVault, usePlatform, type TestVault } from '../helpers/plugin-vault.js';
import { readTaskNote } from '../../shared/notes/task-note.js';
import { noticeLog } from '../obsidian/index.js';

usePlatform();

let relay: TestRelay;
let maint: string;
let A: TestVault;
const REPO = 'octo/hard';
const notePath = (n: number, title: string, folder = 'OWP/Tasks') => `${folder}/octo/hard/${n} ${title}.md`;
const noticesSince = (i: number) => noticeLog.slice(i).map((n) => n.message);
const getTask = async (n: number) => (await relay.api(maint, 'GET', `/api/tasks/${encodeURIComponent(`${REPO}#${n}`)}`)).body.task;
const patch = async (n: number, body: Record<string, unknown>) =>
  expect((await relay.api(maint, 'PATCH', `/api/tasks/${encodeURIComponent(`${REPO}#${n}`)}`, body)).status).toBe(200);
const g = globalThis as Record<string, unknown>;

beforeAll(async () => {
  relay = await startTestRelay();
  maint = await relay.token('maintainer');
  expect((await relay.api(maint, 'PUT', `/api/repos/${REPO}`, { repo: REPO })).status).toBe(200);
  const tasks = [1, 2, 3].map((n) => ({ id: `${REPO}#${n}`, repo: REPO, title: `Task ${n}`, body: `Brief ${n}.` }));
  expect((await relay.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks })).status).toBe(200);
  A = await openVault(await makeVaultDir('hard'), { relayUrl: relay.url, token: maint });
  for (const n of [1, 2, 3]) await waitFor(() => A.app.vault.getFileByPath(notePath(n, `Task ${n}`)), 15_000, `note ${n}`);
});

afterAll(async () => {
  await A?.close();
  await relay?.close();
});

describe('plugin hardening', () => {
  it('refuses a task note with ---js frontmatter without evaluating it: nothing sent, note untouched', async () => {
    const p = notePath(1, 'Task 1');
    const good = A.read(p);
    const evil = "---js\n{ task: 'octo/hard#1', repo: 'octo/hard', title: (globalThis.owpJsEvaluated = 'title'), points: 9 }\n---\n<!-- owp:brief:start -->\nEvil brief\n<!-- owp:brief:end -->\n";
    const mark = noticeLog.length;
    await A.app.vault.modify(A.app.vault.getFileByPath(p)!, evil);
    await waitFor(() => noticesSince(mark).some((m) => m.includes(`"${p}" was left as it is and nothing was sent from it: JavaScript frontmatter (---js) is not allowed`)), 15_000, 'notice');
    await patch(1, { priority: 4 }); // a board change must not overwrite the note either
    await waitFor(() => A.plugin.session!.mirror.task(`${REPO}#1`)?.priority === 4, 15_000, 'board change arrived');
    await mirrorIdle(A);
    expect(A.read(p)).toBe(evil);
    const t = await getTask(1);
    expect([t.title, t.points, t.body]).toEqual(['Task 1', 1, 'Brief 1.']);

    // "Create task from this note" refuses it too
    await A.app.vault.createFolder('Ideas');
    const idea = await A.app.vault.create('Ideas/evil.md', "---js\n{ repo: 'octo/hard', x: (globalThis.owpJsEvaluated = 'create') }\n---\nbody\n");
    await A.app.workspace.getLeaf(false).openFile(idea);
    const before = (await relay.api(maint, 'GET', '/api/tasks')).body.tasks.length;
    const mark2 = noticeLog.length;
    A.run('create-task-from-note');
    await waitFor(() => noticesSince(mark2).some((m) => /"Ideas\/evil\.md" was not used: JavaScript frontmatter/.test(m)), 15_000, 'refused');
    expect((await relay.api(maint, 'GET', '/api/tasks')).body.tasks.length).toBe(before);
    expect(g.owpJsEvaluated).toBeUndefined();

    // Obsidian restarted with the note still broken: it is not taken for deleted, no second
    // note is made, the notice names it again, nothing runs.
    const mark3 = noticeLog.length;
    await A.restart();
    await mirrorIdle(A);
    const said = noticesSince(mark3);
    expect(said.some((m) => m.includes(`"${p}" was left as it is and nothing was sent from it: JavaScript frontmatter`))).toBe(true);
    expect(said.filter((m) => /deleted while Obsidian was closed/.test(m))).toEqual([]);
    expect(A.plugin.settings.suppressed).toEqual([]);
    expect(A.app.vault.getMarkdownFiles().filter((f) => f.path.includes('hard/1 ')).map((f) => f.path)).toEqual([p]);
    expect(A.read(p)).toBe(evil);
    expect(g.owpJsEvaluated).toBeUndefined();

    // fixed (with the old text, from before the board changed): the note catches up, and its
    // stale priority is not taken for an edit that would undo the board's change
    const mark4 = noticeLog.length;
    await A.app.vault.modify(A.app.vault.getFileByPath(p)!, good);
    await waitFor(() => readTaskNote(A.read(p)).owned.priority === 4, 15_000, 'caught up');
    expect(noticesSince(mark4)).toContain(`OWP: "${p}" could not be read before, so it was brought up to date from the board instead of being sent (priority). Make your change again if you meant one.`);
    expect((await getTask(1)).priority).toBe(4);
  });

  it('keeps syncing a note with 10,000 frontmatter keys and a 3 MB body, byte for byte', async () => {
    const p = notePath(2, 'Task 2');
    let keys = '';
    for (let i = 0; i < 10_000; i++) keys += `my_key_${i}: value ${i}\n`;
    const body = `\n## My notes\n\n${'A long line of my own notes. '.repeat(100_000)}\n`;
    const big = A.read(p).replace('pr:\n', `pr:\n${keys}`) + body;
    await A.app.vault.modify(A.app.vault.getFileByPath(p)!, big);
    await patch(2, { priority: 6 });
    await waitFor(() => A.read(p).includes('priority: 6\n'), 30_000, 'big note updated');
    await mirrorIdle(A); // the head of a 3 MB write shows before its tail: let the write finish
    expect(A.read(p)).toBe(big.replace('priority: 0\n', 'priority: 6\n'));
    // and an edit in it reaches the board
    await A.app.vault.modify(A.app.vault.getFileByPath(p)!, A.read(p).replace('points: 1\n', 'points: 5\n'));
    await waitFor(async () => (await getTask(2)).points === 5, 30_000, 'edit from the big note');

    // frontmatter over 1 MB is refused with a notice and left alone
    const p3 = notePath(3, 'Task 3');
    const huge = A.read(p3).replace('pr:\n', `pr:\nblob: ${'x'.repeat(1_100_000)}\n`);
    const mark = noticeLog.length;
    await A.app.vault.modify(A.app.vault.getFileByPath(p3)!, huge);
    await waitFor(() => noticesSince(mark).some((m) => m.includes(`"${p3}" was left as it is`) && /larger than 1 MB/.test(m)), 30_000, 'too large notice');
    await patch(3, { priority: 2 });
    await waitFor(() => A.plugin.session!.mirror.task(`${REPO}#3`)?.priority === 2, 15_000, 'board change arrived');
    await mirrorIdle(A);
    expect(A.read(p3)).toBe(huge);
    await A.app.vault.modify(A.app.vault.getFileByPath(p3)!, huge.replace(/blob: x+\n/, ''));
    await waitFor(() => readTaskNote(A.read(p3)).owned.priority === 2, 15_000, 'caught up');
  });

  it('a new tasks folder moves no note and loses none: old notes stay and sync, new ones go to the new folder', async () => {
    const p3 = notePath(3, 'Task 3');
    fs.appendFileSync(path.join(A.dir, p3), 'Mine, keep this.\n');
    await waitFor(() => A.app.vault.getFileByPath(p3) && A.read(p3).endsWith('Mine, keep this.\n'), 15_000, 'own text');
    await mirrorIdle(A);
    const tab = A.app.setting.tabs[0]!;
    tab.display();
    const item = [...tab.containerEl.querySelectorAll('.setting-item')].find((el) => el.querySelector('.setting-item-name')?.textContent === 'Tasks folder')!;
    const input = item.querySelector('input')!;
    for (const typed of ['W', 'Wo', 'Work', 'Work/', 'Work/Pool']) {
      input.value = typed; // typed one key at a time: every keystroke saves
      input.dispatchEvent(new (input.ownerDocument.defaultView as unknown as { Event: typeof Event }).Event('input'));
    }
    await waitFor(() => JSON.parse(fs.readFileSync(path.join(A.dir, '.obsidian/plugins/owp-pool/data.json'), 'utf8')).tasksFolder === 'Work/Pool', 15_000, 'saved');
    // Before Reconnect nothing changes: a title change renames the note where it is.
    await patch(3, { title: 'Task three' });
    const renamed = notePath(3, 'Task three');
    await waitFor(() => A.app.vault.getFileByPath(renamed), 15_000, 'renamed in place');
    expect(A.app.vault.getAbstractFileByPath('Work')).toBeNull();
    expect(A.read(renamed).endsWith('Mine, keep this.\n')).toBe(true);

    const before = new Map(A.app.vault.getMarkdownFiles().map((f) => [f.path, A.read(f.path)]));
    const mark = noticeLog.length;
    A.run('reconnect');
    await A.plugin.ready;
    await mirrorIdle(A);
    expect(noticesSince(mark)).toContain(
      'OWP: the tasks folder is now "Work/Pool". The 3 existing task notes stay in "OWP/Tasks" and keep syncing; new task notes go to "Work/Pool". Move them yourself if you like: the plugin finds them by their task property.',
    );
    const after = new Map(A.app.vault.getMarkdownFiles().map((f) => [f.path, A.read(f.path)]));
    expect(after).toEqual(before); // nothing moved, nothing made, nothing lost
    expect(A.plugin.settings.suppressed).toEqual([]);

    await patch(3, { priority: 8, title: 'Task 3 again' });
    await waitFor(() => readTaskNote(A.read(renamed)).owned.priority === 8, 15_000, 'old-folder note syncs');
    expect(readTaskNote(A.read(renamed)).line?.title).toBe('Task 3 again'); // retitled, not moved
    expect(A.read(renamed).endsWith('Mine, keep this.\n')).toBe(true);
    expect((await relay.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id: `${REPO}#4`, repo: REPO, title: 'Task 4' }] })).status).toBe(200);
    await waitFor(() => A.app.vault.getFileByPath(notePath(4, 'Task 4', 'Work/Pool')), 15_000, 'new note in the new folder');
    expect(A.app.vault.getMarkdownFiles().filter((f) => f.path.startsWith('Work/Pool/')).map((f) => f.path)).toEqual([notePath(4, 'Task 4', 'Work/Pool')]);

    // a restart says nothing more and still moves nothing
    const mark2 = noticeLog.length;
    await A.restart();
    await mirrorIdle(A);
    expect(noticesSince(mark2).filter((m) => /tasks folder is now/.test(m))).toEqual([]);
    expect(A.app.vault.getFileByPath(renamed)).not.toBeNull();
    expect(A.app.vault.getMarkdownFiles().filter((f) => f.path.startsWith('Work/Pool/')).length).toBe(1);
  });
});
