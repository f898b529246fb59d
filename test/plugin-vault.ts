/**
 * Test harness for the Obsidian plugin: a vault (real temp folder + the Obsidian double)
 * with the real plugin loaded, connected to a real relay over real WebSockets (ws), with an
 * in-memory stand-in for y-indexeddb that survives a plugin "restart".
 *
 * Callers must `vi.mock('obsidian', () => import('./obsidian/index.js'))` first.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as Y from 'yjs';
import WebSocket from 'ws';
import { App, createTestApp } from './obsidian/index.js';
import OwpPoolPlugin from '../plugin/main.js';
import { configurePlatform, type PersistenceFactory } from '../plugin/sync/platform.js';
import { waitFor } from './helpers/relay.js';

export const MANIFEST = JSON.parse(fs.readFileSync(new URL('../manifest.json', import.meta.url), 'utf8'));

/** Stored updates per cache name: what IndexedDB would keep between sessions. */
export const memoryCaches = new Map<string, Uint8Array[]>();

export const memoryPersistence: PersistenceFactory = (name, doc) => {
  const stored = memoryCaches.get(name) ?? [];
  memoryCaches.set(name, stored);
  const origin = { persistence: name };
  Y.transact(doc, () => stored.forEach((u) => Y.applyUpdate(doc, u, origin)), origin);
  const onUpdate = (u: Uint8Array, o: unknown) => {
    if (o !== origin) stored.push(u);
  };
  doc.on('update', onUpdate);
  return { whenSynced: Promise.resolve(), destroy: () => doc.off('update', onUpdate) };
};

/** A controllable clock offset (real time + offset), for the typing-idle rule. */
export const clock = { offset: 0, now: () => Date.now() + clock.offset };

export function usePlatform(): void {
  configurePlatform({ WebSocket, createPersistence: memoryPersistence, disableBc: true, now: clock.now });
}

export interface TestVault {
  dir: string;
  app: App;
  plugin: OwpPoolPlugin;
  /** Read a note by path. */
  read(p: string): string;
  /** Run a command by its short id (e.g. 'claim-this-task'). */
  run(id: string): void;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function makeVaultDir(name: string): Promise<string> {
  return fs.promises.mkdtemp(path.join(os.tmpdir(), `owp-vault-${name}-`));
}

export async function openVault(dir: string, settings: Record<string, unknown>): Promise<TestVault> {
  const pluginDir = path.join(dir, '.obsidian', 'plugins', 'owp-pool');
  fs.mkdirSync(pluginDir, { recursive: true });
  const dataFile = path.join(pluginDir, 'data.json');
  const old = fs.existsSync(dataFile) ? JSON.parse(fs.readFileSync(dataFile, 'utf8')) : {};
  fs.writeFileSync(dataFile, JSON.stringify({ ...old, ...settings }, null, 2));
  const start = async () => {
    const app = createTestApp(dir, `vault-${path.basename(dir)}`);
    const plugin = new OwpPoolPlugin(app as never, MANIFEST);
    plugin.load();
    await (plugin as unknown as { loading: Promise<void> }).loading;
    await waitFor(() => plugin.session, 15_000, 'plugin session');
    await plugin.ready;
    return { app, plugin };
  };
  let cur = await start();
  const v: TestVault = {
    dir,
    get app() {
      return cur.app;
    },
    get plugin() {
      return cur.plugin;
    },
    read: (p) => fs.readFileSync(path.join(dir, p), 'utf8'),
    run: (id) => {
      if (!cur.app.commands.executeCommandById(`owp-pool:${id}`)) throw new Error(`no command ${id}`);
    },
    async restart() {
      cur.plugin.unload();
      await cur.plugin.closing;
      cur = await start();
    },
    async close() {
      cur.plugin.unload();
      await cur.plugin.closing;
      await fs.promises.rm(dir, { recursive: true, force: true, maxRetries: 5 });
    },
  };
  return v;
}

/** Wait until the mirror has nothing left to write. */
export async function mirrorIdle(v: TestVault): Promise<void> {
  await waitFor(async () => {
    const m = v.plugin.session?.mirror;
    if (!m) return false;
    await m.flush();
    return m.pending() === 0;
  }, 30_000, 'mirror idle');
}
