/**
 * BoardView: the relay's validated, incrementally maintained view of the `owp/board` Y.Doc,
 * and the in-process writes the relay makes to it (upsert, patch, repo policy, trust,
 * archive removal).
 *
 * Invariants:
 * - The Y.Doc is the truth; `board()` is a cache rebuilt per changed key from doc events,
 *   so a tick never walks the whole document.
 * - A task map that fails validation is left in the document untouched, kept out of the
 *   board and listed in `invalidTasks()` with the reason. Nothing here deletes a task,
 *   except `removeTasks` (archiving of finished tasks, called by the engine).
 * - Writes set only fields whose JSON value really changes: re-importing the same tasks
 *   changes nothing and broadcasts nothing. Fields an upsert does not state are kept.
 * - Every relay write is one transaction with origin 'relay', or a `BoardWrite` naming the
 *   person it acts for (an HTTP route); a write from a sync peer has that peer as origin.
 * - Hold, unhold, priority and trust changes of existing entries are reported to listeners
 *   as `edits` (before, after, actor) so the engine audits them, whoever wrote them.
 */
import * as Y from 'yjs';
import { OwpError } from '../../shared/errors.js';
import { ORIGIN } from '../../shared/protocol.js';
import {
  DEFAULTS,
  TaskSchema,
  parseRepoPolicy,
  parseTask,
  type Board,
  type RepoPolicy,
  type RiskTier,
  type Task,
  type TaskInput,
} from '../../shared/model.js';
import { parseTrustKey } from '../../shared/trust-ladder.js';
import { boundClientItems } from '../../shared/yjs-clients.js';
import type { UpsertResult } from '../ports.js';

export interface InvalidTask {
  taskId: string;
  field?: string;
  message: string;
}

/** A task as an upsert takes it: `createdAt` may be left out (now, or the existing task's). */
export type UpsertTaskInput = Omit<TaskInput, 'createdAt'> & { createdAt?: number };

export interface BoardDelta {
  tasks: Record<string, Task | null>;
  repos: Record<string, RepoPolicy | null>;
  trust: Record<string, RiskTier | null>;
  /** Audited changes of existing entries (hold, priority, trust), in key order. */
  edits?: BoardEdit[];
}

/** One audited board change: what, of which task or worker, before and after, by whom. */
export interface BoardEdit {
  kind: 'task-held' | 'task-unheld' | 'task-priority-changed' | 'trust-changed';
  taskId?: string;
  workerId?: string;
  /** A trust override for one repo (absent: the worker's base trust). */
  repo?: string;
  /** Absent for an override that did not exist before / was cleared. */
  before?: number | boolean;
  after?: number | boolean;
  actor: string;
}

/** The origin of a relay write made for a person (an HTTP route): the audit names them. */
export class BoardWrite {
  constructor(readonly actor: string) {}
}

/** Who a transaction origin is: a BoardWrite's actor, a sync peer's (via `peerActor`), else 'relay'. */
export type OriginActor = (origin: unknown) => string | undefined;

const RELAY = ORIGIN.relay;
const originOf = (actor: string | undefined): unknown => (actor === undefined ? RELAY : new BoardWrite(actor));
/** Task fields the schema knows; anything else a client left in a task map is not merged into an upsert. */
const TASK_FIELDS = new Set(Object.keys(TaskSchema.shape));

function knownFields(raw: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!raw) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) if (TASK_FIELDS.has(k)) out[k] = v;
  return out;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function mapToObject(m: unknown): Record<string, unknown> | undefined {
  if (m instanceof Y.Map) return m.toJSON() as Record<string, unknown>;
  if (m && typeof m === 'object' && !Array.isArray(m)) return m as Record<string, unknown>;
  return undefined;
}

export class BoardView {
  doc!: Y.Doc;
  private tasksMap!: Y.Map<unknown>;
  private reposMap!: Y.Map<unknown>;
  private trustMap!: Y.Map<unknown>;
  private readonly cache: Board = { tasks: {}, repos: {}, trust: {} };
  private readonly invalid = new Map<string, InvalidTask>();
  private readonly invalidRepos = new Map<string, InvalidTask>();
  private readonly listeners = new Set<(d: BoardDelta) => void>();

  /** `peerActor` names the person behind a sync peer's write (the relay passes actorOf). */
  constructor(
    doc: Y.Doc,
    private readonly peerActor: OriginActor = () => undefined,
  ) {
    this.useDoc(doc);
    for (const k of this.tasksMap.keys()) this.refreshTask(k);
    for (const k of this.reposMap.keys()) this.refreshRepo(k);
    for (const k of this.trustMap.keys()) this.refreshTrust(k);
  }

  /** Watch `doc` (at start, and when `owp/board` was rotated: the same content, a new document). */
  useDoc(doc: Y.Doc): void {
    this.doc = doc;
    this.tasksMap = doc.getMap('tasks');
    this.reposMap = doc.getMap('repos');
    this.trustMap = doc.getMap('trust');
    this.tasksMap.observeDeep((evs) => this.onEvents(evs, 'tasks'));
    this.reposMap.observeDeep((evs) => this.onEvents(evs, 'repos'));
    this.trustMap.observeDeep((evs) => this.onEvents(evs, 'trust'));
  }

  board(): Board {
    return this.cache;
  }

  invalidTasks(): InvalidTask[] {
    return [...this.invalid.values(), ...this.invalidRepos.values()];
  }

  onChange(listener: (d: BoardDelta) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private onEvents(evs: Y.YEvent<any>[], which: 'tasks' | 'repos' | 'trust'): void {
    const keys = new Set<string>();
    for (const ev of evs) {
      if (ev.path.length > 0) keys.add(String(ev.path[0]));
      else for (const k of (ev as unknown as Y.YMapEvent<unknown>).keysChanged) keys.add(k);
    }
    const delta: BoardDelta = { tasks: {}, repos: {}, trust: {} };
    const edits: BoardEdit[] = [];
    const origin = evs[0]?.transaction.origin;
    const actor = () => (origin instanceof BoardWrite ? origin.actor : (this.peerActor(origin) ?? RELAY));
    for (const k of [...keys].sort()) {
      if (which === 'tasks') {
        const before = this.cache.tasks[k];
        const after = (delta.tasks[k] = this.refreshTask(k) ?? null);
        if (before && after && before.held !== after.held) edits.push({ kind: after.held ? 'task-held' : 'task-unheld', taskId: k, before: before.held, after: after.held, actor: actor() });
        if (before && after && before.priority !== after.priority) edits.push({ kind: 'task-priority-changed', taskId: k, before: before.priority, after: after.priority, actor: actor() });
      } else if (which === 'repos') delta.repos[k] = this.refreshRepo(k) ?? null;
      else {
        // `W`: a worker's base trust (absent = the default); `owner/name/W`: an override for one repo.
        const { workerId, repo } = parseTrustKey(k);
        const unset = repo ? undefined : DEFAULTS.workerTrust;
        const before = this.cache.trust[k] ?? unset;
        const after = this.refreshTrust(k) ?? unset;
        delta.trust[k] = this.cache.trust[k] ?? null;
        if (after !== before) edits.push({ kind: 'trust-changed', workerId, ...(repo ? { repo } : {}), before, after, actor: actor() });
      }
    }
    if (edits.length > 0) delta.edits = edits;
    for (const l of this.listeners) l(delta);
  }

  private refreshTask(id: string): Task | undefined {
    const raw = mapToObject(this.tasksMap.get(id));
    this.invalid.delete(id);
    delete this.cache.tasks[id];
    if (!raw) return undefined;
    try {
      const t = parseTask({ ...raw, id });
      this.cache.tasks[id] = t;
      return t;
    } catch (e) {
      const err = e as OwpError;
      this.invalid.set(id, { taskId: id, field: err.field, message: err.message });
      return undefined;
    }
  }

  private refreshRepo(name: string): RepoPolicy | undefined {
    const raw = mapToObject(this.reposMap.get(name));
    this.invalidRepos.delete(name);
    delete this.cache.repos[name];
    if (!raw) return undefined;
    try {
      const p = parseRepoPolicy({ ...raw, repo: name });
      this.cache.repos[name] = p;
      return p;
    } catch (e) {
      const err = e as OwpError;
      this.invalidRepos.set(name, { taskId: `repo:${name}`, field: err.field, message: err.message });
      return undefined;
    }
  }

  private refreshTrust(workerId: string): RiskTier | undefined {
    const v = this.trustMap.get(workerId);
    delete this.cache.trust[workerId];
    if (v === 0 || v === 1 || v === 2 || v === 3) {
      this.cache.trust[workerId] = v;
      return v;
    }
    return undefined;
  }

  /** Writes the changed fields of `next` into the field map at `key`; returns whether anything changed. */
  private writeFields(parent: Y.Map<unknown>, key: string, next: Record<string, unknown>, omit: string): boolean {
    let m = parent.get(key);
    if (!(m instanceof Y.Map)) {
      m = new Y.Map<unknown>();
      parent.set(key, m);
    }
    const ym = m as Y.Map<unknown>;
    let changed = false;
    for (const [f, v] of Object.entries(next)) {
      if (f === omit || v === undefined) continue;
      if (!same(ym.get(f), v)) {
        ym.set(f, v);
        changed = true;
      }
    }
    return changed;
  }

  /**
   * Validate every input first (all or nothing), then write in one transaction.
   * Fields an input leaves out keep their current value on an existing task.
   */
  upsertTasks(inputs: UpsertTaskInput[], now: number, actor?: string): UpsertResult {
    const planned: { id: string; task: Task; exists: boolean; explicit: Set<string> }[] = [];
    for (const [i, input] of inputs.entries()) {
      if (!input || typeof input !== 'object' || Array.isArray(input)) {
        throw new OwpError('invalid-field', `Invalid task: tasks.${i} must be an object.`, `tasks.${i}`);
      }
      const id = (input as { id?: unknown }).id;
      if (typeof id !== 'string' || id.length === 0) {
        throw new OwpError('invalid-field', `Invalid task: tasks.${i}.id must be a non-empty string.`, `tasks.${i}.id`);
      }
      const existing = knownFields(mapToObject(this.tasksMap.get(id)));
      const merged = { ...(existing ?? {}), ...input, id, createdAt: existing?.createdAt ?? input.createdAt ?? now };
      let task: Task;
      try {
        task = parseTask(merged);
      } catch (e) {
        const err = e as OwpError;
        // "Invalid task tasks.3 (octo/app:x): points: must be ..." (parseTask says "Invalid task: ...").
        const detail = err.message.replace(/^Invalid task: /, '');
        throw new OwpError(err.code, `Invalid task tasks.${i} (${id}): ${detail}`, err.field === undefined ? undefined : `tasks.${i}.${err.field}`);
      }
      const explicit = new Set(Object.keys(input).filter((k) => (input as Record<string, unknown>)[k] !== undefined));
      explicit.add('createdAt');
      planned.push({ id, task, exists: existing !== undefined, explicit });
    }
    const result: UpsertResult = { added: [], updated: [], unchanged: [] };
    // New tasks under a client id with room left: archiving one later costs O(that bound), not O(board).
    boundClientItems(this.doc);
    this.doc.transact(() => {
      for (const p of planned) {
        // A new task gets every field (defaults included); an existing one only what the input states.
        const fields: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(p.task)) if (!p.exists || p.explicit.has(k)) fields[k] = v;
        const changed = this.writeFields(this.tasksMap, p.id, fields, 'id');
        if (!p.exists) result.added.push(p.id);
        else if (changed) result.updated.push(p.id);
        else result.unchanged.push(p.id);
      }
    }, originOf(actor));
    return result;
  }

  patchTask(taskId: string, patch: Partial<Task>, actor?: string): Task {
    const existing = mapToObject(this.tasksMap.get(taskId));
    if (!existing) throw new OwpError('unknown-task', `No task ${taskId} on the board; list tasks with GET /api/tasks.`);
    if (!patch || typeof patch !== 'object' || Array.isArray(patch)) {
      throw new OwpError('invalid-field', 'A task patch must be a JSON object of Task fields.');
    }
    if ('id' in patch && patch.id !== taskId) throw new OwpError('invalid-field', 'The task id cannot be changed by a patch.', 'id');
    const task = parseTask({ ...existing, ...patch, id: taskId });
    this.doc.transact(() => {
      const fields: Record<string, unknown> = {};
      for (const k of Object.keys(patch)) fields[k] = (task as Record<string, unknown>)[k];
      this.writeFields(this.tasksMap, taskId, fields, 'id');
    }, originOf(actor));
    return task;
  }

  putRepo(input: unknown, replace: boolean): RepoPolicy {
    if (!input || typeof input !== 'object' || Array.isArray(input)) {
      throw new OwpError('invalid-field', 'A repo policy must be a JSON object.');
    }
    const repo = (input as { repo?: unknown }).repo;
    if (typeof repo !== 'string') throw new OwpError('invalid-field', 'Invalid repo policy: repo: must be owner/name.', 'repo');
    const existing = replace ? undefined : mapToObject(this.reposMap.get(repo));
    const policy = parseRepoPolicy({ ...(existing ?? {}), ...(input as object) });
    this.doc.transact(() => {
      const m = this.reposMap.get(repo);
      if (replace && m instanceof Y.Map) {
        for (const k of [...m.keys()]) if (!(k in policy)) m.delete(k);
      }
      this.writeFields(this.reposMap, repo, policy as unknown as Record<string, unknown>, '');
    }, RELAY);
    return policy;
  }

  /** Take a repo's policy off the board; false when it had none. (The caller checks it is unused.) */
  deleteRepo(repo: string): boolean {
    if (!this.reposMap.has(repo)) return false;
    this.doc.transact(() => this.reposMap.delete(repo), RELAY);
    return true;
  }

  /** Set (or, with `undefined`, clear) a trust entry: `trustKey(workerId, repo?)`. */
  setTrust(key: string, tier: RiskTier | undefined, actor?: string): void {
    if (this.trustMap.get(key) === tier) return;
    this.doc.transact(() => (tier === undefined ? this.trustMap.delete(key) : this.trustMap.set(key, tier)), originOf(actor));
  }

  /** Archive support: take finished tasks out of the live board. */
  removeTasks(ids: string[]): void {
    if (ids.length === 0) return;
    this.doc.transact(() => {
      for (const id of ids) this.tasksMap.delete(id);
    }, RELAY);
  }

  rawTask(id: string): Record<string, unknown> | undefined {
    return mapToObject(this.tasksMap.get(id));
  }
}
