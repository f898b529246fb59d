/**
 * One batch of the engine (a tick): take what is queued, look up ids whose outcomes were
 * archived (outcomes.ts), decide in the scheduler session, plan the effects (plan.ts) and
 * perform them in order: ONE atomic store batch (ledger entries + audit entries + archive
 * moves) -> session settle -> ONE `owp/ledger` transaction -> answers -> listeners.
 * Nobody is told of an outcome not on disk; a failed write leaves memory, audit head and
 * documents as they were and its callers get `internal` (failures.ts).
 *
 * Pipelined: once a batch's write is issued, the next batch is decided on its result (the
 * session's head, advance()) while that write is in flight. Its write waits for the one
 * ahead and is not made if that failed; its answers, document change and listeners wait for
 * the ones ahead. A failed write rolls the session back to the durable ledger and fails
 * every batch decided on it (an epoch tells which), each as a single failed batch is.
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
import { docChange, earliestLeaseExpiry, planBatch, type BatchPlan, type PlanInput } from './plan.js';
import { ArchiveQueue } from './archive.js';
import { GroupWriter } from './writer.js';

/** What a batch needs of its engine. */
export interface BatchHost {
  readonly opts: EngineOptions;
  readonly queue: IntentQueue;
  readonly retentionMs: number;
  /** The current scheduler session (replaced when the engine's role changes). */
  session(): SchedulerSession;
  profiles(): Readonly<Record<string, WorkerProfile>>;
  /** No batch being decided. */
  idle(): boolean;
  notify(result: BatchResult, diff: LedgerDiff): void;
}

/** A batch run() started and has not ended, in order: its board edits go back if it is not written. */
interface Flight {
  edits: BoardEdit[];
  /** Written, or its edits were put back already (a rollback of several batches). */
  settled: boolean;
  /** The epoch it advanced the session in; undefined until then. */
  epoch?: number;
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
  /** Batches started and not ended, oldest first. */
  private readonly flights: Flight[] = [];
  /** Moves on at each rollback: a batch advanced in an older epoch was decided on a state dropped. */
  private epoch = 0;
  /** One write at a time; batches decided meanwhile are written together after it (writer.ts). */
  readonly writer: GroupWriter;
  /** Resolves when the last batch started has ended: the next one shows and answers after it. */
  private lastEnded: Promise<void> = Promise.resolve();

  constructor(private readonly host: BatchHost) {
    this.outcomeArchive = new OutcomeArchive(host.opts.store);
    this.writer = new GroupWriter((events, ops) => host.opts.audit.appendWith(events, ops));
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

  /**
   * Run one batch with everything queued; never throws (a failure is answered, logged, backed
   * off). `decided`: called once the next batch may be decided (this one's write is issued,
   * or it ended). Resolves once the batch is answered, after every batch started before it.
   */
  async run(decided: () => void = () => undefined): Promise<void> {
    const started = performance.now();
    this.boardDirty = false;
    let { entries, rejected } = this.host.queue.take();
    const flight: Flight = { edits: this.edits, settled: false };
    this.edits = [];
    this.flights.push(flight);
    const before = this.lastEnded;
    let ended!: () => void;
    this.lastEnded = new Promise<void>((resolve) => (ended = resolve));
    try {
      ({ entries, rejected } = await this.outcomeArchive.settle(entries, rejected, (id) => this.host.session().decided(id) !== undefined));
      const now = this.host.opts.now();
      const scheduled = this.decide(entries, rejected, now);
      if (scheduled) await this.record(started, now, scheduled, entries, rejected, flight, decided, before);
    } catch (e) {
      decided();
      await before;
      this.failBatch(e, entries, rejected);
    }
    decided();
    await before;
    this.flights.splice(this.flights.indexOf(flight), 1);
    // Edits a batch did not write are audited by the next one.
    if (!flight.settled && flight.edits.length > 0) this.edits.unshift(...flight.edits);
    ended();
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

  /**
   * Plan the batch's effects and perform them in order: advance the session, write (after
   * the write ahead), then, after the batch ahead ended: settle, show, answer.
   */
  private async record(started: number, now: number, scheduled: SessionBatch, entries: Pending[], rejected: RejectedIntent[], flight: Flight, decided: () => void, before: Promise<void>): Promise<void> {
    const scheduledAt = performance.now();
    this.stats.scheduleMs += scheduledAt - started;
    const { ledgerDoc } = this.host.opts;
    const session = this.host.session();
    // An archiving batch runs alone: nothing ahead of it, and the next one decided after it is written.
    const archive = session.pending === 0 && this.archiveSliceDue() ? this.archiveInput(now) : undefined;
    if (archive) this.archiveDue = false;
    const plan = planBatch(scheduled, { entries, rejected, stored: (id) => session.decided(id) !== undefined, now, archive, edits: flight.edits });
    // The next batch is decided on this one; readers see it only once it is written (settle).
    session.advance(scheduled, plan.settled);
    flight.epoch = this.epoch;
    // One atomic write: ledger ops and audit entries; the audit head moves only if it succeeded.
    const written = this.writer.write(this.epoch, plan.events, plan.storeOps);
    if (!archive) decided();
    const result = await written;
    await before;
    if (result.error !== undefined) {
      this.writeFailed(result, flight, entries, rejected);
      return;
    }
    flight.settled = true;
    const persistedAt = performance.now();
    this.stats.persistMs += persistedAt - scheduledAt;
    this.stats.idlePolls += plan.idlePolls;
    session.settle();
    this.archiveQueue.noteBatch(plan.diff.tasks, plan.settled.outcomes);
    // A slice that left more due: the next batch takes the next one (the sweeper runs it when idle).
    if (this.outcomeArchive.moved(session, plan.outcomesArchived) || plan.archiveMore) this.archiveDue = true;
    else if (archive) this.sweepEnded(plan.archived.length + plan.doc.pruned.length);
    // What the document shows now includes the batches ahead of this one.
    plan.doc = docChange(plan.diff, plan.events, plan.doc.pruned, ledgerDoc.getMap<unknown>('tasks'));
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
    this.host.notify({ batch: plan.batch, outcomes: plan.outcomes, events: plan.events, tasks: plan.diff.tasks, audit: 'audit' in result ? result.audit : undefined }, plan.doc.diff);
    if (archive) this.archiveNotBefore = 2 * performance.now() - started;
    if (archive && this.archiveDue) this.swept += plan.archived.length + plan.doc.pruned.length;
  }

  /**
   * A write failed (or the one ahead did: this batch was decided on it). The first batch of
   * its epoch to learn it rolls the session back and puts the board edits of every batch
   * decided in that epoch back, in order; each batch then fails as a single failed batch does.
   */
  private writeFailed(result: { error: unknown; thrown?: boolean }, flight: Flight, entries: Pending[], rejected: RejectedIntent[]): void {
    if (flight.epoch === this.epoch) {
      this.host.session().rollback();
      this.epoch += 1;
      const back: BoardEdit[] = [];
      for (const f of this.flights) {
        if (f.epoch !== flight.epoch || f.settled) continue;
        back.push(...f.edits);
        f.settled = true;
      }
      this.edits.unshift(...back);
    }
    this.boardChanged = null;
    if (result.thrown) this.failBatch(result.error, entries, rejected);
    else this.backoffMs = onWriteFailed(this.failures(), result.error, entries, rejected, this.backoffMs);
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
