import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
vi.mock('obsidian', () => import('../obsidian/index.js'));
import fs from 'node:fs';
import path from 'node:path';
import { startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';
import { makeVaultDir, mirrorIdle, openVault, socketLog, usePlatform, type TestVault } from '../helpers/plugin-vault.js';
import { readTaskNote } from '../../shared/notes/task-note.js';
import { Modal, noticeLog, happyWindow, type TFile } from '../obsidian/index.js';
import { DashboardView } from '../../plugin/views/dashboard-view.js';
import { clock } from '../helpers/plugin-vault.js';

usePlatform();

let relay: TestRelay;
let maint: string;
let bobToken: string;
let A: TestVault;
let B: TestVault;

const REPO = 'octo/app';
const notePath = (id: string, title: string) => `OWP/Tasks/octo/app/${id.split('#')[1]} ${title}.md`;
const noticesSince = (i: number) => noticeLog.slice(i).map((n) => n.message);

async function addTasks(tasks: Record<string, unknown>[]): Promise<void> {
  const r = await relay.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks: tasks.map((t) => ({ repo: REPO, ...t })) });
  expect(r.status).toBe(200);
}

beforeAll(async () => {
  relay = await startTestRelay();
  maint = await relay.token('maintainer');
  bobToken = await relay.token('worker', 'bob');
  expect((await relay.api(maint, 'PUT', '/api/repos/octo/app', { repo: REPO, reviewBudget: 50 })).status).toBe(200);
  await addTasks([
    { id: 'octo/app#1', title: 'First task', body: 'Do the first thing.', skills: ['ts'], points: 1 },
    { id: 'octo/app#2', title: 'Second task', body: 'Do the second thing.', skills: ['ts'], points: 1 },
  ]);
  A = await openVault(await makeVaultDir('a'), { relayUrl: relay.url, token: maint });
  B = await openVault(await makeVaultDir('b'), { relayUrl: relay.url, token: bobToken, skills: ['ts'], capacity: 5, maxConcurrent: 3 });
});

afterAll(async () => {
  await A?.close();
  await B?.close();
  await relay?.close();
});

describe('plugin against a real relay', () => {
  it('mirrors board tasks into one note per task in both vaults', async () => {
    for (const v of [A, B]) {
      await waitFor(() => v.app.vault.getFileByPath(notePath('octo/app#1', 'First task')), 15_000, 'note in vault');
      const note = readTaskNote(v.read(notePath('octo/app#1', 'First task')));
      expect(note.id).toBe('octo/app#1');
      expect(note.owned.status).toBe('queued');
      expect(note.brief).toBe('Do the first thing.');
    }
    expect(A.plugin.session!.identity.role).toBe('maintainer');
    expect(B.plugin.session!.identity.workerId).toBe('bob');
    // the contributor profile from the settings is published to the inbox, and follows edits
    const workers = async () => (await relay.api(maint, 'GET', '/api/workers')).body.workers as { profile: { id: string; skills: string[]; capacity: number } }[];
    await waitFor(async () => (await workers()).find((w) => w.profile?.id === 'bob')?.profile.capacity === 5, 15_000, 'profile on relay');
    B.plugin.settings.skills = ['ts', 'docs'];
    await B.plugin.saveSettings();
    await waitFor(async () => (await workers()).find((w) => w.profile?.id === 'bob')?.profile.skills.join() === 'ts,docs', 15_000, 'profile updated');
  });

  it("carries a maintainer's edit of a task note (points, brief) to the board and the other vault", async () => {
    const p = notePath('octo/app#1', 'First task');
    const file = A.app.vault.getFileByPath(p)!;
    const text = A.read(p);
    await A.app.vault.modify(file, text.replace('points: 1', 'points: 2').replace('Do the first thing.', 'Do the first thing, carefully.'));
    await waitFor(() => {
      const n = readTaskNote(B.read(p));
      return n.owned.points === 2 && n.brief === 'Do the first thing, carefully.';
    }, 15_000, 'edit reaches vault B');
    const r = await relay.api(maint, 'GET', `/api/tasks/${encodeURIComponent('octo/app#1')}`);
    expect(r.body.task.points).toBe(2);
    expect(r.body.task.body).toBe('Do the first thing, carefully.');
  });

  it("shows a contributor's claim as holder in the maintainer's note and dashboard; clicking opens the note", async () => {
    const p = notePath('octo/app#1', 'First task');
    const mark = noticeLog.length;
    await B.app.workspace.openLinkText(p, '', false);
    B.run('claim-this-task');
    await waitFor(() => readTaskNote(A.read(p)).owned.holder === 'bob', 15_000, 'holder in A');
    const a = readTaskNote(A.read(p)).owned;
    expect(a.status).toBe('leased');
    expect(a.tags).toEqual(['owp', 'owp/leased']);
    expect(typeof a.lease_expires).toBe('string');
    await waitFor(() => noticesSince(mark).some((m) => /claim granted: octo\/app#1/.test(m)), 15_000, 'granted notice');
    await waitFor(() => readTaskNote(B.read(p)).owned.holder === 'bob', 15_000, 'holder in B');
    await waitFor(() => /octo\/app#1/.test(B.app.statusBar.textContent ?? ''), 15_000, 'status bar shows the lease');
    expect(B.app.statusBar.textContent).toMatch(/OWP: connected · octo\/app#1 \d+h \d\dm/);
    // heartbeats ride on awareness: the relay extends the leases named here
    await waitFor(() => JSON.stringify(B.plugin.session!.client.awarenessState()) === JSON.stringify({ workerId: 'bob', leases: { 'octo/app#1': 1 } }), 15_000, 'awareness');

    const leaf = await A.plugin.openDashboard();
    const view = leaf.view as unknown as DashboardView;
    expect(view).toBeInstanceOf(DashboardView);
    const card = await waitFor(() => view.contentEl.querySelector<HTMLElement>('.owp-task[data-task-id="octo/app#1"]'), 15_000, 'card');
    await waitFor(() => /bob/.test(view.contentEl.querySelector('.owp-task[data-task-id="octo/app#1"] .owp-task-holder')?.textContent ?? ''), 15_000, 'holder on dashboard');
    // The worker's real capacity (the relay's public projection), not "1 / 0 points".
    await waitFor(() => view.contentEl.querySelector('[data-worker-id="bob"] .owp-capacity')?.getAttribute('aria-valuemax') === '5', 15_000, 'capacity on dashboard');
    // countdowns tick once a second (registerInterval) as the clock moves
    const countdownText = () => view.contentEl.querySelector('.owp-task[data-task-id="octo/app#1"] [data-expires-at]')?.textContent;
    const before = countdownText();
    expect(before).toMatch(/^\d+h \d\dm$/);
    clock.offset += 30 * 60_000;
    try {
      await waitFor(() => countdownText() !== before, 15_000, 'countdown ticks');
    } finally {
      clock.offset = 0;
    }
    card.dispatchEvent(new happyWindow.MouseEvent('click', { bubbles: true }) as unknown as Event);
    await waitFor(() => A.app.workspace.getActiveFile()?.path === p, 15_000, 'note opened from dashboard');
  });

  it('puts back a runtime key edited by hand, with a notice saying why', async () => {
    const p = notePath('octo/app#1', 'First task');
    const mark = noticeLog.length;
    await A.app.fileManager.processFrontMatter(A.app.vault.getFileByPath(p)!, (fm) => {
      fm.holder = 'mallory';
      fm.status = 'done';
    });
    await waitFor(() => noticesSince(mark).some((m) => /status, holder in ".*First task\.md" are written by the relay/.test(m)), 15_000, 'notice');
    await waitFor(() => {
      const o = readTaskNote(A.read(p)).owned;
      return o.holder === 'bob' && o.status === 'leased';
    }, 15_000, 'put back');
  });

  it("puts back a contributor's edit of a descriptive key; the board keeps the maintainer's value", async () => {
    const p = notePath('octo/app#1', 'First task');
    const mark = noticeLog.length;
    const file = B.app.vault.getFileByPath(p)!;
    await B.app.vault.modify(file, B.read(p).replace('points: 2', 'points: 9'));
    await waitFor(() => noticesSince(mark).some((m) => /only maintainers can change points/.test(m)), 15_000, 'notice');
    await waitFor(() => readTaskNote(B.read(p)).owned.points === 2, 15_000, 'put back');
    expect((await relay.api(maint, 'GET', `/api/tasks/${encodeURIComponent('octo/app#1')}`)).body.task.points).toBe(2);
  });

  it("keeps unknown keys and the reader's section byte for byte, and moves the note when the title changes", async () => {
    const p = notePath('octo/app#1', 'First task');
    const file = B.app.vault.getFileByPath(p)!;
    const mine = B.read(p).replace('pr:\n', 'pr:\ncustom: [x,   y]   # mine\nwhen: 2024-01-02\n') + 'My own **thoughts**.\r\n\n- [ ] ask alice\n';
    await B.app.vault.modify(file, mine);
    const r = await relay.api(maint, 'PATCH', `/api/tasks/${encodeURIComponent('octo/app#1')}`, { title: 'First task renamed', priority: 5 });
    expect(r.status).toBe(200);
    const moved = notePath('octo/app#1', 'First task renamed');
    await waitFor(() => B.app.vault.getFileByPath(moved), 15_000, 'note moved');
    const after = B.read(moved);
    expect(after).toBe(mine.replace('- [ ] First task\n', '- [ ] First task renamed\n').replace('priority: 0\n', 'priority: 5\n'));
    expect(B.app.vault.getFileByPath(p)).toBeNull();
  });

  it("does not rewrite a note while the user is typing in it, and keeps the typed text", async () => {
    const p = notePath('octo/app#1', 'First task renamed');
    await B.app.workspace.openLinkText(p, '', false);
    const typed = B.read(p) + 'typing...\n';
    await B.app.workspace.typeInActiveNote(typed);
    await relay.api(maint, 'PATCH', `/api/tasks/${encodeURIComponent('octo/app#1')}`, { priority: 7 });
    const mirror = B.plugin.session!.mirror;
    await waitFor(() => mirror.task('octo/app#1')?.priority === 7, 15_000, 'board change reached B');
    await mirror.flush();
    expect(mirror.pending()).toBe(1);
    expect(B.read(p)).toBe(typed);
    clock.offset += 60_000; // the user stopped typing a minute ago
    try {
      await waitFor(() => readTaskNote(B.read(p)).owned.priority === 7, 15_000, 'deferred write');
    } finally {
      clock.offset = 0;
    }
    expect(B.read(p)).toBe(typed.replace('priority: 5\n', 'priority: 7\n'));
  });

  it('reports malformed frontmatter, leaves the note untouched and sends nothing from it', async () => {
    const p = notePath('octo/app#2', 'Second task');
    const file = A.app.vault.getFileByPath(p)!;
    const good = A.read(p);
    const bad = good.replace('points: 1', 'points: [1,').replace('Do the second thing.', 'Changed brief.');
    const mark = noticeLog.length;
    await A.app.vault.modify(file, bad);
    await waitFor(() => noticesSince(mark).some((m) => m.includes(`"${p}" was left as it is and nothing was sent from it`)), 15_000, 'notice');
    await relay.api(maint, 'PATCH', `/api/tasks/${encodeURIComponent('octo/app#2')}`, { priority: 3 });
    await waitFor(() => readTaskNote(B.read(p)).owned.priority === 3, 15_000, 'B got the patch');
    await mirrorIdle(A);
    expect(A.read(p)).toBe(bad);
    expect((await relay.api(maint, 'GET', `/api/tasks/${encodeURIComponent('octo/app#2')}`)).body.task.body).toBe('Do the second thing.');
    await A.app.vault.modify(file, good);
    await waitFor(() => readTaskNote(A.read(p)).owned.priority === 3, 15_000, 'A catches up once fixed');
  });

  it('claims while offline; the claim waits in the inbox and is arbitrated on reconnect', async () => {
    const p = notePath('octo/app#2', 'Second task');
    const client = B.plugin.session!.client;
    client.disconnect();
    await waitFor(() => client.status === 'offline', 15_000, 'offline');
    const mark = noticeLog.length;
    await B.app.workspace.openLinkText(p, '', false);
    B.run('claim-this-task');
    await waitFor(() => noticesSince(mark).some((m) => /offline\. The claim waits in your inbox/.test(m)), 15_000, 'offline notice');
    await waitFor(() => /OWP: offline · 1 pending/.test(B.app.statusBar.textContent ?? ''), 15_000, 'pending in status bar');
    expect(readTaskNote(B.read(p)).owned.holder).toBeNull();
    client.reconnect();
    await waitFor(() => readTaskNote(B.read(p)).owned.holder === 'bob', 15_000, 'claim arbitrated');
    await waitFor(() => noticesSince(mark).some((m) => /claim granted: octo\/app#2/.test(m)), 15_000, 'granted notice');
    await waitFor(() => readTaskNote(A.read(p)).owned.holder === 'bob', 15_000, 'A sees it');
  });

  it('keeps an offline claim across a plugin restart and sends it when connected', async () => {
    await addTasks([{ id: 'octo/app#3', title: 'Third task', skills: ['ts'] }]);
    const p = notePath('octo/app#3', 'Third task');
    await waitFor(() => B.app.vault.getFileByPath(p), 15_000, 'note 3 in B');
    B.plugin.session!.client.disconnect();
    await B.app.workspace.openLinkText(p, '', false);
    B.run('claim-this-task');
    await waitFor(() => B.plugin.session!.client.pendingIntents().length === 1, 15_000, 'pending intent');
    await B.restart();
    await waitFor(() => readTaskNote(B.read(p)).owned.holder === 'bob', 15_000, 'claim sent after restart');
  });

  it('releases a task and submits a pull request link through the modal', async () => {
    const p3 = notePath('octo/app#3', 'Third task');
    await B.app.workspace.openLinkText(p3, '', false);
    B.run('release-task');
    await waitFor(() => readTaskNote(A.read(p3)).owned.status === 'queued', 15_000, 'released');
    const p2 = notePath('octo/app#2', 'Second task');
    await B.app.workspace.openLinkText(p2, '', false);
    B.run('submit-pull-request');
    const modal = Modal.opened[Modal.opened.length - 1]!;
    const input = modal.contentEl.querySelector('input')!;
    input.value = 'https://github.com/octo/app/pull/7';
    input.dispatchEvent(new happyWindow.Event('input') as unknown as Event);
    modal.contentEl.querySelector('button')!.dispatchEvent(new happyWindow.MouseEvent('click') as unknown as Event);
    await waitFor(() => readTaskNote(A.read(p2)).owned.pr === 'https://github.com/octo/app/pull/7', 15_000, 'PR in note');
    expect(readTaskNote(A.read(p2)).owned.status).toBe('pr_open');
  });

  it('never deletes a task because its note was deleted; the note comes back only with Restore task note', async () => {
    const p = notePath('octo/app#3', 'Third task');
    const mark = noticeLog.length;
    await B.app.vault.delete(B.app.vault.getFileByPath(p) as TFile);
    await waitFor(() => noticesSince(mark).some((m) => /The task stays on the board; run "Restore task note"/.test(m)), 15_000, 'notice');
    expect((await relay.api(maint, 'GET', `/api/tasks/${encodeURIComponent('octo/app#3')}`)).status).toBe(200);
    await relay.api(maint, 'PATCH', `/api/tasks/${encodeURIComponent('octo/app#3')}`, { priority: 9 });
    await waitFor(() => readTaskNote(A.read(p)).owned.priority === 9, 15_000, 'A updated');
    await waitFor(() => B.plugin.session!.mirror.task('octo/app#3')?.priority === 9, 15_000, 'B got the change');
    await mirrorIdle(B);
    expect(B.app.vault.getFileByPath(p)).toBeNull();
    await B.restart(); // suppression survives a restart (data.json)
    await mirrorIdle(B);
    expect(B.app.vault.getFileByPath(p)).toBeNull();
    B.run('restore-task-note');
    await waitFor(() => B.app.vault.getFileByPath(p), 15_000, 'restored');
    expect(readTaskNote(B.read(p)).owned.priority).toBe(9);
  });

  it('creates a task from a note (maintainers) and refuses it for contributors', async () => {
    await A.app.vault.createFolder('Ideas');
    const file = await A.app.vault.create('Ideas/Better errors.md', '---\nrepo: octo/app\npoints: 2\ntags: [idea]\n---\nMake the parser errors name the line.\n');
    await A.app.workspace.getLeaf(false).openFile(file);
    const mark = noticeLog.length;
    A.run('create-task-from-note');
    const created = await waitFor(() => noticesSince(mark).find((m) => /task (.+) created from this note/.test(m)), 15_000, 'created');
    const id = /task (.+) created from this note/.exec(created)![1]!;
    const r = await relay.api(maint, 'GET', `/api/tasks/${encodeURIComponent(id)}`);
    expect(r.status).toBe(200);
    expect(r.body.task).toMatchObject({ repo: 'octo/app', title: 'Better errors', points: 2, body: 'Make the parser errors name the line.', source: 'obsidian' });
    const note = readTaskNote(A.read('Ideas/Better errors.md'));
    expect(note.id).toBe(id);
    expect(note.data.tags).toEqual(['owp', 'owp/queued', 'idea']);
    expect(note.line).toEqual({ mark: ' ', title: 'Better errors' });
    await waitFor(() => B.app.vault.getFileByPath(`OWP/Tasks/octo/app/${id.split('#')[1]} Better errors.md`), 15_000, 'B got a note');
    expect(A.app.vault.getMarkdownFiles().filter((f) => f.path.includes('Better errors')).length).toBe(1);

    const other = await B.app.vault.create('Mine.md', '---\nrepo: octo/app\n---\nx\n');
    await B.app.workspace.getLeaf(false).openFile(other);
    // Not offered to a contributor (checkCallback), and refused if run anyway (a stale palette).
    expect(B.available()).not.toContain('create-task-from-note');
    expect(A.available()).not.toContain('create-task-from-note'); // A's open note already is a task
    expect(() => B.run('create-task-from-note')).toThrow(/not available/);
  });

  it('stops reconnecting when the relay closes with 44xx (revoked token) and says why', async () => {
    const created = await relay.api(relay.adminToken, 'POST', '/api/tokens', { role: 'worker', workerId: 'carol' });
    expect(created.status).toBe(201);
    const C = await openVault(await makeVaultDir('c'), { relayUrl: relay.url, token: created.body.token, skills: ['ts'] });
    try {
      const client = C.plugin.session!.client;
      await waitFor(() => client.status === 'connected', 15_000, 'connected');
      const mark = noticeLog.length;
      expect((await relay.api(relay.adminToken, 'DELETE', `/api/tokens/${created.body.id}`)).status).toBe(200);
      await waitFor(() => client.status === 'stopped', 15_000, 'stopped');
      await waitFor(() => noticesSince(mark).some((m) => /stopped connecting to the relay: .*Fix the settings and run "Reconnect"/.test(m)), 15_000, 'notice');
      const stopped = noticesSince(mark).filter((m) => /stopped connecting/.test(m));
      expect(stopped).toEqual([
        expect.stringMatching(/^OWP: stopped connecting to the relay: this token was revoked\. Ask the pool admin for a new one\. \(close code 4410\)\. The relay said: ".+"\. Fix the settings and run "Reconnect"\.$/),
      ]);
      await waitFor(() => /OWP: stopped/.test(C.app.statusBar.textContent ?? ''), 15_000, 'status bar');
      // No reconnect attempts: without the stop, y-websocket retries within 200 ms of a close.
      const mine = () => socketLog.filter((u) => u.includes(encodeURIComponent(created.body.token))).length;
      const attempts = mine();
      expect(attempts).toBe(3); // board, ledger, inbox: once each
      await new Promise((r) => setTimeout(r, 1500));
      expect(mine()).toBe(attempts);
      expect(client.status).toBe('stopped');
      // "Reconnect" tries again, is refused again, and says so again.
      const mark2 = noticeLog.length;
      C.plugin.session!.client.reconnect();
      await waitFor(() => noticesSince(mark2).some((m) => /stopped connecting to the relay: .*close code 4410/.test(m)), 15_000, 'notice after Reconnect');
      expect(mine()).toBeGreaterThan(attempts);
    } finally {
      await C.close();
    }
  });

  it('cancels a task only through the explicit maintainer command; the note stays and shows it', async () => {
    await addTasks([{ id: 'octo/app#4', title: 'Fourth task' }]);
    const p = notePath('octo/app#4', 'Fourth task');
    await waitFor(() => A.app.vault.getFileByPath(p), 15_000, 'note 4 in A');
    await A.app.workspace.openLinkText(p, '', false);
    const mark = noticeLog.length;
    A.run('cancel-task');
    const modal = Modal.opened[Modal.opened.length - 1]!;
    const input = modal.contentEl.querySelector('input')!;
    input.value = 'Duplicate of #2';
    input.dispatchEvent(new happyWindow.Event('input') as unknown as Event);
    modal.contentEl.querySelector('button')!.dispatchEvent(new happyWindow.MouseEvent('click') as unknown as Event);
    await waitFor(() => noticesSince(mark).some((m) => /cancel done: octo\/app#4/.test(m)), 15_000, 'cancel notice');
    await waitFor(() => readTaskNote(B.read(p)).owned.status === 'cancelled', 15_000, 'B shows cancelled');
    expect(A.app.vault.getFileByPath(p)).not.toBeNull();
  });

  it('claims the next matching task, and reports a refused claim with its code and reason', async () => {
    await addTasks([
      { id: 'octo/app#5', title: 'Fifth task', skills: ['ts'], priority: 50 },
      { id: 'octo/app#6', title: 'Rust task', skills: ['rust'] },
    ]);
    const p6 = notePath('octo/app#6', 'Rust task');
    await waitFor(() => B.app.vault.getFileByPath(p6), 15_000, 'note 6 in B');
    const mark = noticeLog.length;
    B.run('claim-next-task');
    await waitFor(() => noticesSince(mark).some((m) => /claim next granted: octo\/app#5/.test(m)), 15_000, 'claim next granted');
    await waitFor(() => readTaskNote(A.read(notePath('octo/app#5', 'Fifth task'))).owned.holder === 'bob', 15_000, 'A sees #5');
    await B.app.workspace.openLinkText(p6, '', false);
    B.run('claim-this-task');
    await waitFor(() => noticesSince(mark).some((m) => /claim refused for octo\/app#6 \(skill-mismatch\): .+/.test(m)), 15_000, 'refusal notice');
    expect(readTaskNote(B.read(p6)).owned.holder).toBeNull();
  });

  it('does not bring back notes deleted while Obsidian was closed, and finds notes moved out of the tasks folder', async () => {
    const p5 = notePath('octo/app#5', 'Fifth task');
    const p6 = notePath('octo/app#6', 'Rust task');
    await waitFor(() => B.app.vault.getFileByPath(p5) && B.app.vault.getFileByPath(p6), 15_000, 'notes 5 and 6');
    B.plugin.unload();
    await B.plugin.closing;
    fs.rmSync(path.join(B.dir, p5));
    fs.mkdirSync(path.join(B.dir, 'Elsewhere'), { recursive: true });
    fs.renameSync(path.join(B.dir, p6), path.join(B.dir, 'Elsewhere/rust.md'));
    const mark = noticeLog.length;
    await B.restart();
    await mirrorIdle(B);
    expect(noticesSince(mark).some((m) => /1 task note was deleted while Obsidian was closed \(octo\/app#5\)/.test(m))).toBe(true);
    expect(B.app.vault.getFileByPath(p5)).toBeNull();
    expect(B.app.vault.getFileByPath(p6)).toBeNull(); // no duplicate: the moved note is still the task's note
    await relay.api(maint, 'PATCH', `/api/tasks/${encodeURIComponent('octo/app#6')}`, { priority: 11 });
    await waitFor(() => readTaskNote(B.read('Elsewhere/rust.md')).owned.priority === 11, 15_000, 'moved note updated');
    B.run('restore-task-note');
    await waitFor(() => B.app.vault.getFileByPath(p5), 15_000, 'restored note 5');
  });
});
