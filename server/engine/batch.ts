/**
 * One batch of the engine (a tick): take what is queued, look up ids whose outcomes were
 * archived (outcomes.ts), decide in the scheduler session, plan the effects (plan.ts) and
 * perform them in order: ONE atomic store batch (ledger entries + audit entries + archive
 * moves) -> session commit -> ONE `owp/ledger` transaction -> answers -> listeners.
 * Nobody is told of an outcome not on disk; a failed write leaves memory, audit head and
 * documents as they were and its callers get `internal` (failures.ts).
 *
 * Also keeps what carries from one batch to the next: board changes and edits not yet
 * seen, the failure backoff, the lease-expiry lower bound, whether an archive check is
 * due, and the timings shown in /api/status. The engine (engine.ts) decides when to run one.
 */
import { OwpError } from '../../shared/errors.js';
import type { WorkerProfile } from '../../shared/model.js';
import type { SchedulerSession, SessionBatch } from '../../shared/scheduler/index.js';
import type { BatchResult } from '../ports.js';
import type { BoardEdit } from './board.js';
import { onRecordFailed, onScheduleFailed, onWriteFailed, type FailureContext } from './failures.js';
import type { RejectedIntent } from './inboxes.js';
import { answer, type IntentQueue, type Pending } from './intake.js';
import { countBatch, LatencyRecorder } from './latency.js';
import { applyToLedgerDoc, resetLedgerDoc, type LedgerDiff } from './ledger-diff.js';
import { observeBatch } from './observer.js';
import type { EngineOptions } from './options.js';
import { OutcomeArchive } from './outcomes.js';
import { earliestLeaseExpiry, planBatch, type BatchPlan, type PlanInput } from './plan.js';
import { ArchiveQueue } from './archive.js';

/** What a batch needs of its engine. */
export interface BatchHost {
  readonly opts: EngineOptions;
  readonly queue: IntentQueue;
  readonly retentionMs: number;
  /** The current scheduler session (replaced when the engine's role changes). */
  session(): SchedulerSession;
  profiles(): Readonly<Record<string, WorkerProfile>>;
  /** No batch in flight. */
  idle(): boolean;
  notify(result: BatchResult, diff: LedgerDiff): void;
}

export class BatchRunner {
  /** Delay added to the next tick after a failure (intake.ts `backoff`); 0 after a success. */
  backoffMs = 0;
  /** The board changed since the last batch: run one, so new or cancelled tasks get their runtime at once. */
  boardDirty = false;
  /** Batches run and their timings, for /api/status and the benchmark. */
  readonly stats = { batches: 0, intents: 0, lastBatchMs: 0, maxBatchMs: 0, scheduleMs: 0, persistMs: 0, applyMs: 0, idlePolls: 0 };
  readonly latencies = new LatencyRecorder();
  readonly outcomeArchive: OutcomeArchive;
  /** Finished tasks and outcomes in the order they become due for the archive (archive.ts). */
  private readonly archiveQueue = new ArchiveQueue();
  /** Board task ids changed since the session's ledger was made; null (unknown): the next batch reconciles all. */
  private boardChanged: Set<string> | null = null;
  /** Board edits (hold, priority, trust) waiting to be audited by the next batch. */
  private edits: BoardEdit[] = [];
  private archiveDue = false;
  /** Tasks and outcomes the current archive sweep took out of the live documents so far. */
  private swept = 0;
  /** performance.now() before which no archive slice starts: each slice is followed by as long without one. */
  private archiveNotBefore = 0;
  private lastArchiveCheck = 0;
  private earliestExpiry = Infinity;

  constructor(private readonly host: BatchHost) {
    this.outcomeArchive = new OutcomeArchive(host.opts.store);
  }

  /** A board change: its task ids are reconciled and its edits audited by the next batch. */
  noteBoard(delta: { tasks: Record<string, unknown>; edits?: BoardEdit[] }): void {
    if (this.boardChanged) for (const id in delta.tasks) this.boardChanged.add(id);
    if (delta.edits) this.edits.push(...delta.edits);
  }

  /** The session was made anew: the next batch reconciles the whole board. */
  reconcileWholeBoard(): void {
    this.boardChanged = null;
  }

  /** Taken charge (role.ts): lease expiry bound read, an archive check due at once. */
  takeCharge(): void {
    this.earliestExpiry = this.host.session().earliestExpiry();
    this.lastArchiveCheck = this.host.opts.now();
    this.archiveDue = true;
    this.archiveQueue.reset(this.host.session().ledger());
  }

  /** The next batch checks for outcomes and tasks to archive (now: not paced). */
  archiveNext(): void {
    this.archiveDue = true;
    this.archiveNotBefore = 0;
  }

  /** Whether another batch should follow without a new intent (board changed, edits unaudited). */
  wantsAnother(): boolean {
    return this.boardDirty || this.edits.length > 0;
  }

  /** The sweeper's check: a lease may have expired, or an archive check is due. */
  sweepDue(now: number): boolean {
    const { opts } = this.host;
    if (now - this.lastArchiveCheck >= (opts.archiveEveryMs ?? 60_000)) {
      this.lastArchiveCheck = now;
      this.archiveDue = true;
    }
    // earliestExpiry is a lower bound (kept cheaply per batch); check it exactly before a tick.
    if (this.earliestExpiry <= now) this.earliestExpiry = this.host.session().earliestExpiry();
    return this.earliestExpiry <= now || this.archiveSliceDue();
  }

  /**
   * An archive slice may run: one is due and the last one's pause is over. A slice takes at
   * most `archiveSlice` tasks (plan.ts) and is followed by at least as long without one, so
   * archiving a large backlog takes at most half the relay's time and claims keep flowing.
   */
  private archiveSliceDue(): boolean {
    return this.archiveDue && performance.now() >= this.archiveNotBefore;
  }

  /** Run one batch with everything queued; never throws (a failure is answered, logged, backed off). */
  async run(): Promise<void> {
    const started = performance.now();
    this.boardDirty = false;
    let { entries, rejected } = this.host.queue.take();
    const edits = this.edits;
    this.edits = [];
    const done = { edits: false };
    try {
      ({ entries, rejected } = await this.outcomeArchive.settle(entries, rejected, (id) => this.host.session().outcome(id) !== undefined));
      const now = this.host.opts.now();
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
      const scheduled = this.host.session().schedule({ board: this.host.opts.board.board(), profiles: this.host.profiles() }, intents, now, changedTasks);
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
    const { ledgerDoc, audit } = this.host.opts;
    const archive = this.archiveSliceDue() ? this.archiveInput(now) : undefined;
    if (archive) this.archiveDue = false;
    const plan = planBatch(scheduled, { entries, rejected, stored: (id) => this.host.session().outcome(id) !== undefined, shownTasks: ledgerDoc.getMap<unknown>('tasks'), now, archive, edits });
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
    this.host.session().commit(scheduled, plan.settled);
    this.archiveQueue.noteBatch(plan.diff.tasks, plan.settled.outcomes);
    // A slice that left more due: the next batch takes the next one (the sweeper runs it when idle).
    if (this.outcomeArchive.moved(this.host.session(), plan.outcomesArchived) || plan.archiveMore) this.archiveDue = true;
    else if (archive) this.sweepEnded(plan.archived.length + plan.doc.pruned.length);
    this.show(plan, now);
    const answeredAt = performance.now();
    this.stats.applyMs += answeredAt - persistedAt;
    for (const p of entries) if (!p.ephemeral) this.latencies.record(answeredAt - p.queuedAt);
    answer(entries, plan.replies, (id) => new OwpError('internal', `The scheduler gave no outcome for intent ${id}; retry with the same id.`));
    countBatch(this.stats, performance.now() - started, entries.length);
    observeBatch(this.host.opts.observer, { ms: this.stats.lastBatchMs, replies: plan.replies, rejected, events: plan.events, entries, answeredAt });
    // The next batch's working copy of the tasks record, made while waiting for its intents.
    setImmediate(() => {
      if (this.host.idle()) this.host.session().prepare();
    });
    this.host.notify({ batch: plan.batch, outcomes: plan.outcomes, events: plan.events, tasks: plan.diff.tasks }, plan.doc.diff);
    if (archive) this.archiveNotBefore = 2 * performance.now() - started;
    if (archive && this.archiveDue) this.swept += plan.archived.length + plan.doc.pruned.length;
  }

  /** A slice that left nothing due: the sweep is over; tell the relay what it removed (options.ts onSweepDone). */
  private sweepEnded(last: number): void {
    const removed = this.swept + last;
    this.swept = 0;
    if (removed > 0) this.host.opts.onSweepDone?.(removed);
  }

  /** What an archiving batch is given: its candidates in the order they became due (archive.ts). */
  private archiveInput(now: number): PlanInput['archive'] {
    const session = this.host.session();
    const cutoff = now - this.host.retentionMs;
    return {
      outcomes: session.storedOutcomes,
      rawTask: (id: string) => this.host.opts.board.rawTask(id),
      retentionMs: this.host.retentionMs,
      slice: this.host.opts.archiveSlice,
      dueTasks: this.archiveQueue.dueTasks(cutoff, (id) => session.task(id)),
      dueOutcomes: this.archiveQueue.dueOutcomes(cutoff, (id) => session.outcome(id)),
    };
  }

  /** Apply a recorded batch to the ledger document and the board (archived tasks leave it). */
  private show(plan: BatchPlan, now: number): void {
    const { ledgerDoc, board, log } = this.host.opts;
    this.earliestExpiry = earliestLeaseExpiry(plan.diff.tasks, this.earliestExpiry);
    if (plan.doc.apply) applyToLedgerDoc(ledgerDoc, plan.doc.diff, plan.batch, now, plan.events, plan.doc.pruned);
    if (plan.archived.length > 0) {
      board.removeTasks(plan.archived);
      log.info('archived finished tasks', { count: plan.archived.length });
    }
  }

  private failures(): FailureContext {
    const { opts, queue } = this.host;
    return { log: opts.log, observer: opts.observer, queue, forward: opts.forward };
  }

  /** A throw after the batch was taken (a bug): see onRecordFailed; the next batch reconciles the whole board. */
  private failBatch(e: unknown, entries: Pending[], rejected: RejectedIntent[]): void {
    this.boardChanged = null;
    this.backoffMs = onRecordFailed(this.failures(), e, entries, rejected, this.backoffMs, () => {
      const now = this.host.opts.now();
      resetLedgerDoc(this.host.opts.ledgerDoc, this.host.session().ledger(), now, now - this.host.retentionMs);
    });
  }
}
