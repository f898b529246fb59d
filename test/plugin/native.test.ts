/**
 * Notes that feel native, on the Obsidian double against a real relay: migration of a vault
 * written by plugin 0.1.0, properties and tags, the task line, archiving, every command
 * (only where it applies, each ending in a notice), the "My tasks" view, the token in
 * secret storage.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
vi.mock('obsidian', () => import('../obsidian/index.js'));
import fs from 'node:fs';
import path from 'node:path';
import { startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';
import { clock, makeVaultDir, mirrorIdle, openVault, savedData, usePlatform, type TestVault } from '../helpers/plugin-vault.js';
import { readTaskNote } from '../../shared/notes/task-note.js';
import { Modal, appFeatures, happyWindow, noticeLog, secretStore } from '../obsidian/index.js';
import { MyTasksView } from '../../plugin/views/my-tasks-view.js';

usePlatform();

let relay: TestRelay;
let maint: string;
let M: TestVault;
let W: TestVault;
const opened: TestVault[] = [];
const REPO = 'octo/app';
const note = (n: number, title: string, folder = 'OWP/Tasks') => `${folder}/octo/app/${n} ${title}.md`;
const since = (i: number) => noticeLog.slice(i).map((n) => n.message);
const saidSince = (i: number, re: RegExp) => waitFor(() => since(i).find((m) => re.test(m)), 15_000, `notice ${re}`);
const runtime = async (n: number) => (await relay.api(maint, 'GET', `/api/tasks/${encodeURIComponent(`${REPO}#${n}`)}`)).body.runtime;

async function answerPrompt(value: string): Promise<void> {
  const modal = await waitFor(() => Modal.opened[Modal.opened.length - 1], 5_000, 'prompt');
  const input = modal.contentEl.querySelector('input')!;
  input.value = value;
  input.dispatchEvent(new happyWindow.Event('input') as unknown as Event);
  modal.contentEl.querySelector('button')!.dispatchEvent(new happyWindow.MouseEvent('click') as unknown as Event);
}

async function open(v: TestVault, p: string): Promise<void> {
  await v.app.workspace.openLinkText(p, '', false);
  await waitFor(() => v.app.metadataCache.getFileCache(v.app.vault.getFileByPath(p)!)?.frontmatter, 5_000, 'metadata');
}

/** Opens task note `n` in W, claims it from the note and waits until the lease command `next` is offered. */
async function claimFromNote(n: number, title: string, next: string): Promise<string> {
  const p = note(n, title);
  await open(W, p);
  await waitFor(() => W.available().includes('claim-this-task'), 15_000, `claim of #${n} offered`);
  const mark = noticeLog.length;
  W.run('claim-this-task');
  await saidSince(mark, new RegExp(`claim granted: octo/app#${n}\\b`));
  await waitFor(() => W.available().includes(next), 15_000, `${next} offered`);
  return p;
}

beforeAll(async () => {
  relay = await startTestRelay();
  maint = await relay.token('maintainer');
  expect((await relay.api(maint, 'PUT', '/api/repos/octo/app', { repo: REPO, reviewBudget: 50 })).status).toBe(200);
  const tasks = [
    { id: 'octo/app#12', title: 'Name the line in parser errors', body: 'Parser errors say "unexpected token".', skills: ['ts'], points: 2, area: 'src/parser/', issueUrl: 'https://github.com/octo/app/issues/12' },
    { id: 'octo/app#13', title: 'Document the CLI', body: 'Write docs/CLI.md.', skills: ['docs'], points: 1, area: 'docs/' },
    { id: 'octo/app#20', title: 'Twenty', body: 'b', skills: ['ts'], area: 'a/' },
    { id: 'octo/app#21', title: 'Twenty-one', body: 'b', skills: ['ts'], area: 'b/' },
    { id: 'octo/app#22', title: 'Twenty-two', body: 'b', skills: ['ts'], area: 'c/' },
  ];
  expect((await relay.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks: [...tasks.map((t) => ({ repo: REPO, ...t })), { id: 'octo/hello:readme-typo', repo: 'octo/hello', title: 'Fix the typos in the README.md', body: 'Typos.', skills: ['docs'] }] })).status).toBe(200);
  M = await openVault(await makeVaultDir('maint'), { relayUrl: relay.url, token: maint, archiveAfterDays: 1 });
  W = await openVault(await makeVaultDir('worker'), { relayUrl: relay.url, token: await relay.token('worker', 'wendy'), skills: ['ts', 'docs'], capacity: 10, maxConcurrent: 5 });
  opened.push(M, W);
});

afterAll(async () => {
  for (const v of opened) await v.close();
  await relay?.close();
});

describe('a vault written by plugin 0.1.0', () => {
  it("migrates on first load: new names and properties, the reader's keys, tags and section kept, nothing duplicated", async () => {
    const dir = await makeVaultDir('old');
    const fixture = path.join(import.meta.dirname, '../fixtures/vault-0.1.0');
    for (const part of ['.obsidian', 'OWP']) fs.cpSync(path.join(fixture, part), path.join(dir, part), { recursive: true });
    const oldPath = 'OWP/Tasks/octo/app/octo-app-12 Name the line in parser errors.md';
    const oldText = fs.readFileSync(path.join(dir, oldPath), 'utf8');
    const mark = noticeLog.length;
    const F = await openVault(dir, { relayUrl: relay.url, token: await relay.token('worker', 'alice') });
    opened.push(F);
    await mirrorIdle(F);
    const p = note(12, 'Name the line in parser errors');
    const text = F.read(p);
    expect(F.app.vault.getFileByPath(oldPath)).toBeNull();
    expect(text).not.toMatch(/owp_/);
    const n = readTaskNote(text);
    expect(n.id).toBe('octo/app#12');
    expect(n.owned).toMatchObject({ task: 'octo/app#12', repo: REPO, status: 'queued', holder: null, points: 2, skills: ['ts'], area: 'src/parser/', issue: 'https://github.com/octo/app/issues/12', tags: ['owp', 'owp/queued', 'parser'] });
    expect(n.line).toEqual({ mark: ' ', title: 'Name the line in parser errors' });
    // the reader's own keys: `status` renamed (value kept), the rest byte for byte
    expect(n.data.my_status).toBe('my own status');
    expect(text).toContain('\nreviewed: false   # mine\n');
    expect(text.endsWith(oldText.slice(oldText.indexOf('<!-- owp:brief:start -->')))).toBe(true);
    expect(since(mark)).toContain(`OWP: "${oldPath}" moved to the new note format. Your own property was renamed to make room: status -> my_status.`);
    // the other notes too, and nothing was made twice or taken for deleted
    expect(F.app.vault.getMarkdownFiles().map((f) => f.path).sort()).toEqual([note(12, 'Name the line in parser errors'), note(13, 'Document the CLI'), note(20, 'Twenty'), note(21, 'Twenty-one'), note(22, 'Twenty-two'), 'OWP/Tasks/octo/hello/readme-typo Fix the typos in the README.md.md'].sort());
    expect(since(mark).filter((m) => /deleted while Obsidian was closed/.test(m))).toEqual([]);
    // the token moved out of data.json into the app's secret storage
    // (the plugin saves in the background: wait for the save that notes every task)
    const noted = ['octo/app#12', 'octo/app#13', 'octo/hello:readme-typo'];
    const data = await waitFor(() => {
      const d = JSON.parse(fs.readFileSync(path.join(dir, '.obsidian/plugins/owp-pool/data.json'), 'utf8')) as { token?: string; noted?: string[] };
      return noted.every((id) => d.noted?.includes(id)) ? d : undefined;
    }, 15_000, 'data.json noting every task');
    expect(data.token).toBe('');
    expect([...secretStore.values()]).toContain(F.plugin.settings.token);
    // and it still syncs: a second start changes nothing
    const before = F.read(p);
    await F.restart();
    await mirrorIdle(F);
    expect(F.read(p)).toBe(before);
    expect(F.plugin.session?.identity.workerId).toBe('alice');
  });

  it('keeps the token in data.json where the app has no secret storage', async () => {
    appFeatures.secretStorage = false;
    try {
      const token = await relay.token('worker', 'olga');
      const O = await openVault(await makeVaultDir('no-secrets'), { relayUrl: relay.url, token });
      opened.push(O);
      expect((await savedData(O)).token).toBe(token);
      expect(O.plugin.session?.identity.workerId).toBe('olga');
    } finally {
      appFeatures.secretStorage = true;
    }
  });
});

describe('commands from a note, only where they apply', () => {
  it('a contributor claims, completes; the task line is ticked and the tags follow the status', async () => {
    const p = note(13, 'Document the CLI');
    await waitFor(() => W.app.vault.getFileByPath(p), 15_000, 'note');
    await open(W, p);
    expect(W.available()).toEqual(expect.arrayContaining(['claim-this-task', 'claim-next-task', 'open-dashboard', 'open-my-tasks']));
    for (const c of ['release-task', 'complete-task', 'fail-task', 'submit-pull-request', 'review-merged', 'requeue-task', 'cancel-task', 'hold-task', 'create-task-from-note']) expect(W.available()).not.toContain(c);
    let mark = noticeLog.length;
    W.run('claim-this-task');
    await saidSince(mark, /claim granted: octo\/app#13/);
    await waitFor(() => W.available().includes('complete-task'), 15_000, 'lease commands offered');
    expect(W.available()).toEqual(expect.arrayContaining(['release-task', 'submit-pull-request', 'fail-task']));
    expect(W.available()).not.toContain('claim-this-task');
    await waitFor(() => readTaskNote(W.read(p)).owned.holder === 'wendy', 15_000, 'holder');
    const leased = readTaskNote(W.read(p)).owned;
    expect(leased.tags).toEqual(['owp', 'owp/leased']);
    expect(leased.lease_expires).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    mark = noticeLog.length;
    W.run('complete-task');
    await saidSince(mark, /complete done: octo\/app#13/);
    await waitFor(() => readTaskNote(W.read(p)).line?.mark === 'x', 15_000, 'ticked');
    const done = readTaskNote(W.read(p));
    expect(done.owned).toMatchObject({ status: 'done', holder: null, tags: ['owp', 'owp/done'] });
    expect(done.line?.ended).toMatch(/^\d{4}-\d\d-\d\d$/);
    expect(W.available()).not.toContain('complete-task');
  });

  it('puts back a task box ticked by hand and says how to hand the task in', async () => {
    const p = note(20, 'Twenty');
    await waitFor(() => W.app.vault.getFileByPath(p), 15_000, 'note');
    const mark = noticeLog.length;
    await W.app.vault.modify(W.app.vault.getFileByPath(p)!, W.read(p).replace('- [ ] Twenty', '- [x] Twenty'));
    await saidSince(mark, /the task box in ".*Twenty\.md" is written by the relay from the ledger; put back\. To hand the task in, run "Complete task"/);
    await waitFor(() => readTaskNote(W.read(p)).line?.mark === ' ', 15_000, 'put back');
  });

  it('fails with a reason, releases; refuses an empty reason with a notice', async () => {
    await claimFromNote(20, 'Twenty', 'fail-task');
    let mark = noticeLog.length;
    W.run('fail-task');
    await answerPrompt('   ');
    await saidSince(mark, /say why the task failed/);
    W.run('fail-task');
    await answerPrompt('The parser is being rewritten.');
    await saidSince(mark, /fail done: octo\/app#20/);
    await waitFor(async () => (await runtime(20))?.lease === undefined, 15_000, 'lease ended');

    const p21 = await claimFromNote(21, 'Twenty-one', 'release-task');
    mark = noticeLog.length;
    W.run('release-task');
    await saidSince(mark, /release done: octo\/app#21/);
    await waitFor(() => readTaskNote(W.read(p21)).owned.status === 'queued', 15_000, 'queued again');
  });

  it('a maintainer reviews (changes requested, merged), holds, resumes, requeues and cancels; contributors see none of it', async () => {
    const p = await claimFromNote(12, 'Name the line in parser errors', 'submit-pull-request');
    let mark = noticeLog.length;
    W.run('submit-pull-request');
    await answerPrompt('https://github.com/octo/app/pull/12');
    await saidSince(mark, /pull request link done: octo\/app#12/);
    await waitFor(() => readTaskNote(M.read(p)).owned.status === 'pr_open', 15_000, 'M sees the PR');
    expect(readTaskNote(M.read(p)).owned.pr).toBe('https://github.com/octo/app/pull/12');
    for (const c of ['review-merged', 'review-closed', 'review-changes-requested']) expect(W.available()).not.toContain(c);

    // My tasks: the PR awaits review
    const leaf = await W.plugin.openView('owp-my-tasks');
    const view = leaf.view as unknown as MyTasksView;
    expect(view).toBeInstanceOf(MyTasksView);
    await waitFor(() => /My pull requests awaiting review/.test(view.contentEl.textContent ?? '') && view.contentEl.querySelector('[data-task-id="octo/app#12"] .owp-my-pr'), 15_000, 'PR row');

    await open(M, p);
    await waitFor(() => M.available().includes('review-merged'), 15_000, 'review offered');
    expect(M.available()).toEqual(expect.arrayContaining(['review-closed', 'review-changes-requested', 'requeue-task', 'cancel-task', 'hold-task']));
    for (const c of ['claim-this-task', 'complete-task', 'release-task']) expect(M.available()).not.toContain(c);
    mark = noticeLog.length;
    M.run('review-changes-requested');
    await saidSince(mark, /review done: octo\/app#12/);
    await waitFor(() => readTaskNote(M.read(p)).owned.status === 'leased', 15_000, 'back to the contributor');
    // the lease shows in My tasks with a countdown
    await waitFor(() => view.contentEl.querySelector('[data-task-id="octo/app#12"] [data-expires-at]'), 15_000, 'countdown');
    await open(W, p); // the My tasks view took the focus
    await waitFor(() => W.available().includes('submit-pull-request'), 15_000, 'submit offered again');
    W.run('submit-pull-request');
    await answerPrompt('https://github.com/octo/app/pull/13');
    await waitFor(() => readTaskNote(M.read(p)).owned.pr === 'https://github.com/octo/app/pull/13', 15_000, 'second PR');
    mark = noticeLog.length;
    M.run('review-merged');
    await saidSince(mark, /review done: octo\/app#12/);
    await waitFor(() => readTaskNote(M.read(p)).line?.mark === 'x', 15_000, 'done in M');
    const again = (await W.plugin.openView('owp-my-tasks')).view as unknown as MyTasksView; // opening the note replaced it
    await waitFor(() => /wendy: 3 credit, 2 completed\./.test(again.contentEl.textContent ?? ''), 15_000, 'credit in My tasks');
    expect(again.contentEl.querySelector('[data-task-id="octo/app#12"]')).toBeNull();

    // hold and resume (a board edit), requeue a leased task, cancel with a reason
    const p22 = note(22, 'Twenty-two');
    await open(M, p22);
    await waitFor(() => M.available().includes('hold-task'), 15_000, 'hold offered');
    mark = noticeLog.length;
    M.run('hold-task');
    await saidSince(mark, /OWP: octo\/app#22 is on hold: it is not offered until you resume it\./);
    await waitFor(async () => (await relay.api(maint, 'GET', `/api/tasks/${encodeURIComponent('octo/app#22')}`)).body.task.held === true, 15_000, 'held on the relay');
    await waitFor(() => M.available().includes('resume-task') && !M.available().includes('hold-task'), 15_000, 'resume offered');
    M.run('resume-task');
    await saidSince(mark, /OWP: octo\/app#22 is offered again\./);
    await open(W, p22);
    await waitFor(() => W.available().includes('claim-this-task'), 15_000, 'claim offered again');
    W.run('claim-this-task');
    await saidSince(mark, /claim granted: octo\/app#22/);
    await waitFor(() => M.available().includes('requeue-task'), 15_000, 'requeue offered');
    M.run('requeue-task');
    await saidSince(mark, /requeue done: octo\/app#22/);
    await waitFor(() => readTaskNote(M.read(p22)).owned.status === 'queued', 15_000, 'requeued');
    M.run('cancel-task');
    await answerPrompt('Not needed any more.');
    await saidSince(mark, /cancel done: octo\/app#22/);
    await waitFor(() => readTaskNote(M.read(p22)).line?.mark === '-', 15_000, 'cancelled line');
    expect(readTaskNote(M.read(p22)).owned.tags).toEqual(['owp', 'owp/cancelled']);
    await waitFor(() => !M.available().includes('cancel-task'), 15_000, 'cancel no longer offered');

    // review: pull request closed (not merged) puts the task back in the queue
    const p21 = await claimFromNote(21, 'Twenty-one', 'submit-pull-request');
    W.run('submit-pull-request');
    await answerPrompt('https://github.com/octo/app/pull/21');
    await waitFor(() => readTaskNote(M.read(p21)).owned.status === 'pr_open', 15_000, 'M sees the PR of #21');
    await open(M, p21);
    await waitFor(() => M.available().includes('review-closed'), 15_000, 'review offered');
    mark = noticeLog.length;
    M.run('review-closed');
    await saidSince(mark, /review done: octo\/app#21/);
    await waitFor(() => readTaskNote(M.read(p21)).owned.status === 'queued', 15_000, 'back in the queue');
    expect(readTaskNote(M.read(p21)).owned.holder ?? null).toBeNull();
  });
});

describe('archive', () => {
  it('moves notes of finished tasks to OWP/Archive after the set days, never deletes', async () => {
    const p13 = note(13, 'Document the CLI');
    await waitFor(() => readTaskNote(M.read(p13)).owned.status === 'done', 15_000, 'M sees #13 done');
    const count = M.app.vault.getMarkdownFiles().length;
    await M.plugin.session!.mirror.archiveSweep();
    expect(M.app.vault.getFileByPath(p13)).not.toBeNull(); // not yet: finished less than a day ago
    clock.offset += 2 * 24 * 3600_000;
    try {
      await M.plugin.session!.mirror.archiveSweep();
      await mirrorIdle(M);
      for (const [n, title] of [[13, 'Document the CLI'], [12, 'Name the line in parser errors'], [22, 'Twenty-two']] as const) {
        await waitFor(() => M.app.vault.getFileByPath(note(n, title, 'OWP/Archive')), 15_000, `archived ${n}`);
        expect(M.app.vault.getFileByPath(note(n, title))).toBeNull();
      }
      expect(M.app.vault.getFileByPath(note(20, 'Twenty'))).not.toBeNull(); // not finished: stays
      expect(M.app.vault.getMarkdownFiles().length).toBe(count);
      // an archived note keeps syncing where it is, and is not moved back
      await relay.api(maint, 'PATCH', `/api/tasks/${encodeURIComponent('octo/app#13')}`, { priority: 7 });
      await waitFor(() => readTaskNote(M.read(note(13, 'Document the CLI', 'OWP/Archive'))).owned.priority === 7, 15_000, 'archived note synced');
      expect(M.app.vault.getFileByPath(p13)).toBeNull();
    } finally {
      clock.offset = 0;
    }
  });
});
