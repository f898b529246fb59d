import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
vi.mock('obsidian', () => import('./obsidian/index.js'));
import { startTestRelay, waitFor, type TestRelay } from './helpers/relay.js';
import { makeVaultDir, mirrorIdle, openVault, usePlatform, type TestVault } from './plugin-vault.js';
import { readTaskNote } from '../shared/notes/task-note.js';
import { noticeLog } from './obsidian/index.js';

usePlatform();

let relay: TestRelay;
let maint: string;
let bobToken: string;
let A: TestVault;
let B: TestVault;

const REPO = 'octo/app';
const notePath = (id: string, title: string) => `OWP/Tasks/octo/app/${id.replace(/[/#]/g, '-')} ${title}.md`;
const noticesSince = (i: number) => noticeLog.slice(i).map((n) => n.message);

async function addTasks(tasks: Record<string, unknown>[]): Promise<void> {
  const r = await relay.api(maint, 'POST', '/api/tasks', { tasks: tasks.map((t) => ({ repo: REPO, ...t })) });
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
      expect(note.owned.owp_id).toBe('octo/app#1');
      expect(note.owned.owp_status).toBe('queued');
      expect(note.brief).toBe('Do the first thing.');
    }
    expect(A.plugin.session!.identity.role).toBe('maintainer');
    expect(B.plugin.session!.identity.workerId).toBe('bob');
  });
});
