/**
 * NoteStore over the Obsidian vault (Vault.process for compare-and-write) plus the
 * "user is typing" signal from editor-change events.
 *
 * Invariants: `replace` writes only if the note still holds the text the caller read; notes
 * written in parallel never race to create the same folder.
 */
import { normalizePath, TFile, TFolder, type App } from 'obsidian';
import type { NoteStore } from '../mirror/ports.js';
import { taskIdOf } from '../../shared/notes/task-note.js';

export const TYPING_IDLE_MS = 5000;

export class VaultNotes implements NoteStore {
  private lastEdit = new Map<string, number>();

  constructor(
    private app: App,
    private now: () => number,
    private idleMs = TYPING_IDLE_MS,
  ) {}

  /** Call from the workspace 'editor-change' event. */
  edited(path: string): void {
    this.lastEdit.set(path, this.now());
  }

  list(folder: string): string[] {
    const root = this.app.vault.getAbstractFileByPath(normalizePath(folder));
    if (!(root instanceof TFolder)) return [];
    const out: string[] = [];
    const walk = (f: TFolder) => {
      for (const c of f.children) {
        if (c instanceof TFolder) walk(c);
        else if (c instanceof TFile && c.extension === 'md') out.push(c.path);
      }
    };
    walk(root);
    return out;
  }

  findElsewhere(folder: string): Map<string, string> {
    const prefix = normalizePath(folder) + '/';
    const out = new Map<string, string>();
    for (const f of this.app.vault.getMarkdownFiles()) {
      if (f.path.startsWith(prefix)) continue;
      const fm = this.app.metadataCache.getFileCache(f)?.frontmatter;
      const id = fm ? taskIdOf(fm) : undefined;
      if (id !== undefined) out.set(id, f.path);
    }
    return out;
  }

  exists(path: string): boolean {
    return this.app.vault.getAbstractFileByPath(normalizePath(path)) instanceof TFile;
  }

  private file(path: string): TFile | undefined {
    const f = this.app.vault.getAbstractFileByPath(normalizePath(path));
    return f instanceof TFile ? f : undefined;
  }

  /** Notes whose cached text proved stale (a `replace` found other text): read fresh next time. */
  private stale = new Set<string>();

  /**
   * For planning (cachedRead: no disk read for a note unchanged since written); writes compare
   * fresh text. After a `replace` found the note changed, the next read is fresh, so a stale
   * cache can never make the mirror plan against the same old text again and again.
   */
  async read(path: string): Promise<string | undefined> {
    const f = this.file(path);
    if (!f) return undefined;
    if (this.stale.delete(f.path)) return this.app.vault.read(f);
    return this.app.vault.cachedRead(f);
  }

  /** Folders being created: notes written in parallel share one createFolder per folder. */
  private making = new Map<string, Promise<unknown>>();

  private async ensureFolder(path: string): Promise<void> {
    const parts = normalizePath(path).split('/').slice(0, -1);
    let at = '';
    for (const p of parts) {
      at = at ? `${at}/${p}` : p;
      if (this.app.vault.getAbstractFileByPath(at)) continue;
      const folder = at;
      let making = this.making.get(folder);
      if (!making) {
        making = this.app.vault.createFolder(folder).finally(() => this.making.delete(folder));
        this.making.set(folder, making);
      }
      await making;
    }
  }

  async create(path: string, text: string): Promise<void> {
    await this.ensureFolder(path);
    await this.app.vault.create(normalizePath(path), text);
  }

  async replace(path: string, expected: string, next: string): Promise<boolean> {
    const f = this.file(path);
    if (!f) return false;
    let ok = false;
    await this.app.vault.process(f, (current) => {
      if (current !== expected) {
        this.stale.add(f.path);
        return current;
      }
      ok = true;
      return next;
    });
    return ok;
  }

  async rename(from: string, to: string): Promise<void> {
    const f = this.file(from);
    if (!f) return;
    await this.ensureFolder(to);
    await this.app.fileManager.renameFile(f, normalizePath(to));
  }

  isBusy(path: string): boolean {
    const active = this.app.workspace.getActiveFile();
    if (!active || active.path !== normalizePath(path)) return false;
    const at = this.lastEdit.get(active.path);
    return at !== undefined && this.now() - at < this.idleMs;
  }
}
