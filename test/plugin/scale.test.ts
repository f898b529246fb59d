import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
vi.mock('obsidian', () => import('../obsidian/index.js'));
import { startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';
import { makeVaultDir, mirrorIdle, openVault, usePlatform, type TestVault } from '../helpers/plugin-vault.js';
import { readTaskNote } from '../../shared/notes/task-note.js';

usePlatform();

const N = 1000;
let relay: TestRelay;
let maint: string;
let V: TestVault;
const id = (i: number) => `big/repo#${i}`;
const path = (i: number) => `OWP/Tasks/big/repo/${i} Task number ${i}.md`;

beforeAll(async () => {
  relay = await startTestRelay();
  maint = await relay.token('maintainer');
  const tasks = Array.from({ length: N }, (_, i) => ({ id: id(i), repo: 'big/repo', title: `Task number ${i}`, body: `Brief ${i}.` }));
  const r = await relay.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks });
  expect(r.status).toBe(200);
  V = await openVault(await makeVaultDir('scale'), { relayUrl: relay.url, token: maint });
});

afterAll(async () => {
  await V?.close();
  await relay?.close();
});

describe('plugin at scale', () => {
  it(`mirrors ${N} tasks into ${N} notes, and one change to one task rewrites exactly one note`, async () => {
    await waitFor(() => V.app.vault.getMarkdownFiles().length === N, 60_000, `${N} notes`);
    await mirrorIdle(V);
    expect(V.app.vault.getMarkdownFiles().every((f) => f.path.startsWith('OWP/Tasks/big/repo/'))).toBe(true);
    expect(readTaskNote(V.read(path(567))).line?.title).toBe('Task number 567');

    const before = { ...V.app.vault.counts };
    const modified: string[] = [];
    V.app.vault.on('modify', (f: { path: string }) => modified.push(f.path));
    expect((await relay.api(maint, 'PATCH', `/api/tasks/${encodeURIComponent(id(123))}`, { priority: 42 })).status).toBe(200);
    await waitFor(() => readTaskNote(V.read(path(123))).owned.priority === 42, 15_000, 'note 123 updated');
    // A second change works as a barrier: once it shows, everything caused by the first has landed.
    expect((await relay.api(maint, 'PATCH', `/api/tasks/${encodeURIComponent(id(999))}`, { priority: 7 })).status).toBe(200);
    await waitFor(() => readTaskNote(V.read(path(999))).owned.priority === 7, 15_000, 'note 999 updated');
    await mirrorIdle(V);
    expect(modified).toEqual([path(123), path(999)]);
    expect(V.app.vault.counts.create).toBe(before.create);
    expect(V.app.vault.counts.rename).toBe(before.rename);
  });
});
