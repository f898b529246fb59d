/**
 * The vault mirror: board + ledger -> one note per task; notes -> board edits.
 *
 * Invariants (the rules it protects):
 * - The documents are the truth; notes are a projection and an editing surface.
 * - A note is written only when a value the plugin owns differs, and only if the note
 *   still holds the text that was read (else it is re-read later). Everything the plugin
 *   does not own survives byte for byte (shared/notes codec).
 * - A note is never rewritten while the user is typing in it: the task stays dirty and is
 *   retried by `flush()` once the note is idle.
 * - The echo of our own writes is ignored (`written` remembers what we wrote).
 * - The tasks folder is fixed for the life of a mirror (a session). Notes are moved only when
 *   their task's title changes and the note still sits where the mirror put it; a note the
 *   user moved, or one in a previous tasks folder, stays where it is.
 * - Deleting or renaming a note never deletes a task. A deleted note's task is remembered
 *   as suppressed and gets a note again only through `restore()`. A task that had a note in
 *   this vault ('noted') whose note is gone was deleted while the plugin was not running:
 *   it is suppressed too, never silently recreated.
 * - Runtime keys come from the ledger alone: a hand edit is put back with a notice. Only
 *   maintainers' edits of descriptive keys and the brief reach the board; a contributor's
 *   are put back with a notice.
 * - A note with malformed frontmatter is left untouched and nothing is pushed from it. Once
 *   fixed, a note the mirror never synced is brought up to date from the board, not pushed.
 */
import type * as Y from 'yjs';
import { TaskSchema, type Task, type TaskRuntime } from '../../shared/model.js';
import {
  EDITABLE_KEYS,
  OWNED_KEYS,
  RUNTIME_KEYS,
  differingKeys,
  ownedValuesFor,
  readTaskNote,
  renderTaskNote,
  taskNotePath,
  updateTaskNote,
  type OwnedValues,
  type TaskNote,
} from '../../shared/notes/task-note.js';
import type { IdSetKind, MirrorHost, NoteStore } from './ports.js';
import { pushNoteEdits, shortHash } from './board-edits.js';

export { PLUGIN_ORIGIN } from './board-edits.js';

export class Mirror {
  /** task id -> note path */
  private index = new Map<string, string>();
  /** note path -> the text we last wrote there (to ignore our own echo). */
  private written = new Map<string, string>();
  /** task id -> canonical path when we last synced it (a change means: move the note). */
  private canonical = new Map<string, string>();
  private dirty = new Set<string>();
  /** task id -> what the note said when we last synced it (the base of a three-way compare). */
  private base = new Map<string, { values: OwnedValues; brief: string }>();
  /** path -> text we already complained about (one notice per bad version). */
  private complained = new Map<string, string>();
  private running: Promise<void> | undefined;
  private rerun = false;
  private unobserve: (() => void)[] = [];
  private suppressed: Set<string>;
  private noted: Set<string>;
  private unsaved = new Set<IdSetKind>();
  /** Tasks found without their note at this sync (deleted while the plugin was not running). */
  private missing: string[] = [];
  /** Counts for tests and the status bar. */
  stats = { created: 0, updated: 0, moved: 0 };

  constructor(
    private board: Y.Doc,
    private ledger: Y.Doc,
    private notes: NoteStore,
    private host: MirrorHost,
  ) {
    this.suppressed = new Set(host.loadIds('suppressed'));
    this.noted = new Set(host.loadIds('noted'));
  }

  private save(): void {
    for (const kind of this.unsaved) this.host.saveIds(kind, [...(kind === 'noted' ? this.noted : this.suppressed)].sort());
    this.unsaved.clear();
  }

  isSuppressed(taskId: string): boolean {
    return this.suppressed.has(taskId);
  }

  /** Index the existing notes and watch the documents. */
  async start(): Promise<void> {
    await this.reindex();
    const tasks = this.board.getMap('tasks');
    const onBoard = (events: Y.YEvent<Y.AbstractType<unknown>>[]) => {
      for (const e of events) {
        if (e.target === tasks) for (const k of e.changes.keys.keys()) this.dirty.add(k);
        else if (typeof e.path[0] === 'string') this.dirty.add(e.path[0]);
      }
      void this.flush();
    };
    tasks.observeDeep(onBoard);
    const rt = this.ledger.getMap('tasks');
    const onLedger = (e: Y.YMapEvent<unknown>) => {
      for (const k of e.changes.keys.keys()) this.dirty.add(k);
      void this.flush();
    };
    rt.observe(onLedger);
    this.unobserve.push(() => tasks.unobserveDeep(onBoard), () => rt.unobserve(onLedger));
    this.markAll();
    await this.flush();
  }

  stop(): void {
    for (const u of this.unobserve) u();
    this.unobserve = [];
  }

  private async reindex(): Promise<void> {
    this.index.clear();
    for (const [id, path] of this.notes.findElsewhere?.(this.host.tasksFolder()) ?? []) this.index.set(id, path);
    for (const path of this.notes.list(this.host.tasksFolder())) {
      const text = await this.notes.read(path);
      if (text === undefined) continue;
      try {
        const id = readTaskNote(text).owned.owp_id;
        if (typeof id === 'string') this.index.set(id, path); // the tasks folder wins
      } catch {
        // malformed notes are reported when they are edited or synced, not at startup
      }
    }
  }

  markAll(): void {
    this.board.getMap('tasks').forEach((_v, id) => this.dirty.add(id));
  }

  /** Task notes (by path) that are not under the tasks folder (moved by the user, or an old folder). */
  notesOutside(folder = this.host.tasksFolder()): string[] {
    const prefix = folder + '/';
    return [...this.index.values()].filter((p) => !p.startsWith(prefix)).sort();
  }

  pathOf(taskId: string): string | undefined {
    return this.index.get(taskId);
  }

  task(id: string): Task | undefined {
    const m = this.board.getMap('tasks').get(id) as Y.Map<unknown> | undefined;
    if (!m || typeof m.toJSON !== 'function') return undefined;
    const r = TaskSchema.safeParse({ id, ...m.toJSON() });
    return r.success ? r.data : undefined;
  }

  private runtime(id: string): TaskRuntime | undefined {
    return this.ledger.getMap('tasks').get(id) as TaskRuntime | undefined;
  }

  /** Sync every dirty task to its note; serialised, re-runs while new work arrives. */
  flush(): Promise<void> {
    if (this.running) {
      this.rerun = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.rerun = false;
        const ids = [...this.dirty];
        this.dirty.clear();
        for (const id of ids) {
          try {
            if (!(await this.syncTask(id))) this.dirty.add(id);
          } catch (e) {
            this.host.notice(`OWP: could not update the note of ${id}: ${e instanceof Error ? e.message : String(e)}`);
          }
        }
      } while (this.rerun);
      if (this.missing.length > 0) {
        const n = this.missing.length;
        this.host.notice(
          `OWP: ${n} task note${n > 1 ? 's were' : ' was'} deleted while Obsidian was closed (${this.missing.slice(0, 3).join(', ')}${n > 3 ? ', ...' : ''}). The tasks stay on the board; run "Restore task note" to get the notes back.`,
        );
        this.missing = [];
      }
      this.save();
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Tasks waiting (e.g. for the user to stop typing). */
  pending(): number {
    return this.dirty.size;
  }

  /** Returns false when the task must be retried later (note busy or changed under us). */
  private async syncTask(id: string): Promise<boolean> {
    const task = this.task(id);
    if (!task) return true; // gone from the board (archived): its note stays as it is
    const want = ownedValuesFor(task, this.runtime(id));
    const canonical = taskNotePath(this.host.tasksFolder(), task);
    let path = this.index.get(id);
    if (path !== undefined && !this.notes.exists(path)) {
      this.index.delete(id);
      path = undefined;
    }
    if (path === undefined && !this.suppressed.has(id) && this.notes.exists(canonical)) {
      // A note sits where this task's note belongs but was not indexed: it is unreadable
      // (say `---js` or bad YAML, at startup), or it is this task's note after all.
      const text = await this.notes.read(canonical);
      if (text === undefined) return false;
      let other: TaskNote;
      try {
        other = readTaskNote(text);
      } catch (e) {
        this.complain(canonical, text, e); // neither "deleted" nor a duplicate: wait for a fix
        return true;
      }
      if (other.owned.owp_id === id) {
        path = canonical;
        this.index.set(id, path);
      }
    }
    if (path === undefined) {
      if (this.suppressed.has(id)) return true;
      if (this.noted.has(id)) {
        this.suppressed.add(id);
        this.unsaved.add('suppressed');
        this.missing.push(id);
        return true;
      }
      // Two ids can make the same safe name (`a/b#1`, `a/b:1`): the second note gets a suffix
      // derived from its id, so its path is stable too.
      const target = this.notes.exists(canonical) ? canonical.replace(/\.md$/, ` (${shortHash(id)}).md`) : canonical;
      const text = renderTaskNote(want, task.body);
      this.written.set(target, text);
      await this.notes.create(target, text);
      this.index.set(id, target);
      this.canonical.set(id, canonical);
      this.base.set(id, { values: want, brief: task.body });
      this.noted.add(id);
      this.unsaved.add('noted');
      this.stats.created++;
      return true;
    }
    if (this.notes.isBusy(path)) return false;
    const text = await this.notes.read(path);
    if (text === undefined) return false;
    let note: TaskNote;
    try {
      note = readTaskNote(text);
    } catch (e) {
      this.complain(path, text, e);
      return true;
    }
    const keys = differingKeys(note.owned, want, OWNED_KEYS).concat(OWNED_KEYS.filter((k) => !(k in note.owned)));
    const values: Partial<OwnedValues> = {};
    for (const k of new Set(keys)) (values as Record<string, unknown>)[k] = want[k];
    const next = updateTaskNote(text, values, note.brief !== task.body ? task.body : undefined);
    if (next !== text) {
      this.written.set(path, next);
      if (!(await this.notes.replace(path, text, next))) return false;
      this.stats.updated++;
    }
    this.base.set(id, { values: want, brief: task.body });
    const before = this.canonical.get(id);
    this.canonical.set(id, canonical);
    // Move only a note that sits where we last put it: one the user moved (or one in a
    // previous tasks folder) stays where it is.
    if (before !== undefined && before !== canonical && path === before && !this.notes.exists(canonical)) {
      await this.notes.rename(path, canonical);
      this.index.set(id, canonical);
      this.stats.moved++;
    }
    return true;
  }

  private complain(path: string, text: string, e: unknown): void {
    if (this.complained.get(path) === text) return;
    this.complained.set(path, text);
    const why = e instanceof Error ? e.message : String(e);
    this.host.notice(`OWP: "${path}" was left as it is and nothing was sent from it: ${why}`);
  }

  /** A note changed in the vault (modify or create event). */
  async noteChanged(path: string, text: string): Promise<void> {
    if (this.written.get(path) === text) {
      this.written.delete(path); // our own write coming back (once)
      return;
    }
    if (!this.notes.exists(path)) return; // moved or deleted since: a later event covers it
    this.written.delete(path);
    let note: TaskNote;
    try {
      note = readTaskNote(text);
    } catch (e) {
      if (path.startsWith(this.host.tasksFolder() + '/') || /owp_id\s*:/.test(text)) this.complain(path, text, e);
      return;
    }
    this.complained.delete(path);
    const id = note.owned.owp_id;
    if (typeof id !== 'string') return;
    const task = this.task(id);
    if (!task) return;
    this.index.set(id, path);
    const want = ownedValuesFor(task, this.runtime(id));
    // An edit is a change from what we last put in the note, not from the board now: a
    // stale note (e.g. written while the user typed) must not undo others' changes.
    const known = this.base.get(id);
    const base = known ?? { values: want, brief: task.body };
    const edited = differingKeys(note.owned, base.values, EDITABLE_KEYS) as (typeof EDITABLE_KEYS)[number][];
    const briefEdited = note.brief !== undefined && note.brief !== base.brief && note.brief !== task.body;
    let putBack = false;
    if (edited.length > 0 || briefEdited) {
      const what = [...edited, ...(briefEdited ? ['the brief'] : [])].join(', ');
      if (!known) {
        // Never synced in this session (it could not be read until now): we cannot tell an
        // edit from a stale copy, and a stale copy must not undo others' changes.
        this.host.notice(`OWP: "${path}" could not be read before, so it was brought up to date from the board instead of being sent (${what}). Make your change again if you meant one.`);
        putBack = true;
      } else if (this.host.canEditBoard()) {
        putBack = !pushNoteEdits(this.board, task, note, edited, briefEdited, path, (m) => this.host.notice(m));
      } else {
        this.host.notice(`OWP: only maintainers can change ${what} of a task; "${path}" was put back.`);
        putBack = true;
      }
    }
    const runtimeEdited = differingKeys(note.owned, want, RUNTIME_KEYS);
    if (runtimeEdited.length > 0) {
      this.host.notice(`OWP: ${runtimeEdited.join(', ')} in "${path}" ${runtimeEdited.length > 1 ? 'are' : 'is'} written by the relay from the ledger; put back.`);
      putBack = true;
    }
    const stale = differingKeys(note.owned, want, OWNED_KEYS).length > 0 || (note.brief !== undefined && note.brief !== task.body);
    if (putBack || stale) {
      this.dirty.add(id);
      await this.flush();
    }
  }

  /** Make an existing note the note of a task (before the task appears on the board). */
  adopt(taskId: string, path: string, text: string): void {
    this.index.set(taskId, path);
    this.written.set(path, text);
    this.noted.add(taskId);
    this.unsaved.add('noted');
    try {
      const n = readTaskNote(text);
      this.base.set(taskId, { values: n.owned as OwnedValues, brief: n.brief ?? '' });
    } catch {
      // the caller just wrote this text; it parses
    }
  }

  noteRenamed(oldPath: string, newPath: string): void {
    for (const [id, p] of this.index) if (p === oldPath) this.index.set(id, newPath);
    const w = this.written.get(oldPath);
    if (w !== undefined) {
      this.written.delete(oldPath);
      this.written.set(newPath, w);
    }
  }

  /** A note was deleted: the task stays on the board; its note is suppressed. */
  noteDeleted(path: string): string | undefined {
    for (const [id, p] of this.index) {
      if (p !== path) continue;
      this.index.delete(id);
      this.suppressed.add(id);
      this.unsaved.add('suppressed');
      this.save();
      return id;
    }
    return undefined;
  }

  /** Bring back deleted task notes (all, or the given ids). Returns the restored ids. */
  async restore(ids?: string[]): Promise<string[]> {
    const chosen = (ids ?? [...this.suppressed]).filter((id) => this.suppressed.has(id));
    for (const id of chosen) {
      this.suppressed.delete(id);
      this.noted.delete(id); // so the missing note is made again, not taken for deleted
      this.dirty.add(id);
    }
    this.unsaved.add('suppressed');
    await this.flush();
    return chosen;
  }
}
