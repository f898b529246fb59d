/**
 * "Host the pool from this vault": the plugin on the API double (desktop) loads the real
 * relay chunk (owp-relay.js, built here exactly as for a release) from its own folder and
 * runs the relay in its own process on a real temp folder. The real CLI and a second vault
 * claim through it; the notes follow; unload frees the port; a reload finds the data.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
vi.mock('obsidian', () => import('../obsidian/index.js'));
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { api, startTestRelay, waitFor } from '../helpers/relay.js';
import { makeVaultDir, MANIFEST, mirrorIdle, openVault, savedData, socketLog, usePlatform, type TestVault } from '../helpers/plugin-vault.js';
import { owp, owpJson, type OwpOptions } from '../helpers/cli-run.js';
import { readTaskNote } from '../../shared/notes/task-note.js';
import { Modal, Platform, appFeatures, createTestApp, happyWindow, localStore, noticeLog, secretStore } from '../obsidian/index.js';
import OwpPoolPlugin from '../../plugin/main.js';
import { secretId } from '../../plugin/settings/secret.js';
import { Host } from '../../plugin/host/host.js';
import { DEFAULT_HOST } from '../../plugin/settings/settings.js';
// @ts-expect-error plain ESM build helper without types
import { buildRelayChunk } from '../../plugin/build/relay-chunk.mjs';

usePlatform();

const REPO = 'octo/app';
const note = (id: string, title: string) => `OWP/Tasks/octo/app/${id.split('#')[1]} ${title}.md`;
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
let chunkDir: string;
let chunk: string;

/** Can a server listen on this port again (the relay let it go)? */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1' }, () => s.close(() => resolve(true)));
  });
}

function installChunk(vaultDir: string, file = chunk): void {
  const dir = path.join(vaultDir, '.obsidian/plugins/owp-pool');
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(file, path.join(dir, 'owp-relay.js'));
}

beforeAll(async () => {
  chunkDir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'owp-chunk-'));
  chunk = path.join(chunkDir, 'owp-relay.js');
  await buildRelayChunk({ outfile: chunk, version: MANIFEST.version });
});

afterAll(async () => {
  await fs.promises.rm(chunkDir, { recursive: true, force: true });
});

describe('hosting the pool from a vault', () => {
  let H: TestVault;
  let B: TestVault | undefined;
  let home: string;

  afterAll(async () => {
    await B?.close();
    await H?.close();
    if (home) await fs.promises.rm(home, { recursive: true, force: true });
  });

  it('runs the relay inside the plugin; the CLI and a second vault claim through it; unload frees the port; a reload finds the data', async () => {
    const dir = await makeVaultDir('host');
    installChunk(dir);
    const mark = noticeLog.length;
    const modalsBefore = Modal.opened.length;
    H = await openVault(dir, { host: { enabled: true, port: 0 } });
    const relay = H.plugin.host.running!;
    expect(relay.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(H.plugin.session!.identity).toMatchObject({ relayUrl: relay.url, role: 'admin' });
    // The admin token: shown once in a modal, kept in secret storage, never in data.json.
    const admin = secretStore.get(secretId(H.app.appId, 'host'))!;
    expect(admin).toMatch(/^owp_/);
    const shown = Modal.opened.slice(modalsBefore).find((m) => m.contentEl.querySelector('input')?.value === admin);
    expect(shown?.titleEl.textContent).toBe('The admin token of your pool');
    const data = await savedData(H);
    expect(JSON.stringify(data)).not.toContain(admin);
    // Hosting is this computer's choice (local storage), not data.json's, which syncs.
    expect(data.host).toMatchObject({ enabled: false, address: '127.0.0.1' });
    expect(localStore.get(`${H.app.appId}:owp-pool-host-enabled`)).toBe(true);
    expect(fs.existsSync(path.join(dir, '.obsidian/plugins/owp-pool/relay-data/relay.log'))).toBe(true);
    expect(noticeLog.slice(mark).map((n) => n.message).filter((m) => /cannot host/.test(m))).toEqual([]);
    expect((await api(relay.url, undefined, 'GET', '/healthz')).body).toMatchObject({ ok: true, version: MANIFEST.version });
    await waitFor(() => H.app.statusBar.textContent?.startsWith(`OWP: connected · hosting ${relay.url.slice('http://'.length)}`), 15_000, 'status bar says hosting');

    // A maintainer's work over the CLI against the hosted relay.
    home = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'owp-host-cli-'));
    const adminCli: OwpOptions = { url: relay.url, token: admin, home: path.join(home, 'admin') };
    expect((await api(relay.url, admin, 'PUT', `/api/repos/${REPO}`, { repo: REPO, reviewBudget: 10 })).status).toBe(200);
    const add = await api(relay.url, admin, 'POST', '/api/tasks', {
      tasks: [
        { repo: REPO, id: 'octo/app#1', title: 'First task', body: 'One.', skills: ['ts'], points: 1 },
        { repo: REPO, id: 'octo/app#2', title: 'Second task', body: 'Two.', skills: ['ts'], points: 1 },
      ],
    });
    expect(add.status).toBe(200);
    await waitFor(() => H.app.vault.getFileByPath(note('octo/app#1', 'First task')), 15_000, 'task note in the host vault');

    // The real CLI (a child process) claims task 1 from the relay inside the plugin.
    const cli = { ...adminCli, token: (await owpJson<{ token: string }>(['token', 'create', '--role', 'worker', '--worker', 'carol'], adminCli)).token, home: path.join(home, 'carol') };
    await owpJson(['worker', 'register', '--name', 'Carol', '--skills', 'ts', '--capacity', '3'], cli);
    const claimed = await owp(['claim', 'octo/app#1'], cli);
    expect(claimed.code, claimed.stderr).toBe(0);
    await waitFor(() => readTaskNote(H.read(note('octo/app#1', 'First task'))).owned.holder === 'carol', 15_000, 'lease in the host note');
    expect(readTaskNote(H.read(note('octo/app#1', 'First task'))).owned.status).toBe('leased');

    // A second vault (a contributor) signs in to the hosted relay and claims task 2.
    const dave = await api(relay.url, admin, 'POST', '/api/tokens', { role: 'worker', workerId: 'dave', name: 'Dave' });
    B = await openVault(await makeVaultDir('guest'), { relayUrl: relay.url, token: dave.body.token, skills: ['ts'], capacity: 3 });
    await waitFor(() => B!.app.vault.getFileByPath(note('octo/app#2', 'Second task')), 15_000, 'note in the guest vault');
    B.run('claim-next-task');
    await waitFor(() => readTaskNote(H.read(note('octo/app#2', 'Second task'))).owned.holder === 'dave', 15_000, "the guest's lease in the host note");
    await B.close();
    B = undefined;

    // Unload stops the relay and frees its port.
    const port = relay.port;
    await mirrorIdle(H);
    H.plugin.unload();
    await H.plugin.closing;
    expect(H.plugin.host.running).toBeUndefined();
    expect(await portFree(port)).toBe(true);

    // Reload: the same data (tasks, leases, the admin token), and no second admin token.
    const modalsNow = Modal.opened.length;
    await H.restart();
    const again = H.plugin.host.running!;
    expect(again.createdAdminToken).toBeUndefined();
    expect(Modal.opened.length).toBe(modalsNow);
    expect(H.plugin.session!.identity).toMatchObject({ relayUrl: again.url, role: 'admin' });
    const t1 = await api(again.url, admin, 'GET', `/api/tasks/${encodeURIComponent('octo/app#1')}`);
    expect(t1.status).toBe(200);
    const leases = (await api(again.url, admin, 'GET', '/api/status')).body;
    expect(JSON.stringify(leases)).toContain('carol');
    expect(readTaskNote(H.read(note('octo/app#2', 'Second task'))).owned.holder).toBe('dave');
  });
});

describe('the hosting settings', () => {
  it('the toggle starts the relay and signs the vault in to it; off stops it; on mobile the tab only says it needs a desktop', async () => {
    const dir = await makeVaultDir('toggle');
    installChunk(dir);
    const relay = await startTestRelay();
    // An Obsidian older than 1.8.7 has no per-vault local storage: the switch lives in data.json.
    appFeatures.localStorage = false;
    const V = await openVault(dir, { relayUrl: relay.url, token: await relay.token('maintainer'), host: { port: 0 } });
    const saved = async () => ((await savedData(V)).host as { enabled: boolean }).enabled;
    try {
      expect(V.plugin.host.running).toBeUndefined();
      expect(V.plugin.session!.identity.relayUrl).toBe(relay.url);
      const tab = V.app.setting.tabs[0]!;
      tab.display();
      const item = (name: string) => [...tab.containerEl.querySelectorAll('.setting-item')].find((el) => el.querySelector('.setting-item-name')?.textContent === name)!;
      expect(item('Port').querySelector('input')!.value).toBe('0'); // any free port (data.json): tests never take 8787
      item('Host the pool from this vault').querySelector('.checkbox-container')!.dispatchEvent(new happyWindow.MouseEvent('click') as unknown as Event);
      const hosted = await waitFor(() => V.plugin.host.running, 15_000, 'hosted relay');
      await waitFor(() => V.plugin.session?.identity.relayUrl === hosted.url, 15_000, 'signed in to the hosted relay');
      expect(V.plugin.session!.identity.role).toBe('admin');
      expect(await saved()).toBe(true);
      expect(item('Host the pool from this vault').textContent).toMatch(/Listening at http:\/\/127\.0\.0\.1:\d+, data in .*relay-data\./);
      const hostedPort = hosted.port;
      expect(hostedPort).not.toBe(8787);
      item('Host the pool from this vault').querySelector('.checkbox-container')!.dispatchEvent(new happyWindow.MouseEvent('click') as unknown as Event);
      await waitFor(() => V.plugin.session?.identity.relayUrl === relay.url, 15_000, 'back on the configured relay');
      expect(V.plugin.host.running).toBeUndefined();
      expect(await portFree(hostedPort)).toBe(true);
      expect(await saved()).toBe(false);
      Platform.isDesktopApp = false;
      tab.display();
      expect(item('Host the pool from this vault').textContent).toContain('Available in Obsidian on a desktop computer only.');
      expect(item('Listen address')).toBeUndefined();
    } finally {
      Platform.isDesktopApp = true;
      appFeatures.localStorage = true;
      await V.close();
      await relay.close();
    }
  });
});

describe('unloading while the plugin is still starting', () => {
  it('stops the relay it was starting, opens no socket afterwards and keeps no session', async () => {
    const dir = await makeVaultDir('unload-early');
    installChunk(dir);
    fs.writeFileSync(path.join(dir, '.obsidian/plugins/owp-pool/data.json'), JSON.stringify({ host: { enabled: true, port: 0 } }));
    const plugin = new OwpPoolPlugin(createTestApp(dir, 'vault-unload-early') as never, MANIFEST);
    const notices = noticeLog.length;
    try {
      plugin.load();
      await (plugin as unknown as { loading: Promise<void> }).loading;
      // The layout is ready: the restart is loading the relay chunk (or about to).
      plugin.unload();
      const sockets = socketLog.length;
      await plugin.closing;
      await plugin.ready;
      expect(plugin.session).toBeUndefined();
      expect(plugin.host.running).toBeUndefined();
      expect(socketLog.length).toBe(sockets);
      expect(noticeLog.slice(notices).map((n) => n.message)).toEqual([]);
    } finally {
      await fs.promises.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the host controller (plugin/host/host.ts) with the real chunk', () => {
  const dirs: string[] = [];
  const tmp = async () => {
    const d = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'owp-host-'));
    dirs.push(d);
    return d;
  };
  const load = createRequire(import.meta.url);
  afterAll(async () => {
    for (const d of dirs) await fs.promises.rm(d, { recursive: true, force: true });
  });

  it('says what to do when the chunk is missing or from another version, and starts nothing', async () => {
    const pluginDir = await tmp();
    const host = new Host({ env: () => ({ pluginDir, load }), pluginVersion: MANIFEST.version, log: quiet });
    const missing = await host.ensure({ ...DEFAULT_HOST, enabled: true, port: 0 });
    expect(missing.problem).toMatch(/owp-relay\.js is missing from the plugin's folder .*copy it there/);
    expect(host.running).toBeUndefined();
    const old = path.join(await tmp(), 'owp-relay.js');
    await buildRelayChunk({ outfile: old, version: '0.0.1', minify: false });
    fs.copyFileSync(old, path.join(pluginDir, 'owp-relay.js'));
    const stale = await host.ensure({ ...DEFAULT_HOST, enabled: true, port: 0 });
    expect(stale.problem).toBe(`owp-relay.js is from version 0.0.1, the plugin is ${MANIFEST.version}: copy owp-relay.js from the plugin's release ${MANIFEST.version} into ${pluginDir}.`);
    expect(host.state).toMatch(/^Not running: /);
  });

  it('refuses a taken port with a sentence, restarts on a change, and stops when turned off', async () => {
    const pluginDir = await tmp();
    fs.copyFileSync(chunk, path.join(pluginDir, 'owp-relay.js'));
    const host = new Host({ env: () => ({ pluginDir, load }), pluginVersion: MANIFEST.version, log: quiet });
    const first = await host.ensure({ ...DEFAULT_HOST, enabled: true, port: 0 });
    expect(first).toMatchObject({ started: true });
    expect(first.createdAdminToken).toMatch(/^owp_/);
    const port = first.relay!.port;
    // the same settings keep the running relay
    expect((await host.ensure({ ...DEFAULT_HOST, enabled: true, port: 0 })).relay).toBe(first.relay);
    // a second host on the same port and another folder: the port is taken
    const other = new Host({ env: () => ({ pluginDir, load }), pluginVersion: MANIFEST.version, log: quiet });
    const taken = await other.ensure({ ...DEFAULT_HOST, enabled: true, port, dataDir: await tmp() });
    expect(taken.problem).toBe(`port ${port} on 127.0.0.1 is taken by another program. Choose another port in the settings.`);
    // the same data folder in use by the running relay: refused, named
    const locked = await other.ensure({ ...DEFAULT_HOST, enabled: true, port: 0 });
    expect(locked.problem).toMatch(/^another relay uses the data folder .*relay-data/);
    // a new data folder restarts the relay there (a new pool: a new admin token)
    const moved = await host.ensure({ ...DEFAULT_HOST, enabled: true, port: 0, dataDir: await tmp() });
    expect(moved.started).toBe(true);
    expect(moved.createdAdminToken).toMatch(/^owp_/);
    expect(await portFree(port)).toBe(true);
    await host.ensure({ ...DEFAULT_HOST, enabled: false });
    expect(host.running).toBeUndefined();
    expect(await portFree(moved.relay!.port)).toBe(true);
  });

  it('on mobile (no desktop environment) loads nothing and says hosting needs a desktop', async () => {
    let asked = 0;
    const host = new Host({ env: () => (asked++, undefined), pluginVersion: MANIFEST.version, log: quiet });
    expect(await host.ensure({ ...DEFAULT_HOST, enabled: true })).toEqual({});
    expect(asked).toBe(1);
    expect(host.state).toBe('Hosting needs Obsidian on a desktop computer.');
  });
});
