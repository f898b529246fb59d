import { afterAll, describe, expect, it, vi } from 'vitest';
vi.mock('obsidian', () => import('./obsidian/index.js'));
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestRelay, waitFor, type TestRelay } from './helpers/relay.js';
import { makeVaultDir, openVault, usePlatform, type TestVault } from './plugin-vault.js';
import { readTaskNote } from '../shared/notes/task-note.js';
import { noticeLog } from './obsidian/index.js';

usePlatform();

let relay: TestRelay | undefined;
let V: TestVault | undefined;
let dataDir: string | undefined;

afterAll(async () => {
  await V?.close();
  await relay?.close();
  if (dataDir) await fs.promises.rm(dataDir, { recursive: true, force: true });
});

describe('plugin with the relay stopped', () => {
  it('opens from the local cache, queues a claim, and gets it arbitrated when the relay is back', async () => {
    dataDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'owp-relay-offline-'));
    relay = await startTestRelay({ dataDir });
    const port = relay.relay.port;
    const maint = await relay.token('maintainer');
    const token = await relay.token('worker', 'dana');
    await relay.api(maint, 'PUT', '/api/repos/octo/off', { repo: 'octo/off' });
    await relay.api(maint, 'POST', '/api/tasks', { tasks: [{ id: 'octo/off#1', repo: 'octo/off', title: 'Offline task' }] });
    const p = 'OWP/Tasks/octo/off/octo-off-1 Offline task.md';
    V = await openVault(await makeVaultDir('offline'), { relayUrl: relay.url, token });
    await waitFor(() => V!.app.vault.getFileByPath(p), 15_000, 'note');
    await waitFor(() => V!.plugin.session!.client.status === 'connected', 15_000, 'connected');

    await relay.close(); // the relay goes away (data kept)
    relay = undefined;
    const mark = noticeLog.length;
    await V.restart(); // Obsidian restarted while the relay is down
    expect(noticeLog.slice(mark).map((n) => n.message)).toContain('OWP: the relay cannot be reached; working offline from the local copy.');
    const session = V.plugin.session!;
    expect(session.identity.workerId).toBe('dana');
    expect(session.mirror.task('octo/off#1')?.title).toBe('Offline task'); // the board reads offline
    await V.app.workspace.openLinkText(p, '', false);
    V.run('claim-this-task');
    await waitFor(() => session.client.pendingIntents().length === 1, 15_000, 'pending claim');
    expect(session.client.status).toBe('offline');

    relay = await startTestRelay({ dataDir, port }); // back on the same address
    await waitFor(() => readTaskNote(V!.read(p)).owned.owp_holder === 'dana', 30_000, 'claim arbitrated after the relay came back');
    await waitFor(() => session.client.pendingIntents().length === 0, 15_000, 'no pending');
    expect(readTaskNote(V.read(p)).owned.owp_status).toBe('leased');
  });
});
