/**
 * The vault mirror's shell: watches the board and ledger documents and the vault, gathers
 * the facts the rules need (rules.ts, pure), and performs the effects they return.
 *
 * Invariants:
 * - Every decision is made in rules.ts; this file only reads notes, writes them through the
 *   NoteStore (compare-and-write), moves them, writes the board and keeps the memory.
 * - Effects of one task run in order; a write that finds the note changed stops the plan
 *   and the task is tried again (dirty), as is a task whose note is busy. Many tasks sync
 *   in batches (batches.ts): their writes run in parallel, never two on one path.
 * - The tasks folder is fixed for the life of a mirror (a session).
 * - `suppressed` and `noted` are persisted through the host after every flush.
 */
import type * as Y from 'yjs';
import { TaskSchema, type Task, type TaskRuntime } from '../../shared/model.js';
import { DEFAULT_ARCHIVE_FOLDER } from '../../shared/notes/note-path.js';
import { readTaskNote, type NoteClock } from '../../shared/notes/task-note.js';
import type { IdSetKind, MirrorHost, NoteStore } from './ports.js';
import { canonicalPath, dueForArchive, planGone, planNoteChange, planSync, type Effect, type Memory, type NoteAt, type Place } from './rules.js';
import { PLUGIN_ORIGIN, shortHash } from './board-edits.js';
import { BATCH, PROGRESS_FROM, admit, type Planned } from './batches.js';

export { PLUGIN_ORIGIN } from './board-edits.js';

export class Mirror {
  /** task id -> note path */
  private index = new Map<string, string>();
  /** note path -> the text we last wrote there (to ignore our own echo). */
  private written = new Map<string, string>();
  private memory = new Map<string, Memory>();
  private dirty = new Set<string>();
  /** path -> text we already complained about (one notice per bad version). */
  private complained = new Map<string, string>();
  private running: Promise<void> | undefined;
  private rerun = false;
  private unobserve: (() => void)[] = [];
  private suppressed: Set<string>;
  private noted: Set<string>;
  private unsaved = new Set<IdSetKind>();
  private missing: string[] = [];
  stats = { created: 0, updated: 0, moved: 0, archived: 0 };

  constructor(
    private board: Y.Doc,
    private ledger: Y.Doc,
    private notes: NoteStore,
    private host: MirrorHost,
  ) {
    this.suppressed = new Set(host.loadIds('suppressed'));
    this.noted = new Set(host.loadIds('noted'));
  }

  private place(): Place {
    const clock: NoteClock = this.host.clock?.() ?? { offsetMinutes: (ms) => -new Date(ms).getTimezoneOffset() };
    return { folder: this.host.tasksFolder(), archiveFolder: DEFAULT_ARCHIVE_FOLDER, archiveAfterDays: this.host.archiveAfterDays?.() ?? 0, clock, now: this.host.now?.() ?? Date.now() };
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
    await this.archiveSweep();
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
        const id = readTaskNote(text).id;
        if (id !== undefined) this.index.set(id, path); // the tasks folder wins
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

  runtime(id: string): TaskRuntime | undefined {
    return this.ledger.getMap('tasks').get(id) as TaskRuntime | undefined;
  }

  /** Sync every dirty task to its note; serialised, re-runs while new work arrives. */
  flush(): Promise<void> {
    if (this.running) {
      this.rerun = true;
      return this.running;
    }
    this.running = (async () => {
      // Progress counts tasks, each once however many rounds sync it.
      const count = { seen: new Set<string>(), done: new Set<string>() };
      do {
        this.rerun = false;
        const ids = [...this.dirty];
        this.dirty.clear();
        for (const id of ids) count.seen.add(id);
        await this.syncAll(ids, count);
      } while (this.rerun);
      if (this.progress) this.host.progress?.(count.seen.size, count.seen.size);
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
      this.progress = undefined;
    });
    return this.running;
  }

  /** Progress of a large flush (PROGRESS_FROM tasks or more, over its rounds) while it runs. */
  progress: { done: number; total: number } | undefined;

  /**
   * Sync tasks in batches (batches.ts): facts gathered together, one plan per task, the
   * batch's writes in parallel (each task's effects in order), a pause for the app between
   * batches. A task whose plan must wait (note busy or changed, a path another plan of the
   * batch takes) is tried again.
   */
  private async syncAll(ids: string[], count: { seen: Set<string>; done: Set<string> }): Promise<void> {
    const queue = [...ids];
    for (let at = 0; at < queue.length; ) {
      const chunk = queue.slice(at, at + BATCH);
      at += chunk.length;
      const planned = (await Promise.all(chunk.map((id) => this.planTask(id)))).filter((p): p is Planned => p !== undefined);
      const { run, later } = admit(planned);
      queue.push(...later);
      const ok = await Promise.all(run.map((p) => this.apply(p.effects).catch((e: unknown) => this.failed(p.id, e))));
      ok.forEach((good, i) => good || this.dirty.add(run[i].id));
      for (const id of chunk) if (!later.includes(id)) count.done.add(id);
      const [done, total] = [count.done.size, count.seen.size];
      if (total >= PROGRESS_FROM && done < total) {
        this.progress = { done, total };
        this.host.progress?.(done, total);
      }
      if (at < queue.length) await this.host.pause?.();
    }
  }

  private failed(id: string, e: unknown): true {
    this.host.notice(`OWP: could not update the note of ${id}: ${e instanceof Error ? e.message : String(e)}`);
    return true;
  }

  /** Tasks waiting (e.g. for the user to stop typing). */
  pending(): number {
    return this.dirty.size;
  }

  private async noteAt(path: string): Promise<NoteAt | undefined> {
    if (!this.notes.exists(path)) return undefined;
    return { path, text: await this.notes.read(path), busy: this.notes.isBusy(path) };
  }

  /** Gather the facts of one task and plan its note (undefined when that failed, with a notice). */
  private async planTask(id: string): Promise<Planned | undefined> {
    try {
      const task = this.task(id);
      const place = this.place();
      let path = this.index.get(id);
      if (path !== undefined && !this.notes.exists(path)) {
        this.index.delete(id);
        path = undefined;
      }
      const canonical = task ? canonicalPath(place, task) : '';
      const indexed = path === undefined ? undefined : await this.noteAt(path);
      const atCanonical = task && !indexed && !this.suppressed.has(id) ? await this.noteAt(canonical) : undefined;
      // Two ids can make the same safe name: the second note gets a suffix derived from its id.
      const freePath = task && this.notes.exists(canonical) ? canonical.replace(/\.md$/, ` (${shortHash(id)}).md`) : canonical;
      return { id, effects: planSync({ id, task, runtime: this.runtime(id), place, suppressed: this.suppressed.has(id), noted: this.noted.has(id), memory: this.memory.get(id), indexed, atCanonical, freePath }) };
    } catch (e) {
      this.failed(id, e);
      return undefined;
    }
  }

  /** Perform effects in order; false when the plan must be retried. */
  private async apply(effects: Effect[]): Promise<boolean> {
    for (const e of effects) {
      switch (e.kind) {
        case 'retry':
          return false;
        case 'create':
          this.written.set(e.path, e.text);
          await this.notes.create(e.path, e.text);
          this.stats.created++;
          break;
        case 'write':
          this.written.set(e.path, e.next);
          if (!(await this.notes.replace(e.path, e.expected, e.next))) return false;
          this.stats.updated++;
          break;
        case 'move':
          if (this.notes.exists(e.to)) break;
          await this.notes.rename(e.from, e.to);
          this.noteRenamed(e.from, e.to);
          if (e.to.startsWith(DEFAULT_ARCHIVE_FOLDER + '/')) this.stats.archived++;
          else this.stats.moved++;
          break;
        case 'notice':
          this.host.notice(e.message);
          break;
        case 'complain':
          if (this.complained.get(e.path) !== e.text) {
            this.complained.set(e.path, e.text);
            this.host.notice(`OWP: "${e.path}" was left as it is and nothing was sent from it: ${e.why}`);
          }
          break;
        case 'board':
          this.writeBoard(e.taskId, e.patch);
          break;
        case 'index':
          this.index.set(e.taskId, e.path);
          break;
        case 'remember':
          this.memory.set(e.taskId, e.memory);
          break;
        case 'suppress':
          this.suppressed.add(e.taskId);
          this.unsaved.add('suppressed');
          if (e.missing) this.missing.push(e.taskId);
          break;
        case 'noted':
          this.noted.add(e.taskId);
          this.unsaved.add('noted');
          break;
        case 'dirty':
          this.dirty.add(e.taskId);
          break;
        case 'echo':
          this.written.delete(e.path);
          break;
      }
    }
    return true;
  }

  private writeBoard(taskId: string, patch: Partial<Task>): void {
    const map = this.board.getMap('tasks').get(taskId) as Y.Map<unknown> | undefined;
    if (!map) return;
    this.board.transact(() => {
      for (const [field, value] of Object.entries(patch)) map.set(field, value);
    }, PLUGIN_ORIGIN);
  }

  /**
   * Archive what is due: finished tasks on the board whose time has come are synced again
   * (the rules move their notes), and notes of tasks the relay no longer has are checked.
   * The plugin calls this at start and once a minute.
   */
  async archiveSweep(): Promise<void> {
    const place = this.place();
    if (place.archiveAfterDays <= 0) return;
    const prefix = DEFAULT_ARCHIVE_FOLDER + '/';
    for (const [id, path] of [...this.index]) {
      if (path.startsWith(prefix)) continue;
      if (this.task(id)) {
        if (dueForArchive(place, this.runtime(id))) this.dirty.add(id);
        continue;
      }
      const note = await this.noteAt(path);
      if (note) await this.apply(planGone(place, note));
    }
    await this.flush();
  }

  /** A note changed in the vault (modify or create event). */
  async noteChanged(path: string, text: string): Promise<void> {
    if (this.written.get(path) !== text && !this.notes.exists(path)) return; // moved or deleted since: a later event covers it
    // Our own echo (the rules' first case) needs no facts: no parse.
    let id: string | undefined;
    try {
      id = this.written.get(path) === text ? undefined : readTaskNote(text).id;
    } catch {
      id = undefined;
    }
    const effects = planNoteChange({
      path,
      text,
      lastWritten: this.written.get(path),
      inTasksFolder: path.startsWith(this.host.tasksFolder() + '/'),
      task: id === undefined ? undefined : this.task(id),
      runtime: id === undefined ? undefined : this.runtime(id),
      memory: id === undefined ? undefined : this.memory.get(id),
      canEditBoard: this.host.canEditBoard(),
      place: this.place(),
    });
    if (effects.some((e) => e.kind === 'index')) this.complained.delete(path);
    await this.apply(effects);
    if (effects.some((e) => e.kind === 'dirty')) await this.flush();
  }

  /** Make an existing note the note of a task (before the task appears on the board). */
  adopt(taskId: string, path: string, text: string): void {
    this.index.set(taskId, path);
    this.written.set(path, text);
    this.noted.add(taskId);
    this.unsaved.add('noted');
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
