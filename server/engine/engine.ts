/**
 * The engine: the relay's single arbiter. Intents arrive from HTTP and from inbox
 * documents; every tick decides the batch in the scheduler session, plans its effects
 * (plan.ts) and performs them in order: persist, then show, then answer.
 *
 * Invariants:
 * - One tick at a time. A tick: one scheduled batch -> ONE atomic store batch (ledger
 *   entries + audit entries + archive moves) -> session commit -> ONE `owp/ledger`
 *   transaction -> answers -> onBatch listeners. Nobody is told of an outcome not on disk.
 * - The store is the authority: on open the ledger is read from it and the doc made to match.
 * - Each intent gets exactly one outcome; the same id twice is arbitrated once, also once its
 *   outcome is archived (outcomes.ts). Ids are scoped to their sender: another sender's id
 *   is refused (`conflict`), never answered.
 * - Idle polls (claim-next refused for lack of a fitting task) are counted in
 *   `stats.idlePolls`, not chained into the audit log (plan.ts).
 * - A batch the scheduler throws on is retried one intent per batch; an intent that fails
 *   alone gets a stored `internal` outcome. A failed write leaves memory, audit head and
 *   documents as they were; its callers get `internal` (failures.ts).
 * - ledger() is safe to keep across an await (the session's rule).
 * - Several relays on one database (`forward`): only the active engine ticks; a follower
 *   forwards intents and follows the store (role.ts, follow.ts); activate/deactivate switch roles.
 */
import type * as Y from 'yjs';
import { OwpError } from '../../shared/errors.js';
import type { AuditEvent, Intent, Ledger, Outcome, TaskRuntime } from '../../shared/model.js';
import { SchedulerSession, type SessionBatch } from '../../shared/scheduler/index.js';
import type { BatchResult } from '../ports.js';
import type { BoardEdit } from './board.js';
import { InboxWatcher, type RejectedIntent } from './inboxes.js';
import { onRecordFailed, onScheduleFailed, onWriteFailed, type FailureContext } from './failures.js';
import { answer, forwardAll, intentIdTaken, IntentQueue, tickAfter, type Pending } from './intake.js';
import { loadLedger } from './follow.js';
import { countBatch, LatencyRecorder, type LatencySummary } from './latency.js';
import { applyToLedgerDoc, resetLedgerDoc, visibleLedger, type LedgerDiff } from './ledger-diff.js';
import { notifyListeners, observeBatch } from './observer.js';
import type { EngineOptions } from './options.js';
import { OutcomeArchive } from './outcomes.js';
import { earliestLeaseExpiry, planBatch, type BatchPlan } from './plan.js';
import { Role, type RoleHost } from './role.js';

export type { EngineOptions };

export class Engine {
  readonly inboxes: InboxWatcher;
  private session: SchedulerSession;
  private readonly role: Role;
  private readonly queue = new IntentQueue();
  private backoffMs = 0;
  private readonly listeners = new Set<(r: BatchResult, diff: LedgerDiff) => void>();
  /** Cancels the pending tick (a timer, or an immediate with tickMs 0). */
  private timer: (() => void) | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private stopping = false;
  private archiveDue = false;
  private readonly outcomeArchive: OutcomeArchive;
  private lastArchiveCheck = 0;
  private earliestExpiry = Infinity;
  private heartbeatSeq = 0;
  /** The board changed since the last tick: run one, so new or cancelled tasks get their runtime at once. */
  private boardDirty = false;
  /** Board task ids changed since the session's ledger was made; null (unknown): the next batch reconciles all. */
  private boardChanged: Set<string> | null = null;
  private unsubscribeBoard: (() => void) | undefined;
  /** Board edits (hold, priority, trust) waiting to be audited by the next batch. */
  private edits: BoardEdit[] = [];
  private readonly latencies = new LatencyRecorder();
  readonly tickMs: number;
  readonly retentionMs: number;
  /** Batches run and their timings, for /api/status and the benchmark. */
  readonly stats = { batches: 0, intents: 0, lastBatchMs: 0, maxBatchMs: 0, scheduleMs: 0, persistMs: 0, applyMs: 0, idlePolls: 0 };
  /** What the last batch changed as clients see it (heartbeat-only expiry moves left out). */
  lastDiff: LedgerDiff = { tasks: {}, workers: {}, outcomes: {} };

  /** `owp/ledger` was rotated (server/sync/rotation.ts): write the new document from now on. */
  useLedgerDoc(doc: Y.Doc): void {
    this.opts.ledgerDoc = doc;
  }

  private constructor(
    private readonly opts: EngineOptions,
    ledger: Ledger,
  ) {
    this.session = this.sessionOf(ledger);
    this.tickMs = opts.tickMs ?? 0;
    this.retentionMs = opts.retentionMs ?? 7 * 24 * 60 * 60 * 1000;
    this.role = new Role(this.roleHost());
    this.outcomeArchive = new OutcomeArchive(opts.store);
    this.inboxes = new InboxWatcher({
      sender: (id) => this.session.outcome(id)?.workerId ?? this.queue.senderOf(id),
      // A follower leaves inboxes to the arbiter (it reads the same documents).
      submit: (intent) => (this.role.active ? this.submit(intent) : Promise.resolve(undefined)),
      refuse: (r) => (this.role.active ? this.refuse(r) : undefined),
      taken: (r) => ({ intentId: r.id, kind: r.kind, workerId: r.workerId, status: 'rejected', code: 'conflict', message: intentIdTaken(r.id).message, batch: this.session.batch, at: this.opts.now() }),
    });
  }

  static async open(opts: EngineOptions): Promise<Engine> {
    const engine = new Engine(opts, await (opts.ledger ?? loadLedger(opts.store)));
    await engine.role.start();
    engine.unsubscribeBoard = opts.board.onChange((delta) => {
      if (engine.boardChanged) for (const id in delta.tasks) engine.boardChanged.add(id);
      if (delta.edits) engine.edits.push(...delta.edits);
      if (engine.stopping) return;
      engine.boardDirty = true;
      engine.kick();
    });
    return engine;
  }

  /** Whether this engine arbitrates (a single relay's always does). */
  isActive = (): boolean => this.role.active;

  /** Become the arbiter (elected): ledger and audit head read from the store, inboxes read again. */
  activate = (): Promise<void> => (this.outcomeArchive.reset(), this.role.activate());

  /** Stop arbitrating (deposed): the tick in flight ends (its write is fenced), what is queued is forwarded. */
  deactivate = (): Promise<void> => this.role.deactivate();

  /** Follower: read what the arbiter committed since (coalesced) and tell the listeners. */
  follow = (): Promise<void> => this.role.follow();

  /** Closures over this engine's state for the role code (role.ts). */
  private roleHost(): RoleHost {
    return {
      opts: this.opts,
      retentionMs: this.retentionMs,
      ledger: () => this.session.ledger(),
      resetSession: (ledger, wholeBoard) => {
        this.session = this.sessionOf(ledger);
        if (wholeBoard) this.boardChanged = null;
      },
      startDuties: () => {
        this.earliestExpiry = this.session.earliestExpiry();
        this.lastArchiveCheck = this.opts.now();
        this.archiveDue = true;
        this.startSweeper();
      },
      stopDuties: async () => {
        clearInterval(this.sweeper);
        this.timer?.();
        this.timer = undefined;
        await this.inFlight;
      },
      forwardQueued: () => {
        while (this.queue.hasWork()) forwardAll(this.queue.take().entries, this.opts.forward!);
      },
      resume: () => (this.inboxes.rescan(), this.kick()),
      notify: (result, diff) => this.notify(result, diff),
      stopping: () => this.stopping,
    };
  }

  private sessionOf(ledger: Ledger): SchedulerSession {
    return new SchedulerSession(ledger, { rules: this.opts.rules, replace: this.opts.schedule });
  }

  /** The current ledger; safe to keep (only its outcomes change: the session's rule). */
  ledger(): Ledger {
    return this.session.ledger();
  }

  /** The current runtime of one task, without taking a snapshot (for reads on the hot path). */
  runtime(taskId: string): TaskRuntime | undefined {
    return this.session.task(taskId);
  }

  /** The ledger as clients are shown it: outcomes past the retention window left out. */
  visibleLedger(): Ledger {
    return visibleLedger(this.session.ledger(), this.opts.now() - this.retentionMs);
  }

  /** The latest audit events (at most 100, newest last), as in the ledger doc's `recent`. */
  recent(): AuditEvent[] {
    return this.opts.ledgerDoc.getArray<AuditEvent>('recent').toArray();
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

  /** Store a refusal decided before arbitration (an inbox intent), unless its id has an outcome. */
  refuse(r: RejectedIntent): void {
    if (this.stopping || this.session.outcome(r.id) !== undefined) return;
    this.queue.refuse(r);
    this.kick();
  }

  /** A heartbeat: arbitrated like any intent, but neither stored as an outcome nor audited. */
  heartbeat(workerId: string, taskId: string, fencingToken: number): Promise<Outcome> {
    const id = `hb:${workerId}:${taskId}:${++this.heartbeatSeq}`;
    return this.enqueue({ kind: 'heartbeat', id, workerId, taskId, fencingToken }, true);
  }

  /** Awareness heartbeats (parsed by the sync layer): each lease this worker still holds is renewed. */
  awarenessHeartbeat(workerId: string, leases: readonly { taskId: string; fencingToken: number }[]): void {
    if (this.stopping) return;
    for (const { taskId, fencingToken } of leases) {
      const lease = this.session.task(taskId)?.lease;
      if (!lease || lease.workerId !== workerId || lease.fencingToken !== fencingToken) continue;
      void this.heartbeat(workerId, taskId, fencingToken).catch(() => undefined);
    }
  }

  /** Intents (and inbox refusals) waiting for the next batch. */
  queued(): number {
    return this.queue.size();
  }

  /** Queue-to-answer time (ms) of non-heartbeat intents answered after the `since`-th one. */
  latency(since = 0): LatencySummary {
    return this.latencies.summary(since);
  }

  /** Run a batch now (tests, shutdown); resolves when it is persisted and shown. */
  async flush(): Promise<void> {
    if (this.inFlight) await this.inFlight;
    this.timer?.();
    this.timer = undefined;
    if (this.queue.hasQueued()) await this.runTick();
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

  private enqueue(intent: Intent, ephemeral: boolean): Promise<Outcome> {
    if (this.stopping) return Promise.reject(new OwpError('shutting-down', 'The relay is shutting down; retry in a moment.'));
    if (!this.role.active) return this.opts.forward!(intent, ephemeral);
    // A repeated id: its stored (persisted) outcome, without waiting for a batch. Intent ids
    // are scoped to their sender: another sender's id is refused, never answered with its outcome.
    const stored = ephemeral ? undefined : this.session.outcome(intent.id);
    if (stored && stored.workerId !== intent.workerId) return Promise.reject(intentIdTaken(intent.id));
    if (stored) return Promise.resolve(stored);
    const answered = this.queue.add(intent, ephemeral);
    this.kick();
    return answered;
  }

  /** Schedule a tick (intake.ts `tickAfter`: tickMs 0 is group commit). */
  private kick(): void {
    if (this.timer || this.inFlight || !this.role.active) return;
    this.timer = tickAfter(this.tickMs + this.backoffMs, () => {
      this.timer = undefined;
      void this.runTick();
    });
  }

  private startSweeper(): void {
    const every = this.opts.sweepMs ?? 250;
    this.sweeper = setInterval(() => {
      if (this.stopping || this.inFlight || this.timer) return;
      const now = this.opts.now();
      if (now - this.lastArchiveCheck >= (this.opts.archiveEveryMs ?? 60_000)) {
        this.lastArchiveCheck = now;
        this.archiveDue = true;
      }
      // earliestExpiry is a lower bound (kept cheaply per batch); check it exactly before a tick.
      if (this.earliestExpiry <= now) this.earliestExpiry = this.session.earliestExpiry();
      if (this.earliestExpiry <= now || this.archiveDue) void this.runTick();
    }, every);
    this.sweeper.unref?.();
  }

  private runTick(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    const p = this.tick().finally(() => {
      this.inFlight = undefined;
      if (this.queue.hasWork() || this.boardDirty || this.edits.length > 0) this.kick();
    });
    this.inFlight = p;
    return p;
  }

  private async tick(): Promise<void> {
    const started = performance.now();
    this.boardDirty = false;
    let { entries, rejected } = this.queue.take();
    const edits = this.edits;
    this.edits = [];
    const done = { edits: false };
    try {
      ({ entries, rejected } = await this.outcomeArchive.settle(entries, rejected, (id) => this.session.outcome(id) !== undefined));
      const now = this.opts.now();
      const scheduled = this.decide(entries, rejected, now);
      if (scheduled) await this.record(started, now, scheduled, entries, rejected, edits, done);
    } catch (e) {
      this.failBatch(e, entries, rejected);
    }
    // Edits a batch did not write are audited by the next one.
    if (!done.edits && edits.length > 0) this.edits.unshift(...edits);
  }

  /** The scheduler's part; undefined when it threw (then its intents are isolated or refused). */
  private decide(entries: Pending[], rejected: RejectedIntent[], now: number): SessionBatch | undefined {
    const intents = entries.map((p) => p.intent);
    // Board changes from here on are the next batch's. A batch that fails sets boardChanged
    // to null: unknown, so the next batch reconciles the whole board.
    const changedTasks = this.boardChanged;
    this.boardChanged = new Set();
    try {
      const scheduled = this.session.schedule({ board: this.opts.board.board(), profiles: this.inboxes.profiles }, intents, now, changedTasks);
      this.backoffMs = 0;
      return scheduled;
    } catch (e) {
      this.boardChanged = null;
      this.backoffMs = onScheduleFailed(this.failures(), e, entries, rejected, this.backoffMs);
      return undefined;
    }
  }

  /** Plan the batch's effects and perform them in order: persist, commit, show, answer. */
  private async record(started: number, now: number, scheduled: SessionBatch, entries: Pending[], rejected: RejectedIntent[], edits: BoardEdit[], done: { edits: boolean }): Promise<void> {
    const scheduledAt = performance.now();
    this.stats.scheduleMs += scheduledAt - started;
    const { ledgerDoc, board, audit } = this.opts;
    const archive = this.archiveDue ? { shownOutcomes: ledgerDoc.getMap<Outcome>('outcomes').entries(), outcomes: this.session.storedOutcomes, rawTask: (id: string) => board.rawTask(id), retentionMs: this.retentionMs } : undefined;
    this.archiveDue = false;
    const plan = planBatch(scheduled, { entries, rejected, stored: (id) => this.session.outcome(id) !== undefined, shownTasks: ledgerDoc.getMap<unknown>('tasks'), now, archive, edits });
    // One atomic write: ledger ops and audit entries; the audit head moves only if it succeeded.
    const written = await audit.appendWith(plan.events, plan.storeOps);
    if ('error' in written) {
      this.boardChanged = null;
      this.backoffMs = onWriteFailed(this.failures(), written.error, entries, rejected, this.backoffMs);
      return;
    }
    done.edits = true;
    const persistedAt = performance.now();
    this.stats.persistMs += persistedAt - scheduledAt;
    this.stats.idlePolls += plan.idlePolls;
    // Memory moves only after the write succeeded: a failed batch leaves it as it was.
    this.session.commit(scheduled, plan.settled);
    if (this.outcomeArchive.moved(this.session, plan.outcomesArchived)) this.archiveDue = true;
    this.show(plan, now);
    const answeredAt = performance.now();
    this.stats.applyMs += answeredAt - persistedAt;
    for (const p of entries) if (!p.ephemeral) this.latencies.record(answeredAt - p.queuedAt);
    answer(entries, plan.replies, (id) => new OwpError('internal', `The scheduler gave no outcome for intent ${id}; retry with the same id.`));
    countBatch(this.stats, performance.now() - started, entries.length);
    observeBatch(this.opts.observer, { ms: this.stats.lastBatchMs, replies: plan.replies, rejected, events: plan.events, entries, answeredAt });
    // The next batch's working copy of the tasks record, made while waiting for its intents.
    setImmediate(() => {
      if (!this.inFlight) this.session.prepare();
    });
    this.notify({ batch: plan.batch, outcomes: plan.outcomes, events: plan.events, tasks: plan.diff.tasks }, plan.doc.diff);
  }

  /** Apply a recorded batch to the ledger document and the board (archived tasks leave it). */
  private show(plan: BatchPlan, now: number): void {
    this.earliestExpiry = earliestLeaseExpiry(plan.diff.tasks, this.earliestExpiry);
    if (plan.doc.apply) applyToLedgerDoc(this.opts.ledgerDoc, plan.doc.diff, plan.batch, now, plan.events, plan.doc.pruned);
    if (plan.archived.length > 0) {
      this.opts.board.removeTasks(plan.archived);
      this.opts.log.info('archived finished tasks', { count: plan.archived.length });
    }
    this.lastDiff = plan.doc.diff;
  }

  private notify(result: BatchResult, diff: LedgerDiff): void {
    notifyListeners(this.listeners, result, diff, this.opts.log);
  }

  private failures(): FailureContext {
    return { log: this.opts.log, observer: this.opts.observer, queue: this.queue, forward: this.opts.forward };
  }

  /** A throw after the batch was taken (a bug): see onRecordFailed; the next batch reconciles the whole board. */
  private failBatch(e: unknown, entries: Pending[], rejected: RejectedIntent[]): void {
    this.boardChanged = null;
    this.backoffMs = onRecordFailed(this.failures(), e, entries, rejected, this.backoffMs, () => {
      const now = this.opts.now();
      resetLedgerDoc(this.opts.ledgerDoc, this.session.ledger(), now, now - this.retentionMs);
    });
  }
}
