import { afterAll, describe, expect, it, vi } from 'vitest';
vi.mock('obsidian', () => import('../obsidian/index.js'));
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';
import { cachedDatabases, makeVaultDir, mirrorIdle, openVault, usePlatform, type TestVault } from '../helpers/plugin-vault.js';
import { cacheName } from '../../plugin/sync/client.js';
import { readTaskNote } from '../../shared/notes/task-note.js';
import { noticeLog } from '../obsidian/index.js';

usePlatform();

let relay: TestRelay | undefined;
let V: TestVault | undefined;
let dataDir: string | undefined;
const cleanup: (() => Promise<void>)[] = [];

afterAll(async () => {
  await V?.close();
  await relay?.close();
  if (dataDir) await fs.promises.rm(dataDir, { recursive: true, force: true });
  for (const c of cleanup.reverse()) await c();
});

/** Rewrite a vault's data.json (as a person would by hand) before its next start. */
function editData(v: TestVault, patch: Record<string, unknown>): void {
  const file = path.join(v.dir, '.obsidian/plugins/owp-pool/data.json');
  fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), ...patch }, null, 2));
}

describe('plugin with the relay stopped', () => {
  it('opens from the local cache, queues a claim, and gets it arbitrated when the relay is back', async () => {
    dataDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'owp-relay-offline-'));
    relay = await startTestRelay({ dataDir });
    const port = relay.relay.port;
    const maint = await relay.token('maintainer');
    const token = await relay.token('worker', 'dana');
    await relay.api(maint, 'PUT', '/api/repos/octo/off', { repo: 'octo/off' });
    await relay.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id: 'octo/off#1', repo: 'octo/off', title: 'Offline task' }] });
    const p = 'OWP/Tasks/octo/off/1 Offline task.md';
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

    // Obsidian restarted again, relay still down: the claim exists only in IndexedDB now.
    await V.restart();
    const again = V.plugin.session!;
    expect(again.client.pendingIntents().map((i) => [i.kind, 'taskId' in i ? i.taskId : undefined])).toEqual([['claim', 'octo/off#1']]);

    relay = await startTestRelay({ dataDir, port }); // back on the same address
    await waitFor(() => readTaskNote(V!.read(p)).owned.holder === 'dana', 30_000, 'claim arbitrated after the relay came back');
    await waitFor(() => again.client.pendingIntents().length === 0, 15_000, 'no pending');
    expect(readTaskNote(V.read(p)).owned.status).toBe('leased');
  });
});

describe('the local cache is y-indexeddb, one per vault and relay on a shared IndexedDB', () => {
  it('two vaults on one machine read only their own boards offline, and a new vault or relay starts empty', async () => {
    const one = await startTestRelay();
    const two = await startTestRelay();
    let oneUp = true;
    let twoUp = true;
    cleanup.push(async () => {
      if (oneUp) await one.close();
      if (twoUp) await two.close();
    });
    for (const [r, repo] of [[one, 'octo/one'], [two, 'octo/two']] as const) {
      const m = await r.token('maintainer');
      expect((await r.api(m, 'PUT', `/api/repos/${repo}`, { repo })).status).toBe(200);
      expect((await r.api(m, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id: `${repo}#1`, repo, title: `Task of ${repo}` }] })).status).toBe(200);
    }
    const tokOne = await one.token('worker', 'pat');
    const tokTwo = await two.token('worker', 'quinn');
    const P = await openVault(await makeVaultDir('p'), { relayUrl: one.url, token: tokOne });
    cleanup.push(() => P.close());
    const Q = await openVault(await makeVaultDir('q'), { relayUrl: two.url, token: tokTwo });
    cleanup.push(() => Q.close());
    const pNote = 'OWP/Tasks/octo/one/1 Task of octo-one.md';
    const qNote = 'OWP/Tasks/octo/two/1 Task of octo-two.md';
    await waitFor(() => P.app.vault.getFileByPath(pNote) && P.plugin.session!.client.status === 'connected', 15_000, 'P synced');
    await waitFor(() => Q.app.vault.getFileByPath(qNote) && Q.plugin.session!.client.status === 'connected', 15_000, 'Q synced');

    // one IndexedDB for the machine, one database per vault, relay and document
    const dbs = await cachedDatabases();
    for (const doc of ['owp/board', 'owp/ledger', 'owp/inbox/pat']) expect(dbs).toContain(cacheName(P.app.appId, one.url, doc));
    for (const doc of ['owp/board', 'owp/ledger', 'owp/inbox/quinn']) expect(dbs).toContain(cacheName(Q.app.appId, two.url, doc));

    await one.close();
    oneUp = false;
    await two.close();
    twoUp = false;
    await P.restart();
    await Q.restart();
    expect(P.plugin.session!.client.status).toBe('offline');
    const pm = P.plugin.session!.mirror;
    const qm = Q.plugin.session!.mirror;
    expect(pm.task('octo/one#1')?.title).toBe('Task of octo/one');
    expect(pm.task('octo/two#1')).toBeUndefined();
    expect(qm.task('octo/two#1')?.title).toBe('Task of octo/two');
    expect(qm.task('octo/one#1')).toBeUndefined();

    // A third vault on the same relay address (identity written by hand, relay down):
    // it must not read P's cache of that relay.
    const sDir = await makeVaultDir('s');
    const identity = { relayUrl: one.url, token: tokOne, role: 'worker', workerId: 'pat' };
    const S = await openVault(sDir, { relayUrl: one.url, token: tokOne, identity });
    cleanup.push(() => S.close());
    await mirrorIdle(S);
    expect(S.plugin.session!.identity.workerId).toBe('pat');
    expect(S.plugin.session!.mirror.task('octo/one#1')).toBeUndefined();
    expect(S.app.vault.getMarkdownFiles().map((f) => f.path)).toEqual([]);

    // P pointed at the second relay (offline): it reads nothing of its cache of the first
    // relay, nor of Q's cache of the second.
    editData(P, { relayUrl: two.url, token: tokTwo, identity: { relayUrl: two.url, token: tokTwo, role: 'worker', workerId: 'quinn' } });
    await P.restart();
    await mirrorIdle(P);
    expect(P.plugin.session!.identity.relayUrl).toBe(two.url);
    expect(P.plugin.session!.mirror.task('octo/one#1')).toBeUndefined();
    expect(P.plugin.session!.mirror.task('octo/two#1')).toBeUndefined();
    expect(P.read(pNote)).toContain('task: octo/one#1'); // the note of the first relay is kept
  });
});

describe('without IndexedDB', () => {
  it('says once that there is no local copy and works while connected', async () => {
    const r = await startTestRelay();
    const saved = (globalThis as Record<string, unknown>).indexedDB;
    delete (globalThis as Record<string, unknown>).indexedDB;
    let W: TestVault | undefined;
    try {
      const m = await r.token('maintainer');
      await r.api(m, 'PUT', '/api/repos/octo/nodb', { repo: 'octo/nodb' });
      await r.api(m, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id: 'octo/nodb#1', repo: 'octo/nodb', title: 'No cache' }] });
      const mark = noticeLog.length;
      W = await openVault(await makeVaultDir('nodb'), { relayUrl: r.url, token: await r.token('worker', 'wes') });
      await waitFor(() => W!.app.vault.getFileByPath('OWP/Tasks/octo/nodb/1 No cache.md'), 15_000, 'note without a cache');
      const said = noticeLog.slice(mark).map((n) => n.message).filter((n) => /local copy/.test(n));
      expect(said).toEqual(['OWP: the local copy (owp/board, owp/ledger, owp/inbox/wes) could not be opened: this device has no IndexedDB. The plugin works while connected, but not offline.']);
    } finally {
      await W?.close();
      (globalThis as Record<string, unknown>).indexedDB = saved;
      await r.close();
    }
  });
});
