/**
 * The engine: the relay's single arbiter. Intents arrive from HTTP, the intent channel and
 * inbox documents (inboxes.ts) and wait in the intake (intake.ts); the engine decides a batch
 * (batch.ts: decide, persist, then show, then answer) as soon as the last one's write was
 * issued (group commit at tickMs 0), at most MAX_IN_FLIGHT batches in flight, and runs a
 * sweeper for lease expiry and archiving.
 *
 * Invariants:
 * - One batch decided at a time, answered in order; nobody is told of an outcome not on disk (batch.ts).
 * - The store is the authority: on open the ledger is read from it and the doc made to match.
 * - Each intent gets exactly one outcome; the same id twice is arbitrated once, also once its
 *   outcome is archived (outcomes.ts). Ids are scoped to their sender: another sender's id
 *   is refused (`conflict`), never answered.
 * - ledger() is safe to keep across an await (the session's rule).
 * - Several relays on one database (`forward`): only the active engine ticks; a follower
 *   forwards intents and follows the store (role.ts, follow.ts); activate/deactivate switch roles.
 */
import type * as Y from 'yjs';
import { OwpError } from '../../shared/errors.js';
import type { AuditEvent, Intent, Ledger, Outcome, TaskRuntime } from '../../shared/model.js';
import { SchedulerSession } from '../../shared/scheduler/index.js';
import type { BatchResult } from '../ports.js';
import { BatchRunner } from './batch.js';
import { InboxWatcher, type RejectedIntent } from './inboxes.js';
import { forwardAll, intentIdTaken, IntentQueue, tickAfter } from './intake.js';
import { loadLedger } from './follow.js';
import type { LatencySummary } from './latency.js';
import { visibleLedger, type LedgerDiff } from './ledger-diff.js';
import { notifyListeners } from './observer.js';
import type { EngineOptions } from './options.js';
import { Role, type RoleHost } from './role.js';

export type { EngineOptions };

/**
 * Batches in flight at most: one whose write is in flight and one decided on it, waiting to
 * write. Writes are serial (writer.ts: the store applies batches in order, and a batch's keys
 * may overlap the one before), so one decided batch keeps the writer busy while the loop
 * decides. Deeper pipelines (4 and 8, the waiting batches written together) were measured:
 * smaller batches, +20-30% relay CPU per cycle at the same load (docs/BENCHMARKS.md,
 * "Session 8: pipelined batches").
 */
export const MAX_IN_FLIGHT = 2;

export class Engine {
  readonly inboxes: InboxWatcher;
  private session: SchedulerSession;
  private readonly role: Role;
  private readonly queue = new IntentQueue();
  private readonly batches: BatchRunner;
  private readonly listeners = new Set<(r: BatchResult, diff: LedgerDiff) => void>();
  /** Cancels the pending tick (a timer, or an immediate with tickMs 0). */
  private timer: (() => void) | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  /** The last batch started (it ends after every batch before it); undefined when none is in flight. */
  private inFlight: Promise<void> | undefined;
  /** A batch is being decided (from taking the queue to issuing its write). */
  private deciding = false;
  /** Batches started and not yet ended. */
  private flying = 0;
  private stopping = false;
  private heartbeatSeq = 0;
  private unsubscribeBoard: (() => void) | undefined;
  readonly tickMs: number;
  readonly retentionMs: number;

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
    this.batches = new BatchRunner({
      opts,
      queue: this.queue,
      retentionMs: this.retentionMs,
      session: () => this.session,
      profiles: () => this.inboxes.profiles,
      idle: () => !this.deciding,
      notify: (result, diff) => this.notify(result, diff),
    });
    this.inboxes = new InboxWatcher({
      sender: (id) => this.session.decided(id)?.workerId ?? this.queue.senderOf(id),
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
      engine.batches.noteBoard(delta);
      if (engine.stopping) return;
      engine.batches.boardDirty = true;
      engine.kick();
    });
    return engine;
  }

  /** Batches run and their timings, for /api/status and the benchmark. */
  get stats(): BatchRunner['stats'] {
    return this.batches.stats;
  }

  /** Whether this engine arbitrates (a single relay's always does). */
  isActive = (): boolean => this.role.active;

  /** Become the arbiter (elected): ledger and audit head read from the store, inboxes read again. */
  activate = (): Promise<void> => {
    this.batches.outcomeArchive.reset();
    return this.role.activate();
  };

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
        if (wholeBoard) this.batches.reconcileWholeBoard();
      },
      startDuties: () => {
        this.batches.takeCharge();
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
      resume: () => {
        this.inboxes.rescan();
        this.kick();
      },
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

  /**
   * The durable tasks record's identity, without pinning it as ledger() does (a pinned record
   * is never recycled, so the next batch copies every task): for telling whether a record is
   * the one a batch listener last saw (server/stats/task-counts.ts), not for reading.
   */
  tasksRecord(): object {
    return this.session.tasksRecord();
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

  /** Batches started and not yet answered, whether one is being decided (tests wait for these states), and the session's working copies (recycled or fresh). */
  pipeline(): { inFlight: number; deciding: boolean; copies: { recycled: number; fresh: number } } {
    return { inFlight: this.flying, deciding: this.deciding, copies: { ...this.session.copies } };
  }

  /** Queue-to-answer time (ms) of non-heartbeat intents answered after the `since`-th one. */
  latency(since = 0): LatencySummary {
    return this.batches.latencies.summary(since);
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
    this.batches.archiveNext();
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
    if (this.timer || this.deciding || this.flying >= MAX_IN_FLIGHT || !this.role.active) return;
    this.timer = tickAfter(this.tickMs + this.batches.backoffMs, () => {
      this.timer = undefined;
      void this.runTick();
    });
  }

  private startSweeper(): void {
    this.sweeper = setInterval(() => {
      if (this.stopping || this.inFlight || this.timer) return;
      if (this.batches.sweepDue(this.opts.now())) void this.runTick();
    }, this.opts.sweepMs ?? 250);
    this.sweeper.unref?.();
  }

  /** Start a batch unless one is being decided or MAX_IN_FLIGHT are in flight; resolves when the last started one ended. */
  private runTick(): Promise<void> {
    if (this.deciding || this.flying >= MAX_IN_FLIGHT) return this.inFlight!;
    this.deciding = true;
    this.flying += 1;
    let decided = false;
    const p = this.batches
      .run(() => {
        if (decided) return;
        decided = true;
        this.deciding = false;
        if (this.queue.hasWork()) this.kick();
      })
      .finally(() => {
        this.flying -= 1;
        if (this.inFlight === p) this.inFlight = undefined;
        if (this.queue.hasWork() || this.batches.wantsAnother()) this.kick();
      });
    this.inFlight = p;
    return p;
  }

  private notify(result: BatchResult, diff: LedgerDiff): void {
    notifyListeners(this.listeners, result, diff, this.opts.log);
  }
}
