/**
 * An in-memory RelayPort for unit tests of the GitHub feature, built on the REAL
 * scheduler (shared/scheduler `schedule`). It keeps the board, the ledger and kv in memory
 * and runs one batch per tick, like the relay's engine, but without sockets or LevelDB.
 *
 * Invariants:
 * - Intents are arbitrated by `schedule()` only; this file decides nothing itself.
 * - Board writes are validated with the model's parsers, like the relay does.
 * - kv values round-trip through JSON, as they do in LevelDB.
 * - Log lines are kept in `logs` so tests can check the token never appears.
 */
import { schedule } from '../../shared/scheduler/index.js';
import {
  emptyBoard, emptyLedger, parseRepoPolicy, parseTask, parseWorkerProfile,
  type Board, type Intent, type Ledger, type Outcome, type RepoPolicy, type RepoPolicyInput, type Task, type TaskInput, type WorkerProfile,
} from '../../shared/model.js';
import { OwpError } from '../../shared/errors.js';
import type { BatchResult, KvStore, Logger, RelayPort, UpsertResult } from '../../server/ports.js';

export interface LogLine { level: 'info' | 'warn' | 'error'; msg: string; fields?: Record<string, unknown> }

export class MemoryPort implements RelayPort {
  clock = Date.parse('2026-01-05T00:00:00Z');
  boardState: Board = emptyBoard();
  ledgerState: Ledger = emptyLedger();
  profiles: Record<string, WorkerProfile> = {};
  readonly logs: LogLine[] = [];
  readonly kvData = new Map<string, string>();
  readonly batches: BatchResult[] = [];
  private listeners = new Set<(r: BatchResult) => void>();
  private pending: { intent: Intent; resolve: (o: Outcome) => void }[] = [];
  private timer?: NodeJS.Timeout;

  readonly log: Logger = {
    info: (msg, fields) => this.logs.push({ level: 'info', msg, fields }),
    warn: (msg, fields) => this.logs.push({ level: 'warn', msg, fields }),
    error: (msg, fields) => this.logs.push({ level: 'error', msg, fields }),
  };

  board(): Board { return this.boardState; }
  ledger(): Ledger { return this.ledgerState; }
  now(): number { return this.clock; }

  upsertTasks(tasks: TaskInput[]): UpsertResult {
    const parsed = tasks.map((t) => parseTask(t));
    const out: UpsertResult = { added: [], updated: [], unchanged: [] };
    const next = { ...this.boardState.tasks };
    for (const t of parsed) {
      const prev = next[t.id];
      if (!prev) out.added.push(t.id);
      else if (JSON.stringify(sortKeys(prev)) === JSON.stringify(sortKeys(t))) { out.unchanged.push(t.id); continue; }
      else out.updated.push(t.id);
      next[t.id] = t;
    }
    this.boardState = { ...this.boardState, tasks: next };
    this.soon();
    return out;
  }

  patchTask(taskId: string, patch: Partial<Task>): Task {
    const prev = this.boardState.tasks[taskId];
    if (!prev) throw new OwpError('unknown-task', `No task ${taskId}.`);
    const t = parseTask({ ...prev, ...patch, id: taskId });
    this.boardState = { ...this.boardState, tasks: { ...this.boardState.tasks, [taskId]: t } };
    this.soon();
    return t;
  }

  putRepo(policy: RepoPolicy | RepoPolicyInput): RepoPolicy {
    const p = parseRepoPolicy(policy);
    this.boardState = { ...this.boardState, repos: { ...this.boardState.repos, [p.repo]: p } };
    return p;
  }

  addWorker(profile: Partial<WorkerProfile> & { id: string; skills?: string[] }): WorkerProfile {
    const p = parseWorkerProfile({ name: profile.id, skills: [], capacity: 10, maxConcurrent: 5, ...profile });
    this.profiles = { ...this.profiles, [p.id]: p };
    return p;
  }

  submitIntent(intent: Intent): Promise<Outcome> {
    return new Promise((resolve) => {
      this.pending.push({ intent, resolve });
      this.soon();
    });
  }

  onBatch(listener: (r: BatchResult) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  kv(namespace: string): KvStore {
    const k = (key: string): string => `${namespace}/${key}`;
    return {
      get: async <T>(key: string) => {
        const v = this.kvData.get(k(key));
        return v === undefined ? undefined : (JSON.parse(v) as T);
      },
      put: async (key: string, value: unknown) => { this.kvData.set(k(key), JSON.stringify(value)); },
      del: async (key: string) => { this.kvData.delete(k(key)); },
    };
  }

  /** Run one batch now with every queued intent (also reconciles the board). */
  runBatch(): BatchResult {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    const taken = this.pending;
    this.pending = [];
    const r = schedule({ board: this.boardState, profiles: this.profiles, ledger: this.ledgerState }, taken.map((p) => p.intent), this.clock);
    this.ledgerState = r.ledger;
    const result: BatchResult = { batch: r.ledger.batch, outcomes: r.outcomes, events: r.events, tasks: r.ledger.tasks };
    this.batches.push(result);
    taken.forEach((p, i) => p.resolve(r.outcomes[i]!));
    for (const l of this.listeners) l(result);
    return result;
  }

  /** Submit an intent and run its batch at once; returns its outcome. */
  async act(intent: Intent): Promise<Outcome> {
    const p = this.submitIntent(intent);
    this.runBatch();
    return p;
  }

  private soon(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => { this.timer = undefined; this.runBatch(); }, 1);
  }
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  }
  return v;
}
