/**
 * Test double, vault part: Events, TAbstractFile/TFile/TFolder, Vault (on a REAL folder),
 * MetadataCache and FileManager, faithful to the Obsidian API subset OWP Pool uses.
 *
 * Invariants:
 * - Every write goes to disk first; events fire after the disk holds the new content, in
 *   the order Obsidian fires them ('create', 'modify', 'rename', 'delete').
 * - `process` and `processFrontMatter` write (and fire 'modify') only if the text changed.
 * - processFrontMatter reformats the YAML block the way Obsidian does (block lists, plain
 *   scalars where possible), which is why the plugin itself does not use it.
 * - cachedRead answers from memory while a file's mtime and size on disk are those it had
 *   when written or read through the vault, like Obsidian's.
 * - The metadata cache gives Obsidian's answers; it parses a changed note when asked (or for
 *   a 'changed' listener), as Obsidian's worker keeps that cost off the plugin's thread.
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

export interface EventRef {
  e: Events;
  name: string;
  fn: (...args: unknown[]) => unknown;
}

export class Events {
  private handlers = new Map<string, EventRef[]>();
  on(name: string, fn: (...args: any[]) => unknown): EventRef {
    const ref = { e: this, name, fn };
    this.handlers.set(name, [...(this.handlers.get(name) ?? []), ref]);
    return ref;
  }
  off(name: string, fn: (...args: any[]) => unknown): void {
    this.handlers.set(name, (this.handlers.get(name) ?? []).filter((r) => r.fn !== fn));
  }
  offref(ref: EventRef): void {
    this.handlers.set(ref.name, (this.handlers.get(ref.name) ?? []).filter((r) => r !== ref));
  }
  trigger(name: string, ...args: unknown[]): void {
    for (const r of [...(this.handlers.get(name) ?? [])]) r.fn(...args);
  }
  /** True when someone listens to `name`. */
  protected listening(name: string): boolean {
    return (this.handlers.get(name)?.length ?? 0) > 0;
  }
  tryTrigger(ref: EventRef, args: unknown[]): void {
    ref.fn(...args);
  }
}

export function normalizePath(p: string): string {
  let out = p.replace(/[\\/]+/g, '/').replace(/\u00a0|\u202f/g, ' ').replace(/^\/+|\/+$/g, '');
  out = out.normalize('NFC');
  return out === '' ? '/' : out;
}

export abstract class TAbstractFile {
  vault!: Vault;
  path = '';
  name = '';
  parent: TFolder | null = null;
}

export class TFile extends TAbstractFile {
  stat = { ctime: 0, mtime: 0, size: 0 };
  get basename(): string {
    return this.name.replace(/\.[^.]*$/, '');
  }
  get extension(): string {
    const m = /\.([^.]*)$/.exec(this.name);
    return m ? m[1]! : '';
  }
}

export class TFolder extends TAbstractFile {
  children: TAbstractFile[] = [];
  isRoot(): boolean {
    return this.path === '/';
  }
}

/** Desktop Obsidian's adapter for a vault that is a folder on disk. */
export class FileSystemAdapter {
  constructor(private readonly basePath: string) {}
  getBasePath(): string {
    return this.basePath;
  }
  getName(): string {
    return nodePath.basename(this.basePath);
  }
}

export class Vault extends Events {
  private files = new Map<string, TAbstractFile>();
  readonly adapter: FileSystemAdapter;
  private root: TFolder;
  /** Counts for tests. */
  counts = { create: 0, modify: 0, rename: 0, delete: 0 };

  constructor(
    readonly basePath: string,
    readonly configDir = '.obsidian',
  ) {
    super();
    this.adapter = new FileSystemAdapter(basePath);
    this.root = new TFolder();
    this.root.vault = this;
    this.root.path = '/';
    this.files.set('/', this.root);
    this.scan('');
  }

  private scan(rel: string): void {
    for (const ent of fs.readdirSync(nodePath.join(this.basePath, rel), { withFileTypes: true })) {
      if (ent.name.startsWith('.')) continue;
      const p = rel ? `${rel}/${ent.name}` : ent.name;
      if (ent.isDirectory()) {
        this.add(new TFolder(), p);
        this.scan(p);
      } else this.add(new TFile(), p);
    }
  }

  private add<T extends TAbstractFile>(f: T, path: string): T {
    f.vault = this;
    f.path = path;
    f.name = path.split('/').pop()!;
    const parentPath = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '/';
    const parent = this.files.get(parentPath);
    if (!(parent instanceof TFolder)) throw new Error(`Folder ${parentPath} does not exist.`);
    f.parent = parent;
    parent.children.push(f);
    this.files.set(path, f);
    if (f instanceof TFile) this.stat(f);
    return f;
  }

  private stat(f: TFile): void {
    const s = fs.statSync(this.abs(f.path));
    f.stat = { ctime: s.ctimeMs, mtime: s.mtimeMs, size: s.size };
  }

  abs(path: string): string {
    return nodePath.join(this.basePath, path);
  }

  getName(): string {
    return nodePath.basename(this.basePath);
  }
  getRoot(): TFolder {
    return this.root;
  }
  getAbstractFileByPath(path: string): TAbstractFile | null {
    return this.files.get(normalizePath(path)) ?? null;
  }
  getFileByPath(path: string): TFile | null {
    const f = this.getAbstractFileByPath(path);
    return f instanceof TFile ? f : null;
  }
  getFolderByPath(path: string): TFolder | null {
    const f = this.getAbstractFileByPath(path);
    return f instanceof TFolder ? f : null;
  }
  getFiles(): TFile[] {
    return [...this.files.values()].filter((f): f is TFile => f instanceof TFile);
  }
  getMarkdownFiles(): TFile[] {
    return this.getFiles().filter((f) => f.extension === 'md');
  }

  async read(file: TFile): Promise<string> {
    return fs.promises.readFile(this.abs(file.path), 'utf8');
  }
  /**
   * Like Obsidian: the text in memory while the file's mtime and size are those it had then.
   * The stat is taken from disk first, as Obsidian's file watcher keeps it current (tests
   * edit notes on disk behind the vault's back).
   */
  async cachedRead(file: TFile): Promise<string> {
    this.stat(file);
    const c = this.contents.get(file.path);
    if (c && c.mtime === file.stat.mtime && c.size === file.stat.size) return c.text;
    const text = await this.read(file);
    this.keep(file, text);
    return text;
  }
  /** path -> the text written or read through the vault, with the stat it had (cachedRead). */
  private contents = new Map<string, { mtime: number; size: number; text: string }>();
  private keep(f: TFile, text: string): void {
    this.contents.set(f.path, { mtime: f.stat.mtime, size: f.stat.size, text });
  }

  async create(path: string, data: string): Promise<TFile> {
    const p = normalizePath(path);
    if (this.files.has(p)) throw new Error('File already exists.');
    await fs.promises.writeFile(this.abs(p), data, { flag: 'wx' });
    const f = this.add(new TFile(), p);
    this.keep(f, data);
    this.counts.create++;
    this.trigger('create', f);
    return f;
  }

  async createFolder(path: string): Promise<TFolder> {
    const p = normalizePath(path);
    if (this.files.has(p)) throw new Error('Folder already exists.');
    await fs.promises.mkdir(this.abs(p));
    const f = this.add(new TFolder(), p);
    this.trigger('create', f);
    return f;
  }

  async modify(file: TFile, data: string): Promise<void> {
    await fs.promises.writeFile(this.abs(file.path), data);
    this.stat(file);
    this.keep(file, data);
    this.counts.modify++;
    this.trigger('modify', file);
  }

  async append(file: TFile, data: string): Promise<void> {
    await this.modify(file, (await this.read(file)) + data);
  }

  async process(file: TFile, fn: (data: string) => string): Promise<string> {
    const before = await this.read(file);
    const after = fn(before);
    if (after !== before) await this.modify(file, after);
    return after;
  }

  async rename(file: TAbstractFile, newPath: string): Promise<void> {
    const to = normalizePath(newPath);
    if (this.files.has(to)) throw new Error('Destination file already exists!');
    const old = file.path;
    await fs.promises.rename(this.abs(old), this.abs(to));
    const parent = file.parent!;
    parent.children = parent.children.filter((c) => c !== file);
    const moved: [TAbstractFile, string][] = [];
    const walk = (f: TAbstractFile, p: string) => {
      moved.push([f, p]);
      if (f instanceof TFolder) for (const c of f.children) walk(c, `${p}/${c.name}`);
    };
    walk(file, to);
    for (const [f] of moved) {
      this.files.delete(f.path);
      this.contents.delete(f.path);
    }
    const newParentPath = to.includes('/') ? to.slice(0, to.lastIndexOf('/')) : '/';
    const np = this.files.get(newParentPath) as TFolder;
    for (const [f, p] of moved) {
      f.path = p;
      f.name = p.split('/').pop()!;
      this.files.set(p, f);
    }
    file.parent = np;
    np.children.push(file);
    this.counts.rename++;
    this.trigger('rename', file, old);
  }

  async delete(file: TAbstractFile): Promise<void> {
    await fs.promises.rm(this.abs(file.path), { recursive: true });
    file.parent!.children = file.parent!.children.filter((c) => c !== file);
    const gone = (f: TAbstractFile) => {
      this.files.delete(f.path);
      this.contents.delete(f.path);
      if (f instanceof TFolder) f.children.forEach(gone);
    };
    gone(file);
    this.counts.delete++;
    this.trigger('delete', file);
  }

  async trash(file: TAbstractFile): Promise<void> {
    await this.delete(file);
  }
}

export interface CachedMetadata {
  frontmatter?: Record<string, unknown>;
}

const FM_RE = /^---\r?\n([\s\S]*?)\r?\n?---(?:\r?\n|$)/;

export class MetadataCache extends Events {
  private cache = new Map<string, CachedMetadata>();
  /** Notes changed since they were last parsed (parsed when asked, see below). */
  private stale = new Set<string>();
  constructor(private vault: Vault) {
    super();
    // Obsidian parses notes in a worker, off the app's thread. The double parses a changed
    // note when someone asks for its cache, or at once when someone listens to 'changed':
    // the same answers, without charging the plugin's thread for every note written.
    const update = (f: unknown) => {
      if (!(f instanceof TFile) || f.extension !== 'md') return;
      if (this.listening('changed')) void this.index(f);
      else {
        this.cache.delete(f.path);
        this.stale.add(f.path);
      }
    };
    vault.on('create', update);
    vault.on('modify', update);
    vault.on('rename', (f: TAbstractFile, old: string) => {
      const c = this.cache.get(old);
      this.cache.delete(old);
      if (c) this.cache.set(f.path, c);
      if (this.stale.delete(old)) this.stale.add(f.path);
    });
    vault.on('delete', (f: TAbstractFile) => {
      this.cache.delete(f.path);
      this.stale.delete(f.path);
    });
    // Like Obsidian at layout-ready: the cache of existing notes is already built.
    for (const f of vault.getMarkdownFiles()) this.store(f, fs.readFileSync(vault.abs(f.path), 'utf8'), false);
  }

  private async index(f: TFile): Promise<void> {
    this.stale.delete(f.path);
    this.store(f, await this.vault.read(f), true);
  }

  private fresh(path: string): void {
    if (!this.stale.delete(path)) return;
    const f = this.vault.getFileByPath(path);
    if (f) this.store(f, fs.readFileSync(this.vault.abs(path), 'utf8'), false);
  }

  private store(f: TFile, text: string, announce: boolean): void {
    const m = FM_RE.exec(text);
    let frontmatter: Record<string, unknown> | undefined;
    if (m) {
      try {
        // uniqueKeys off: yaml's pairwise check takes seconds on 10,000 keys; Obsidian's reader does not.
        const v = parseYaml(m[1]!, { uniqueKeys: false }) as unknown;
        if (v && typeof v === 'object' && !Array.isArray(v)) frontmatter = v as Record<string, unknown>;
      } catch {
        frontmatter = undefined; // Obsidian shows no properties for broken YAML
      }
    }
    const meta: CachedMetadata = frontmatter ? { frontmatter } : {};
    this.cache.set(f.path, meta);
    if (announce) this.trigger('changed', f, text, meta);
  }

  getFileCache(file: TFile): CachedMetadata | null {
    this.fresh(file.path);
    return this.cache.get(file.path) ?? null;
  }
  getCache(path: string): CachedMetadata | null {
    this.fresh(path);
    return this.cache.get(path) ?? null;
  }
}

export class FileManager {
  constructor(private vault: Vault) {}

  /** Like Obsidian: parse, let fn mutate, write the YAML back reformatted. Throws on bad YAML. */
  async processFrontMatter(file: TFile, fn: (fm: Record<string, unknown>) => void): Promise<void> {
    await this.vault.process(file, (text) => {
      const m = FM_RE.exec(text);
      const data = m ? ((parseYaml(m[1]!) as Record<string, unknown> | null) ?? {}) : {};
      fn(data);
      const yaml = Object.keys(data).length ? stringifyYaml(data, { lineWidth: 0 }) : '';
      const body = m ? text.slice(m[0].length) : text;
      return `---\n${yaml}---\n${body}`;
    });
  }

  async renameFile(file: TAbstractFile, newPath: string): Promise<void> {
    await this.vault.rename(file, newPath);
  }

  getNewFileParent(): TFolder {
    return this.vault.getRoot();
  }
}
