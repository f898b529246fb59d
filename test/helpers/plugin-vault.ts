/**
 * Test harness for the Obsidian plugin: a vault (real temp folder + the Obsidian double)
 * with the real plugin loaded, connected to a real relay over real WebSockets (ws), and its
 * local cache in the real y-indexeddb `IndexeddbPersistence` (the plugin's default) over
 * fake-indexeddb. One IndexedDB factory per test file plays the machine's browser storage:
 * like Obsidian's, it is shared by every vault and survives a plugin "restart".
 *
 * Callers must `vi.mock('obsidian', () => import('../obsidian/index.js'))` first.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { App, createTestApp } from '../obsidian/index.js';
import OwpPoolPlugin from '../../plugin/main.js';
import { configurePlatform } from '../../plugin/sync/platform.js';
import { waitFor } from './relay.js';

export const MANIFEST = JSON.parse(fs.readFileSync(new URL('../../manifest.json', import.meta.url), 'utf8'));

/** A controllable clock offset (real time + offset), for the typing-idle rule. */
export const clock = { offset: 0, now: () => Date.now() + clock.offset };

/**
 * The "machine": the global IndexedDB factory y-indexeddb opens its databases from (it uses
 * the globals `indexedDB` and `IDBKeyRange`, as in Obsidian). `newMachine()` swaps in an
 * empty one.
 */
export function newMachine(): IDBFactory {
  const factory = new IDBFactory();
  Object.assign(globalThis, { indexedDB: factory, IDBKeyRange });
  return factory;
}

/** Names of the IndexedDB databases on the current machine (one per cached document). */
export async function cachedDatabases(): Promise<string[]> {
  const list = await (globalThis as unknown as { indexedDB: IDBFactory }).indexedDB.databases();
  return list.map((d) => d.name ?? '').sort();
}

/** URLs of every WebSocket the plugins opened (the token is in the query), in order. */
export const socketLog: string[] = [];

/** The real `ws` WebSocket, counting connection attempts (to prove a stopped client stays stopped). */
class LoggedWebSocket extends WebSocket {
  constructor(url: string | URL, protocols?: string | string[]) {
    super(url, protocols);
    socketLog.push(String(url));
  }
}

/** Real ws WebSockets, the real y-indexeddb cache (default persistence), a movable clock. */
export function usePlatform(): void {
  newMachine();
  configurePlatform({ WebSocket: LoggedWebSocket, disableBc: true, now: clock.now });
}

export interface TestVault {
  dir: string;
  app: App;
  plugin: OwpPoolPlugin;
  /** Read a note by path. */
  read(p: string): string;
  /** Run a command by its short id (e.g. 'claim-this-task'); throws when it does not apply here. */
  run(id: string): void;
  /** Short ids of the commands the palette offers right now (checkCallback passes). */
  available(): string[];
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
      if (!cur.app.commands.executeCommandById(`owp-pool:${id}`)) throw new Error(`command ${id} is not available here`);
    },
    available: () => cur.app.commands.listCommands().map((c) => c.id.replace(/^owp-pool:/, '')).sort(),
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

/**
 * The plugin's data.json once every save it has started is on disk. Saves run one after
 * another and write the file in place, so reading it while one runs can see it half written.
 */
export async function savedData(v: { dir: string; plugin: OwpPoolPlugin }): Promise<Record<string, unknown>> {
  const p = v.plugin as unknown as { saving: Promise<void> };
  for (let s = p.saving; ; ) {
    await s;
    if (p.saving === s) break;
    s = p.saving;
  }
  return JSON.parse(fs.readFileSync(path.join(v.dir, '.obsidian/plugins/owp-pool/data.json'), 'utf8')) as Record<string, unknown>;
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
