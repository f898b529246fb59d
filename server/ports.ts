/**
 * The seams between the relay core and the feature modules that plug into it (GitHub
 * sync, web dashboard). Feature modules depend on these interfaces only, never on the
 * relay's internals, so each can be tested with a real relay or alone.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditEvent, Board, Intent, Ledger, Outcome, RepoPolicy, Task, TaskInput, TaskRuntime } from '../shared/model.js';

import type { Role } from '../shared/protocol.js';
import type { MetricsPort } from './metrics/registry.js';

export type { Role };

export interface Principal {
  role: Role;
  tokenId: string;
  /** Set for workers: the one worker id this token acts for. */
  workerId?: string;
  name?: string;
}

export interface Logger {
  /** Optional: loggers without it drop debug lines (server/log creates the relay's). */
  debug?(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** A small namespaced key-value store in the relay's LevelDB (values are JSON). */
export interface KvStore {
  get<T>(key: string): Promise<T | undefined>;
  put(key: string, value: unknown): Promise<void>;
  del(key: string): Promise<void>;
}

export interface BatchResult {
  batch: number;
  outcomes: Outcome[];
  events: AuditEvent[];
  /** Task runtimes as of this batch: at least every one it changed (null: removed). */
  tasks: Record<string, TaskRuntime | null>;
  /** The audit chain's position right after this batch's entries (the arbiter's batches only). */
  audit?: { seq: number; hash: string };
}

export interface UpsertResult {
  added: string[];
  updated: string[];
  unchanged: string[];
}

export interface RelayPort {
  board(): Board;
  ledger(): Ledger;
  /** Create or update tasks on the board (one transaction). Unchanged tasks are not rewritten. */
  upsertTasks(tasks: TaskInput[]): UpsertResult;
  /** Change some fields of a task on the board. Throws OwpError('unknown-task'). */
  patchTask(taskId: string, patch: Partial<Task>): Task;
  putRepo(policy: RepoPolicy): RepoPolicy;
  /** Queue an intent for the next tick; resolves with its outcome once persisted. */
  /** The intent's workerId is its actor: every audit event of it records that id. */
  submitIntent(intent: Intent): Promise<Outcome>;
  /** Called after every arbitrated batch has been persisted and applied. */
  onBatch(listener: (result: BatchResult) => void): () => void;
  kv(namespace: string): KvStore;
  log: Logger;
  now(): number;
  /** The relay's metrics registry (server/metrics): add `owp_*` counters and gauges. */
  metrics?: MetricsPort;
}

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  /** Undefined on routes declared with `auth: 'none'`. */
  principal?: Principal;
  /** Raw request body (already size-limited). */
  rawBody(): Promise<Buffer>;
  /** Parsed JSON body; throws OwpError('invalid-json'). */
  json<T = unknown>(): Promise<T>;
  send(status: number, body: unknown): void;
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path pattern with `:name` segments, e.g. `/api/tasks/:id/claim`. */
  path: string;
  /** Roles allowed; `'none'` means no token needed (health, webhooks, static files). */
  auth: Role[] | 'none';
  handler(ctx: RouteContext): Promise<void> | void;
}

/** A feature module plugged into the relay: routes plus lifecycle. */
export interface RelayFeature {
  name: string;
  routes?: Route[];
  start?(): Promise<void> | void;
  stop?(): Promise<void> | void;
}
