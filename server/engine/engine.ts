/**
 * The engine: the relay's single arbiter. Intents arrive from HTTP and from inbox
 * documents; every tick runs the pure scheduler once over the batch, persists the result,
 * then shows it to clients.
 *
 * Invariants:
 * - One tick at a time. A tick: schedule() once -> ONE atomic LevelDB batch (changed
 *   ledger entries + audit entries + archive moves) -> ONE `owp/ledger` transaction ->
 *   answer waiters -> notify onBatch listeners. Write before broadcast: nobody is told of
 *   an outcome that is not on disk.
 * - LevelDB is the authority: on open the in-memory ledger is read from it and the ledger
 *   doc is made to match.
 * - Each intent gets exactly one outcome. The same id twice in one batch is arbitrated
 *   once (both callers get the same answer); an id already in the ledger gets its stored
 *   outcome (the scheduler's rule).
 * - Heartbeats are liveness, not history: their outcomes are not stored, they write no
 *   audit entries, and a lease's new expiry reaches the ledger doc only when it moved by a
 *   quarter of the TTL or more (LevelDB always has the exact expiry).
 * - Finished tasks past `retentionMs` move to `archive/task/<id>` (same atomic batch) and
 *   leave both documents; outcomes past it leave the ledger doc (kept in LevelDB).
 * - A batch the scheduler throws on is retried one intent per batch; an intent that fails
 *   alone gets a stored `internal` outcome, so one bad intent never blocks the others.
 * - A failed write leaves memory, audit head and documents as they were; the waiters of
 *   that batch get `internal`.
 * - ledger() is the current ledger, safe to keep across an await (the scheduler session's
 *   rule: a ledger handed out never changes, except that its outcomes only grow).
 */
import * as Y from 'yjs';
import { OwpError } from '../../shared/errors.js';
import { type AuditEvent, type Intent, type Ledger, type Outcome, type TaskRuntime } from '../../shared/model.js';
import { SchedulerSession, type ScheduleFn, type SessionBatch } from '../../shared/scheduler/index.js';
import type { AuditLog } from '../audit/index.js';
import type { BatchResult, Logger } from '../ports.js';
import type { Store, StoreOp } from '../store/index.js';
import type { BoardView } from './board.js';
import { InboxWatcher, type RejectedIntent } from './inboxes.js';
import { ARCHIVE_PREFIX, planArchive, settleOutcomes } from './batch-steps.js';
import { LatencyRecorder, type LatencySummary } from './latency.js';
import { applyToLedgerDoc, diffLedger, diffLedgerIds, ledgerFromEntries, ledgerOps, LEDGER_PREFIX, resetLedgerDoc, withoutHeartbeatNoise, type LedgerDiff } from './ledger-sync.js';

export interface EngineOptions {
  store: Store;
  audit: AuditLog;
  board: BoardView;
  ledgerDoc: Y.Doc;
  /** A plain scheduler to use instead of the session's incremental one (tests inject faults). */
  schedule?: ScheduleFn;
  now: () => number;
  log: Logger;
  /** Wait this long after the first intent of a batch before arbitrating (default 5 ms). */
  tickMs?: number;
  /** Finished tasks older than this leave the live documents (default 7 days). */
  retentionMs?: number;
  /** How often the sweeper looks for expired leases (default 250 ms). */
  sweepMs?: number;
  /** How often the sweeper looks for tasks to archive (default 60 s). */
  archiveEveryMs?: number;
}

interface Pending {
  intent: Intent;
  ephemeral: boolean;
  /** performance.now() when it was queued (for the relay-side latency figures). */
  queuedAt: number;
  waiters: { resolve: (o: Outcome) => void; reject: (e: unknown) => void }[];
}

const DAY = 24 * 60 * 60 * 1000;

export class Engine {
  readonly inboxes: InboxWatcher;
  private readonly session: SchedulerSession;
  private readonly pending = new Map<string, Pending>();
  private readonly rejectedQueue: RejectedIntent[] = [];
  /** Intents of a batch the scheduler threw on, retried one per batch to isolate the cause. */
  private readonly solo: Pending[] = [];
  private backoffMs = 0;
  private readonly listeners = new Set<(r: BatchResult, diff: LedgerDiff) => void>();
  private timer: NodeJS.Timeout | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private stopping = false;
  private archiveDue = false;
  private lastArchiveCheck = 0;
  private earliestExpiry = Infinity;
  private hbSeq = 0;
  /** The board changed since the last tick: run one (even without intents) so new or
   * cancelled tasks get their runtime at once, not at the next unrelated intent. */
  private boardDirty = false;
  /** Board task ids changed since the ledger in memory was made (the scheduler's hints);
   * null when unknown (start-up, a failed batch): the next batch reconciles everything. */
  private boardChanged: Set<string> | null = null;
  private unsubscribeBoard: (() => void) | undefined;
  readonly tickMs: number;
  readonly retentionMs: number;
  /** Batches run and their timings, for /api/status and the benchmark. */
  readonly stats = { batches: 0, intents: 0, lastBatchMs: 0, maxBatchMs: 0, scheduleMs: 0, persistMs: 0, applyMs: 0 };

  private constructor(
    private readonly o: EngineOptions,
    ledger: Ledger,
  ) {
    this.session = new SchedulerSession(ledger, o.schedule);
    this.tickMs = o.tickMs ?? 5;
    this.retentionMs = o.retentionMs ?? 7 * DAY;
    this.inboxes = new InboxWatcher({
      known: (id) =>
        this.session.outcome(id) !== undefined || this.pending.has(id) || this.rejectedQueue.some((r) => r.id === id) || this.solo.some((p) => p.intent.id === id),
      intent: (intent) => {
        void this.enqueue(intent, false).catch(() => undefined);
      },
      rejected: (r) => {
        this.rejectedQueue.push(r);
        this.kick();
      },
    });
  }

  static async open(o: EngineOptions): Promise<Engine> {
    const ledger = ledgerFromEntries(await o.store.entries<unknown>(LEDGER_PREFIX));
    const engine = new Engine(o, ledger);
    resetLedgerDoc(o.ledgerDoc, ledger, o.now(), o.now() - (o.retentionMs ?? 7 * DAY));
    // A crash between archiving and removing from the board must not resurrect the task.
    const stale: string[] = [];
    for (const id of Object.keys(o.board.board().tasks)) {
      if (!(id in ledger.tasks) && (await o.store.get(ARCHIVE_PREFIX + id)) !== undefined) stale.push(id);
    }
    o.board.removeTasks(stale);
    engine.recomputeExpiry();
    engine.lastArchiveCheck = o.now();
    engine.archiveDue = true;
    engine.startSweeper();
    engine.unsubscribeBoard = o.board.onChange((delta) => {
      if (engine.boardChanged) for (const id in delta.tasks) engine.boardChanged.add(id);
      if (engine.stopping) return;
      engine.boardDirty = true;
      engine.kick();
    });
    return engine;
  }

  ledger(): Ledger {
    return this.session.ledger();
  }

  /** The current runtime of one task (no snapshot taken: for reads on the hot path). */
  runtime(taskId: string): TaskRuntime | undefined {
    return this.session.task(taskId);
  }

  /** The ledger as clients are shown it: outcomes past the retention window left out. */
  visibleLedger(): Ledger {
    const cutoff = this.o.now() - this.retentionMs;
    const outcomes: Ledger['outcomes'] = {};
    const ledger = this.session.ledger();
    for (const [id, o] of Object.entries(ledger.outcomes)) if (o.at > cutoff) outcomes[id] = o;
    return { ...ledger, outcomes };
  }

  /** The latest audit events (at most 100, newest last), as in the ledger doc's `recent`. */
  recent(): AuditEvent[] {
    return this.o.ledgerDoc.getArray<AuditEvent>('recent').toArray();
  }

  onBatch(listener: (r: BatchResult, diff: LedgerDiff) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  attachInbox(workerId: string, doc: Y.Doc): void {
    this.inboxes.attach(workerId, doc);
  }

  /** Queue an intent for the next tick; resolves with its outcome once persisted and shown. */
  submit(intent: Intent): Promise<Outcome> {
    return this.enqueue(intent, false);
  }

  /** A heartbeat: arbitrated like any intent, but neither stored as an outcome nor audited. */
  heartbeat(workerId: string, taskId: string, fencingToken: number): Promise<Outcome> {
    this.hbSeq += 1;
    const id = `hb:${workerId}:${taskId}:${this.hbSeq}`;
    return this.enqueue({ kind: 'heartbeat', id, workerId, taskId, fencingToken }, true);
  }

  /** Awareness heartbeats: `{ workerId, leases: { taskId: fencingToken } }` from a worker's socket. */
  awarenessHeartbeat(workerId: string, state: unknown): void {
    if (this.stopping || !state || typeof state !== 'object') return;
    const s = state as { workerId?: unknown; leases?: unknown };
    if (s.workerId !== undefined && s.workerId !== workerId) return;
    if (!s.leases || typeof s.leases !== 'object') return;
    for (const [taskId, token] of Object.entries(s.leases as Record<string, unknown>)) {
      if (typeof token !== 'number' || !Number.isInteger(token) || token < 1) continue;
      const rt = this.session.task(taskId);
      if (!rt?.lease || rt.lease.workerId !== workerId || rt.lease.fencingToken !== token) continue;
      void this.heartbeat(workerId, taskId, token).catch(() => undefined);
    }
  }

  private enqueue(intent: Intent, ephemeral: boolean): Promise<Outcome> {
    if (this.stopping) return Promise.reject(new OwpError('shutting-down', 'The relay is shutting down; retry in a moment.'));
    // A repeated id: its stored (persisted) outcome, without waiting for a batch.
    const stored = ephemeral ? undefined : this.session.outcome(intent.id);
    if (stored) return Promise.resolve(stored);
    return new Promise<Outcome>((resolve, reject) => {
      const p = this.pending.get(intent.id);
      if (p) p.waiters.push({ resolve, reject });
      else this.pending.set(intent.id, { intent, ephemeral, queuedAt: performance.now(), waiters: [{ resolve, reject }] });
      this.kick();
    });
  }

  private kick(): void {
    if (this.timer || this.inFlight) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.runTick();
    }, this.tickMs + this.backoffMs);
  }

  private startSweeper(): void {
    const every = this.o.sweepMs ?? 250;
    this.sweeper = setInterval(() => {
      if (this.stopping || this.inFlight || this.timer) return;
      const now = this.o.now();
      if (now - this.lastArchiveCheck >= (this.o.archiveEveryMs ?? 60_000)) {
        this.lastArchiveCheck = now;
        this.archiveDue = true;
      }
      // earliestExpiry is a lower bound (kept cheaply per batch); check it exactly before a tick.
      if (this.earliestExpiry <= now) this.recomputeExpiry();
      if (this.earliestExpiry <= now || this.archiveDue) void this.runTick();
    }, every);
    this.sweeper.unref?.();
  }

  private recomputeExpiry(): void {
    this.earliestExpiry = this.session.earliestExpiry();
  }

  private runTick(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    const p = this.tick().finally(() => {
      this.inFlight = undefined;
      if (this.pending.size > 0 || this.rejectedQueue.length > 0 || this.solo.length > 0 || this.boardDirty) this.kick();
    });
    this.inFlight = p;
    return p;
  }

  private async tick(): Promise<void> {
    const started = performance.now();
    this.boardDirty = false;
    let batchEntries: Pending[];
    if (this.solo.length > 0) batchEntries = [this.solo.shift()!];
    else {
      batchEntries = [...this.pending.values()];
      this.pending.clear();
    }
    const rejected = this.rejectedQueue.splice(0);
    try {
      await this.arbitrate(started, batchEntries, rejected);
    } catch (e) {
      this.failBatch(e, batchEntries, rejected);
    }
  }

  /**
   * A throw anywhere after the batch was taken (a bug: diffing, audit, applying to the
   * document) must not leave its callers waiting forever or stop the engine: every waiter
   * gets `internal` (a waiter already answered keeps its answer), the next batch reconciles
   * the whole board, and the ledger document is rebuilt from the in-memory ledger (which is
   * what LevelDB holds: memory moves only after a successful write).
   */
  private failBatch(e: unknown, batchEntries: Pending[], rejected: RejectedIntent[]): void {
    this.o.log.error('batch failed after arbitration', { error: String((e as Error)?.stack ?? e) });
    this.boardChanged = null;
    // Refused inbox intents get their stored outcome in a later batch (skipped if stored).
    this.rejectedQueue.unshift(...rejected);
    this.backoffMs = Math.min(5000, Math.max(100, this.backoffMs * 2));
    const err = new OwpError('internal', 'The relay failed while recording this batch; retry with the same intent id. The relay log has details.');
    for (const b of batchEntries) for (const w of b.waiters) w.reject(err);
    try {
      const now = this.o.now();
      resetLedgerDoc(this.o.ledgerDoc, this.session.ledger(), now, now - this.retentionMs);
    } catch (again) {
      this.o.log.error('could not rebuild the ledger document', { error: String(again) });
    }
  }

  private async arbitrate(started: number, batchEntries: Pending[], rejected: RejectedIntent[]): Promise<void> {
    const now = this.o.now();
    const intents = batchEntries.map((e) => e.intent);
    let result: SessionBatch;
    // Board changes from here on are the next batch's hints. A batch that fails sets
    // boardChanged to null: unknown, so the next batch reconciles the whole board.
    const changedTasks = this.boardChanged;
    this.boardChanged = new Set();
    try {
      result = this.session.schedule({ board: this.o.board.board(), profiles: this.inboxes.profiles }, intents, now, changedTasks);
    } catch (e) {
      this.boardChanged = null;
      this.o.log.error('scheduler failed on a batch', { intents: intents.length, error: String((e as Error)?.stack ?? e) });
      this.rejectedQueue.unshift(...rejected);
      if (batchEntries.length > 1) {
        // One bad intent must not block the others: retry them one per batch.
        this.solo.push(...batchEntries);
        return;
      }
      const b = batchEntries[0];
      if (b) {
        const message = `The scheduler failed on intent ${b.intent.id}; it was not applied. The relay log has details; report it.`;
        for (const w of b.waiters) w.reject(new OwpError('internal', message));
        // Stored as its outcome, so an inbox intent is not retried forever.
        if (!b.ephemeral) this.rejectedQueue.push({ id: b.intent.id, workerId: b.intent.workerId, kind: b.intent.kind, code: 'internal', message });
      } else {
        // Nothing to isolate: the state itself trips the scheduler. Back off, keep the relay up.
        this.backoffMs = Math.min(5000, Math.max(100, this.backoffMs * 2));
      }
      return;
    }
    this.backoffMs = 0;
    const scheduled = performance.now();
    this.stats.scheduleMs += scheduled - started;
    const prev = result.input;
    const next = result.ledger;
    const batch = next.batch;
    const ephemeralIds = new Set<string>();
    for (const b of batchEntries) if (b.ephemeral) ephemeralIds.add(b.intent.id);
    const byId = new Map<string, Outcome>();
    for (const o of result.outcomes) byId.set(o.intentId, o);
    const settled = settleOutcomes(next.outcomes, result.events, ephemeralIds, rejected, (id) => this.session.outcome(id) !== undefined, batch, now);
    const events = settled.events;
    const changes = result.changed;
    let tasks = next.tasks;
    let archiveOps: StoreOp[] = [];
    let archived: string[] = [];
    let pruned: string[] = [];
    if (this.archiveDue) {
      this.archiveDue = false;
      const plan = planArchive(next.tasks, this.o.ledgerDoc.getMap<Outcome>('outcomes').entries(), (id) => this.o.board.rawTask(id), now, this.retentionMs);
      ({ ops: archiveOps, archived, pruned } = plan);
      tasks = plan.tasks;
    }
    const outcomeIds = [...intents.map((i) => i.id), ...rejected.map((r) => r.id)];
    const after: Ledger = { ...next, tasks, outcomes: settled.outcomes };
    const diff =
      changes && archived.length === 0
        ? diffLedgerIds(prev, after, changes.tasks, changes.workers, outcomeIds)
        : diffLedger(prev, after, outcomeIds);
    const { ops: auditOps, entries } = this.o.audit.prepare(events);
    const ops: StoreOp[] = [...(ledgerOps(diff, batch, now) as StoreOp[]), ...auditOps, ...archiveOps];
    try {
      await this.o.store.batch(ops);
    } catch (e) {
      this.boardChanged = null;
      this.o.log.error('ledger write failed; batch dropped', { error: String(e) });
      this.rejectedQueue.unshift(...rejected);
      this.backoffMs = Math.min(5000, Math.max(100, this.backoffMs * 2));
      const err = new OwpError('internal', 'The relay could not write to its database; nothing was changed. Retry.');
      for (const b of batchEntries) for (const w of b.waiters) w.reject(err);
      return;
    }
    const persisted = performance.now();
    this.stats.persistMs += persisted - scheduled;
    this.o.audit.commit(entries);
    // Memory moves only after the write succeeded: a failed batch leaves it as it was.
    this.session.commit(result, { outcomes: settled.outcomes, tasks });
    for (const rt of Object.values(diff.tasks)) {
      if (rt?.state === 'leased' && rt.lease && rt.lease.expiresAt < this.earliestExpiry) this.earliestExpiry = rt.lease.expiresAt;
    }
    const docDiff = withoutHeartbeatNoise(diff, this.o.ledgerDoc.getMap<unknown>('tasks'));
    const docChanged = Object.keys(docDiff.tasks).length + Object.keys(docDiff.workers).length + Object.keys(docDiff.outcomes).length > 0;
    if (docChanged || events.length > 0 || pruned.length > 0) applyToLedgerDoc(this.o.ledgerDoc, docDiff, batch, now, events, pruned);
    if (archived.length > 0) {
      this.o.board.removeTasks(archived);
      this.o.log.info('archived finished tasks', { count: archived.length });
    }
    const answered = performance.now();
    this.stats.applyMs += answered - persisted;
    for (const b of batchEntries) {
      const out = byId.get(b.intent.id);
      if (!b.ephemeral) this.latencies.record(answered - b.queuedAt);
      for (const w of b.waiters) {
        if (out) w.resolve(out);
        else w.reject(new OwpError('internal', `The scheduler gave no outcome for intent ${b.intent.id}; retry with the same id.`));
      }
    }
    const ms = performance.now() - started;
    this.stats.batches += 1;
    this.stats.intents += intents.length;
    this.stats.lastBatchMs = ms;
    if (ms > this.stats.maxBatchMs) this.stats.maxBatchMs = ms;
    const br: BatchResult = { batch, outcomes: result.outcomes.filter((o) => !ephemeralIds.has(o.intentId)), events, tasks: diff.tasks };
    // The next batch's working copy of the task record, made while waiting for its intents.
    setImmediate(() => {
      if (!this.inFlight) this.session.prepare();
    });
    this.lastDiff = docDiff;
    for (const l of this.listeners) {
      try {
        l(br, docDiff);
      } catch (e) {
        this.o.log.warn('onBatch listener failed', { error: String(e) });
      }
    }
  }

  private readonly latencies = new LatencyRecorder();

  /** Queue-to-answer time (ms) of non-heartbeat intents answered after the `since`-th one. */
  latency(since = 0): LatencySummary {
    return this.latencies.summary(since);
  }

  /** What the last batch changed as clients see it (heartbeat-only expiry moves left out). */
  lastDiff: LedgerDiff = { tasks: {}, workers: {}, outcomes: {} };


  /** Run a batch now (tests, shutdown); resolves when it is persisted and shown. */
  async flush(): Promise<void> {
    if (this.inFlight) await this.inFlight;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.size > 0 || this.rejectedQueue.length > 0) await this.runTick();
  }

  /** Run the sweeper's check now (tests): expiry and archiving. */
  async sweep(): Promise<void> {
    this.archiveDue = true;
    await this.flush();
    await this.runTick();
  }

  /** Stop taking intents, finish the tick in flight and the ones queued, stop timers. */
  async stop(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    await this.flush();
    this.stopping = true;
    this.unsubscribeBoard?.();
    await this.flush();
    this.inboxes.close();
  }
}
