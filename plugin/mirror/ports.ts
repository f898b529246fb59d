/**
 * What the mirror needs from the vault and the UI. Implemented over the Obsidian API in
 * plugin/obsidian/; any other implementation (a test fake) works the same.
 */
export interface NoteStore {
  /** Paths of the markdown notes under a folder (recursively). */
  list(folder: string): string[];
  exists(path: string): boolean;
  /** The note's text, possibly from the vault's cache: for planning; `replace` compares fresh text. */
  read(path: string): Promise<string | undefined>;
  /** Create a note (and its folders). Fails if the path exists. */
  create(path: string, text: string): Promise<void>;
  /**
   * Replace the note's text with `next` only if it still is `expected` (checked at write
   * time); returns false and changes nothing otherwise.
   */
  replace(path: string, expected: string, next: string): Promise<boolean>;
  rename(from: string, to: string): Promise<void>;
  /** Task notes outside `folder`, found cheaply (e.g. the metadata cache): task id -> path. */
  findElsewhere?(folder: string): Map<string, string>;
  /** True while the user is typing in this note (open in the active editor, edited recently). */
  isBusy(path: string): boolean;
}

export type IdSetKind = 'suppressed' | 'noted';

export interface MirrorHost {
  tasksFolder(): string;
  /** Days after which notes of finished tasks move to OWP/Archive/ (0 or absent: never). */
  archiveAfterDays?(): number;
  /** The time now (ms); the real clock when absent. */
  now?(): number;
  /** The local time zone for dates in notes; the machine's when absent. */
  clock?(): import('../../shared/notes/task-note.js').NoteClock;
  canEditBoard(): boolean;
  notice(message: string): void;
  /** A large sync's progress: `done` of `total` tasks synced (called after every batch). */
  progress?(done: number, total: number): void;
  /** Let the app breathe between batches of a large sync (e.g. a zero timeout). */
  pause?(): Promise<void>;
  /**
   * Persisted task id sets: 'suppressed' (the user deleted the note) and 'noted' (the task
   * has had a note in this vault, so a missing note means it was deleted, not never made).
   */
  loadIds(kind: IdSetKind): string[];
  saveIds(kind: IdSetKind, ids: string[]): void;
}
