/**
 * Test double, app part: App, Plugin, Notice, Modal, Setting, PluginSettingTab,
 * requestUrl, and `createTestApp` which builds an app over a real temp vault folder.
 *
 * Invariants:
 * - loadData/saveData read and write `<vault>/.obsidian/plugins/<id>/data.json` for real
 *   (saveData atomically: a reader never sees half a file).
 * - Notice records every message (globally and per app via `notices`), so tests assert on
 *   what the user was told.
 * - requestUrl does real HTTP (fetch) and, like Obsidian, throws on status >= 400 unless
 *   `throw: false`.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import nodePath from 'node:path';
import { createElement } from './dom.js';
import { FileManager, MetadataCache, Vault, Events } from './vault.js';
import { Component, Workspace, type ViewCreator } from './workspace.js';

export interface Command {
  id: string;
  name: string;
  callback?: () => unknown;
  checkCallback?: (checking: boolean) => boolean | void;
  editorCallback?: (...args: unknown[]) => unknown;
}

export interface PluginManifest {
  id: string;
  name: string;
  version: string;
  minAppVersion: string;
  description: string;
  author: string;
  dir?: string;
  isDesktopOnly?: boolean;
}

export const noticeLog: { at: number; message: string }[] = [];

/** What the simulated Obsidian version offers (tests of older versions turn features off). */
export const appFeatures = { secretStorage: true, localStorage: true };

/**
 * Obsidian's SecretStorage (1.11.4+): app-wide (shared by every vault of the app, kept out of
 * the vault folder), ids of lowercase letters, digits and dashes.
 */
export const secretStore = new Map<string, string>();
export class SecretStorage extends Events {
  setSecret(id: string, secret: string): void {
    if (!/^[a-z0-9-]+$/.test(id)) throw new Error(`Invalid secret id ${id}`);
    secretStore.set(id, secret);
  }
  getSecret(id: string): string | null {
    return secretStore.get(id) ?? null;
  }
  listSecrets(): string[] {
    return [...secretStore.keys()];
  }
}
let currentApp: App | undefined;
/** Saves so far (names the temp files of saveData). */
let saves = 0;

/**
 * Obsidian's Platform. The double is a desktop app by default (tests of mobile flip the
 * flags), and like Electron's renderer it has Node's require on window (window is globalThis
 * here, see dom.ts).
 */
export const Platform = { isDesktop: true, isDesktopApp: true, isMobile: false, isMobileApp: false, isIosApp: false, isAndroidApp: false, isPhone: false, isTablet: false, isMacOS: false, isWin: false, isLinux: true, isSafari: false };
const g = globalThis as Record<string, unknown>;
if (g.require === undefined) g.require = createRequire(import.meta.url);

/** The app's local storage per vault (App.loadLocalStorage, Obsidian 1.8.7+): kept per app id, across restarts. */
export const localStore = new Map<string, unknown>();

export class App {
  vault: Vault;
  workspace: Workspace;
  metadataCache: MetadataCache;
  fileManager: FileManager;
  appId: string;
  secretStorage?: SecretStorage;
  notices: string[] = [];
  commands = {
    commands: new Map<string, Command>(),
    executeCommandById: (id: string): boolean => {
      const c = this.commands.commands.get(id);
      if (!c) return false;
      // eslint-disable-next-line @typescript-eslint/no-this-alias -- notices are attributed to the app running the command
      currentApp = this;
      try {
        // Like Obsidian: a checkCallback command runs only where its check passes.
        if (c.callback) c.callback();
        else if (c.checkCallback) {
          if (!c.checkCallback(true)) return false;
          c.checkCallback(false);
        }
      } finally {
        currentApp = undefined;
      }
      return true;
    },
    /** What the command palette would list: commands whose check passes (or that have none). */
    listCommands: (): Command[] => [...this.commands.commands.values()].filter((c) => !c.checkCallback || c.checkCallback(true) === true),
  };
  setting = { tabs: [] as PluginSettingTab[] };
  statusBar = createElement('div');
  ribbon: { icon: string; title: string; el: HTMLElement; cb: (e: MouseEvent) => unknown }[] = [];

  /** Present only when appFeatures.localStorage is on (older Obsidian versions lack them). */
  loadLocalStorage?: (key: string) => unknown;
  saveLocalStorage?: (key: string, data: unknown) => void;

  constructor(basePath: string, appId: string) {
    this.vault = new Vault(basePath);
    this.workspace = new Workspace(this);
    this.metadataCache = new MetadataCache(this.vault);
    this.fileManager = new FileManager(this.vault);
    this.appId = appId;
    if (appFeatures.secretStorage) this.secretStorage = new SecretStorage();
    if (appFeatures.localStorage) {
      this.loadLocalStorage = (key) => localStore.get(`${appId}:${key}`) ?? null;
      this.saveLocalStorage = (key, data) => (data === null ? localStore.delete(`${appId}:${key}`) : localStore.set(`${appId}:${key}`, data));
    }
  }
}

/** Build an app over a real vault folder (created if missing). */
export function createTestApp(basePath: string, appId = nodePath.basename(basePath)): App {
  fs.mkdirSync(basePath, { recursive: true });
  return new App(basePath, appId);
}

export class Notice {
  noticeEl = createElement('div');
  constructor(
    public message: string | DocumentFragment,
    public duration?: number,
  ) {
    const text = typeof message === 'string' ? message : (message.textContent ?? '');
    this.noticeEl.textContent = text;
    noticeLog.push({ at: Date.now(), message: text });
    currentApp?.notices.push(text);
    Notice.listeners.forEach((l) => l(text));
  }
  static listeners = new Set<(m: string) => void>();
  setMessage(m: string): this {
    this.noticeEl.textContent = m;
    return this;
  }
  hide(): void {}
}

export abstract class Plugin extends Component {
  settings?: unknown;
  constructor(
    public app: App,
    public manifest: PluginManifest,
  ) {
    super();
  }
  private dataPath(): string {
    return nodePath.join(this.app.vault.basePath, this.app.vault.configDir, 'plugins', this.manifest.id, 'data.json');
  }
  async loadData(): Promise<unknown> {
    try {
      return JSON.parse(await fs.promises.readFile(this.dataPath(), 'utf8')) as unknown;
    } catch {
      return null;
    }
  }
  async saveData(data: unknown): Promise<void> {
    await fs.promises.mkdir(nodePath.dirname(this.dataPath()), { recursive: true });
    // Whole or not at all (a temp file renamed over it): a test reading data.json while the
    // plugin saves sees one version or the other, never a half-written file.
    const tmp = `${this.dataPath()}.${process.pid}.${++saves}.tmp`;
    await fs.promises.writeFile(tmp, JSON.stringify(data, null, 2));
    await fs.promises.rename(tmp, this.dataPath());
  }
  addCommand(c: Command): Command {
    const full = { ...c, id: `${this.manifest.id}:${c.id}` };
    const wrapped: Command = {
      ...full,
      callback: c.callback && (() => withApp(this.app, c.callback!)),
    };
    this.app.commands.commands.set(full.id, wrapped);
    this.register(() => this.app.commands.commands.delete(full.id));
    return full;
  }
  removeCommand(id: string): void {
    this.app.commands.commands.delete(`${this.manifest.id}:${id}`);
  }
  addSettingTab(tab: PluginSettingTab): void {
    this.app.setting.tabs.push(tab);
    this.register(() => (this.app.setting.tabs = this.app.setting.tabs.filter((t) => t !== tab)));
  }
  addStatusBarItem(): HTMLElement {
    const el = this.app.statusBar.appendChild(createElement('div'));
    el.classList.add('status-bar-item');
    this.register(() => el.remove());
    return el;
  }
  addRibbonIcon(icon: string, title: string, cb: (e: MouseEvent) => unknown): HTMLElement {
    const el = createElement('div');
    el.setAttribute('aria-label', title);
    const entry = { icon, title, el, cb };
    this.app.ribbon.push(entry);
    this.register(() => (this.app.ribbon = this.app.ribbon.filter((r) => r !== entry)));
    return el;
  }
  registerView(type: string, creator: ViewCreator): void {
    this.app.workspace.viewRegistry.set(type, creator);
    this.register(() => {
      this.app.workspace.detachLeavesOfType(type);
      this.app.workspace.viewRegistry.delete(type);
    });
  }
}

function withApp<T>(app: App, fn: () => T): T {
  const before = currentApp;
  currentApp = app;
  try {
    return fn();
  } finally {
    currentApp = before;
  }
}

/** Tests: attribute the notices of async work to an app (Notice has no app reference). */
export function routeNoticesTo(app: App | undefined): void {
  currentApp = app;
}

export class Modal extends Events {
  static opened: Modal[] = [];
  containerEl = createElement('div');
  modalEl = this.containerEl.appendChild(createElement('div'));
  titleEl = this.modalEl.appendChild(createElement('div'));
  contentEl = this.modalEl.appendChild(createElement('div'));
  isOpen = false;
  constructor(public app: App) {
    super();
  }
  setTitle(t: string): this {
    this.titleEl.textContent = t;
    return this;
  }
  open(): void {
    this.isOpen = true;
    Modal.opened.push(this);
    this.onOpen();
  }
  close(): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    Modal.opened = Modal.opened.filter((m) => m !== this);
    this.onClose();
  }
  onOpen(): void {}
  onClose(): void {}
}

export class TextComponent {
  inputEl: HTMLInputElement;
  private handlers: ((v: string) => unknown)[] = [];
  constructor(containerEl: HTMLElement) {
    this.inputEl = containerEl.appendChild(createElement('input')) as HTMLInputElement;
    this.inputEl.type = 'text';
    this.inputEl.addEventListener('input', () => this.handlers.forEach((h) => h(this.inputEl.value)));
  }
  getValue(): string {
    return this.inputEl.value;
  }
  setValue(v: string): this {
    this.inputEl.value = v;
    return this;
  }
  setPlaceholder(p: string): this {
    this.inputEl.placeholder = p;
    return this;
  }
  onChange(cb: (v: string) => unknown): this {
    this.handlers.push(cb);
    return this;
  }
  /** Test helper: type a value as the user would. */
  simulateInput(v: string): void {
    this.inputEl.value = v;
    this.handlers.forEach((h) => h(v));
  }
}

export class ButtonComponent {
  buttonEl: HTMLButtonElement;
  constructor(containerEl: HTMLElement) {
    this.buttonEl = containerEl.appendChild(createElement('button')) as HTMLButtonElement;
  }
  setButtonText(t: string): this {
    this.buttonEl.textContent = t;
    return this;
  }
  setCta(): this {
    this.buttonEl.classList.add('mod-cta');
    return this;
  }
  setWarning(): this {
    this.buttonEl.classList.add('mod-warning');
    return this;
  }
  onClick(cb: (e: MouseEvent) => unknown): this {
    this.buttonEl.addEventListener('click', (e) => void cb(e as MouseEvent));
    return this;
  }
}

export class ToggleComponent {
  toggleEl = createElement('div');
  private value = false;
  private handlers: ((v: boolean) => unknown)[] = [];
  constructor(containerEl: HTMLElement) {
    this.toggleEl.classList.add('checkbox-container');
    containerEl.appendChild(this.toggleEl);
    // Like Obsidian's toggle: a click flips it and calls the change handlers.
    this.toggleEl.addEventListener('click', () => {
      this.setValue(!this.value);
      for (const h of this.handlers) void h(this.value);
    });
  }
  getValue(): boolean {
    return this.value;
  }
  setValue(v: boolean): this {
    this.value = v;
    this.toggleEl.classList.toggle('is-enabled', v);
    return this;
  }
  onChange(cb: (v: boolean) => unknown): this {
    this.handlers.push(cb);
    return this;
  }
}

export class Setting {
  settingEl: HTMLElement;
  infoEl: HTMLElement;
  nameEl: HTMLElement;
  descEl: HTMLElement;
  controlEl: HTMLElement;
  components: (TextComponent | ButtonComponent | ToggleComponent)[] = [];
  constructor(containerEl: HTMLElement) {
    this.settingEl = containerEl.appendChild(createElement('div'));
    this.settingEl.classList.add('setting-item');
    this.infoEl = this.settingEl.appendChild(createElement('div'));
    this.nameEl = this.infoEl.appendChild(createElement('div'));
    this.nameEl.classList.add('setting-item-name');
    this.descEl = this.infoEl.appendChild(createElement('div'));
    this.controlEl = this.settingEl.appendChild(createElement('div'));
  }
  setName(n: string): this {
    this.nameEl.textContent = n;
    return this;
  }
  setDesc(d: string): this {
    this.descEl.textContent = d;
    return this;
  }
  setHeading(): this {
    this.settingEl.classList.add('setting-item-heading');
    return this;
  }
  addText(cb: (t: TextComponent) => unknown): this {
    const t = new TextComponent(this.controlEl);
    this.components.push(t);
    cb(t);
    return this;
  }
  addButton(cb: (b: ButtonComponent) => unknown): this {
    const b = new ButtonComponent(this.controlEl);
    this.components.push(b);
    cb(b);
    return this;
  }
  addToggle(cb: (t: ToggleComponent) => unknown): this {
    const t = new ToggleComponent(this.controlEl);
    this.components.push(t);
    cb(t);
    return this;
  }
}

export abstract class PluginSettingTab {
  containerEl = createElement('div');
  constructor(
    public app: App,
    public plugin: Plugin,
  ) {}
  abstract display(): void;
  hide(): void {
    this.containerEl.replaceChildren();
  }
}

export interface RequestUrlParam {
  url: string;
  method?: string;
  contentType?: string;
  body?: string | ArrayBuffer;
  headers?: Record<string, string>;
  throw?: boolean;
}

export interface RequestUrlResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
  json: unknown;
  arrayBuffer: ArrayBuffer;
}

export async function requestUrl(req: RequestUrlParam | string): Promise<RequestUrlResponse> {
  const r = typeof req === 'string' ? { url: req } : req;
  const headers: Record<string, string> = { ...(r.headers ?? {}) };
  if (r.contentType) headers['content-type'] = r.contentType;
  const res = await fetch(r.url, { method: r.method ?? 'GET', headers, body: r.body ?? null });
  const buf = await res.arrayBuffer();
  const text = new TextDecoder().decode(buf);
  const out: RequestUrlResponse = {
    status: res.status,
    headers: Object.fromEntries(res.headers.entries()),
    text,
    get json() {
      return JSON.parse(text) as unknown;
    },
    arrayBuffer: buf,
  };
  if (res.status >= 400 && r.throw !== false) {
    throw Object.assign(new Error(`Request failed, status ${res.status}`), { status: res.status, headers: out.headers });
  }
  return out;
}
