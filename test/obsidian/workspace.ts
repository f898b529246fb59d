/**
 * Test double, workspace part: Component, View, ItemView, MarkdownView, WorkspaceLeaf and
 * Workspace, with views rendered into happy-dom.
 *
 * Invariants:
 * - Components clean up what they registered (events, intervals, DOM events, children)
 *   when unloaded, as Obsidian's do; tests can check `registered()` is empty after unload.
 * - "Typing" is simulated by `Workspace.typeInActiveNote`: an 'editor-change' event
 *   followed by the editor saving the file (vault.modify), like the real editor.
 */
import { createElement } from './dom.js';
import { Events, TFile, normalizePath, type EventRef } from './vault.js';
import type { App } from './app.js';

export class Component {
  private cleanups: (() => void)[] = [];
  private children: Component[] = [];
  _loaded = false;
  /** Test helpers: the promises of the last onload / onunload (Obsidian does not await them). */
  loading: Promise<void> = Promise.resolve();
  unloading: Promise<void> = Promise.resolve();
  load(): void {
    if (this._loaded) return;
    this._loaded = true;
    this.loading = Promise.resolve(this.onload());
  }
  onload(): void | Promise<void> {}
  unload(): void {
    if (!this._loaded) return;
    this._loaded = false;
    for (const c of this.children.splice(0)) c.unload();
    for (const c of this.cleanups.splice(0).reverse()) c();
    this.unloading = Promise.resolve(this.onunload());
  }
  onunload(): void | Promise<void> {}
  addChild<T extends Component>(c: T): T {
    this.children.push(c);
    if (this._loaded) c.load();
    return c;
  }
  removeChild<T extends Component>(c: T): T {
    this.children = this.children.filter((x) => x !== c);
    c.unload();
    return c;
  }
  register(cb: () => unknown): void {
    this.cleanups.push(() => void cb());
  }
  registerEvent(ref: EventRef): void {
    this.cleanups.push(() => ref.e.offref(ref));
  }
  registerInterval(id: number): number {
    this.cleanups.push(() => clearInterval(id as unknown as NodeJS.Timeout));
    return id;
  }
  registerDomEvent(el: EventTarget, type: string, cb: (ev: Event) => unknown): void {
    el.addEventListener(type, cb);
    this.cleanups.push(() => el.removeEventListener(type, cb));
  }
  /** Test helper: how many cleanups are pending. */
  registered(): number {
    return this.cleanups.length;
  }
}

export abstract class View extends Component {
  app: App;
  icon = '';
  navigation = false;
  containerEl: HTMLElement;
  constructor(public leaf: WorkspaceLeaf) {
    super();
    this.app = leaf.app;
    this.containerEl = createElement('div');
    this.containerEl.classList.add('workspace-leaf-content');
  }
  abstract getViewType(): string;
  abstract getDisplayText(): string;
  getIcon(): string {
    return this.icon;
  }
  async onOpen(): Promise<void> {}
  async onClose(): Promise<void> {}
  getState(): Record<string, unknown> {
    return {};
  }
}

export abstract class ItemView extends View {
  contentEl: HTMLElement;
  constructor(leaf: WorkspaceLeaf) {
    super(leaf);
    this.containerEl.appendChild(createElement('div')).classList.add('view-header');
    this.contentEl = this.containerEl.appendChild(createElement('div'));
    this.contentEl.classList.add('view-content');
  }
}

export class Editor {
  private value = '';
  getValue(): string {
    return this.value;
  }
  setValue(v: string): void {
    this.value = v;
  }
}

export class MarkdownView extends ItemView {
  file: TFile | null = null;
  editor = new Editor();
  getViewType(): string {
    return 'markdown';
  }
  getDisplayText(): string {
    return this.file?.basename ?? '';
  }
}

export type ViewCreator = (leaf: WorkspaceLeaf) => View;

export class WorkspaceLeaf extends Events {
  view: View;
  constructor(
    public app: App,
    private workspace: Workspace,
  ) {
    super();
    this.view = new EmptyView(this);
  }
  async setViewState(state: { type: string; active?: boolean; state?: Record<string, unknown> }): Promise<void> {
    const creator = this.workspace.viewRegistry.get(state.type);
    if (!creator) throw new Error(`No view registered for type ${state.type}`);
    await this.replaceView(creator(this));
    if (state.active) this.workspace.setActiveLeaf(this);
  }
  getViewState(): { type: string } {
    return { type: this.view.getViewType() };
  }
  private async replaceView(v: View): Promise<void> {
    await this.view.onClose();
    this.view.unload();
    this.view = v;
    v.load();
    await v.onOpen();
  }
  async openFile(file: TFile): Promise<void> {
    const v = new MarkdownView(this);
    v.file = file;
    v.editor.setValue(await this.app.vault.read(file));
    await this.replaceView(v);
    this.workspace.setActiveLeaf(this);
    this.workspace.trigger('file-open', file);
  }
  detach(): void {
    void this.view.onClose();
    this.view.unload();
    this.workspace.removeLeaf(this);
  }
}

class EmptyView extends ItemView {
  getViewType(): string {
    return 'empty';
  }
  getDisplayText(): string {
    return 'New tab';
  }
}

export class Workspace extends Events {
  leaves: WorkspaceLeaf[] = [];
  activeLeaf: WorkspaceLeaf | null = null;
  viewRegistry = new Map<string, ViewCreator>();
  layoutReady = true;
  containerEl = createElement('div');

  constructor(private app: App) {
    super();
  }

  onLayoutReady(cb: () => unknown): void {
    queueMicrotask(() => void cb());
  }
  setActiveLeaf(leaf: WorkspaceLeaf, _params?: { focus?: boolean }): void {
    this.activeLeaf = leaf;
    this.trigger('active-leaf-change', leaf);
  }
  removeLeaf(leaf: WorkspaceLeaf): void {
    this.leaves = this.leaves.filter((l) => l !== leaf);
    if (this.activeLeaf === leaf) this.activeLeaf = this.leaves[0] ?? null;
  }
  getLeaf(newLeaf?: boolean | 'tab' | 'split' | 'window'): WorkspaceLeaf {
    if (!newLeaf && this.activeLeaf) return this.activeLeaf;
    const leaf = new WorkspaceLeaf(this.app, this);
    this.leaves.push(leaf);
    return leaf;
  }
  getRightLeaf(): WorkspaceLeaf {
    return this.getLeaf('split');
  }
  getLeavesOfType(type: string): WorkspaceLeaf[] {
    return this.leaves.filter((l) => l.view.getViewType() === type);
  }
  detachLeavesOfType(type: string): void {
    for (const l of this.getLeavesOfType(type)) l.detach();
  }
  async revealLeaf(leaf: WorkspaceLeaf): Promise<void> {
    this.setActiveLeaf(leaf);
  }
  getActiveViewOfType<T extends View>(type: abstract new (...args: any[]) => T): T | null {
    const v = this.activeLeaf?.view;
    return v instanceof type ? (v as T) : null;
  }
  getActiveFile(): TFile | null {
    const v = this.activeLeaf?.view;
    return v instanceof MarkdownView ? v.file : null;
  }
  get activeEditor(): { editor: Editor; file: TFile | null } | null {
    const v = this.activeLeaf?.view;
    return v instanceof MarkdownView ? { editor: v.editor, file: v.file } : null;
  }
  async openLinkText(linktext: string, _sourcePath: string, newLeaf?: boolean | 'tab'): Promise<void> {
    const path = normalizePath(linktext.endsWith('.md') ? linktext : `${linktext}.md`);
    const file = this.app.vault.getFileByPath(path);
    if (!file) throw new Error(`No note at ${path}`);
    await this.getLeaf(newLeaf ?? false).openFile(file);
  }
  /** Test helper: the user types in the active note; the editor then saves it. */
  async typeInActiveNote(text: string, save = true): Promise<void> {
    const v = this.activeLeaf?.view;
    if (!(v instanceof MarkdownView) || !v.file) throw new Error('No note is open in the active leaf.');
    v.editor.setValue(text);
    this.trigger('editor-change', v.editor, v);
    if (save) await this.app.vault.modify(v.file, text);
  }
}

