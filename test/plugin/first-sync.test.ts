/**
 * The vault mirror's first sync of a large board (issue 16 item 3), in batches: each task's
 * note is written exactly once, a change made while the first sync runs ends in the notes,
 * and a large sync says how far it got. The first sync is held at its 100th note until the
 * changes have reached the plugin, so they land mid-sync on every run (no timing).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
vi.mock('obsidian', () => import('../obsidian/index.js'));
import { startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';
import { makeVaultDir, mirrorIdle, openVault, usePlatform, type TestVault } from '../helpers/plugin-vault.js';
import { Vault, noticeLog } from '../obsidian/index.js';
import { readTaskNote } from '../../shared/notes/task-note.js';
import { PROGRESS_FROM } from '../../plugin/mirror/batches.js';

usePlatform();

const N = 600;
const HOLD_AT = 100;
let relay: TestRelay;
let maint: string;
let V: TestVault | undefined;
const id = (i: number) => `first/repo${i % 3}#${i}`;
const path = (i: number) => `OWP/Tasks/first/repo${i % 3}/${i} Task ${i}.md`;
const indexOf = (p: string) => Number(/\/(\d+) Task /.exec(p)![1]);

beforeAll(async () => {
  relay = await startTestRelay();
  maint = await relay.token('maintainer');
  const tasks = Array.from({ length: N }, (_, i) => ({ id: id(i), repo: `first/repo${i % 3}`, title: `Task ${i}`, body: `Brief ${i}.`, priority: 1 }));
  expect((await relay.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks })).status).toBe(200);
});

afterAll(async () => {
  vi.restoreAllMocks();
  await V?.close();
  await relay?.close();
});

describe('the first sync of a large board', () => {
  it('writes each note once, ends with the changes made during it, and reports its progress', async () => {
    expect(N).toBeGreaterThanOrEqual(PROGRESS_FROM);
    const created: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const create = Vault.prototype.create;
    vi.spyOn(Vault.prototype, 'create').mockImplementation(async function (this: Vault, p: string, data: string) {
      created.push(p);
      if (created.length === HOLD_AT) await gate;
      return create.call(this, p, data);
    });
    const modified: string[] = [];
    V = await openVault(await makeVaultDir('first-sync'), { relayUrl: relay.url, token: maint });
    const v = V;
    v.app.vault.on('modify', (f: { path: string }) => modified.push(f.path));
    await waitFor(() => created.length >= HOLD_AT, 60_000, 'the first sync reaching its hold');

    // One task whose note is written already, one whose note is not: both change now.
    const written = indexOf(created[0]!);
    const notYet = [...Array(N).keys()].find((i) => !created.includes(path(i)))!;
    for (const i of [written, notYet]) {
      expect((await relay.api(maint, 'PATCH', `/api/tasks/${encodeURIComponent(id(i))}`, { priority: 5 })).status).toBe(200);
    }
    await waitFor(() => [written, notYet].every((i) => v.plugin.session?.mirror.task(id(i))?.priority === 5), 15_000, 'the changes in the plugin board');
    expect(v.plugin.session?.mirror.progress).toMatchObject({ total: N });
    release();

    await waitFor(() => created.length >= N && v.app.vault.getMarkdownFiles().length === N, 60_000, `${N} notes`);
    await mirrorIdle(v);
    expect([...created].sort()).toEqual([...Array(N).keys()].map(path).sort());
    for (let i = 0; i < N; i++) {
      const note = readTaskNote(v.read(path(i)));
      expect(note.id).toBe(id(i));
      expect(note.owned.priority).toBe(i === written || i === notYet ? 5 : 1);
    }
    // Only the note written before its change was written again, once.
    expect(modified).toEqual([path(written)]);
    expect(v.plugin.session?.mirror.progress).toBeUndefined();
    const notices = noticeLog.map((n) => n.message);
    expect(notices.filter((m) => m.startsWith('OWP: bringing task notes up to date'))).toHaveLength(1);
    expect(notices).toContain(`OWP: ${N} task notes are up to date.`);
  });
});
