/**
 * SchedulerSession: a ledger and the scheduler's incremental indexes over it (indexes.ts),
 * owned by one caller (the relay's engine), so a batch costs what changed, not the pool size.
 * Created from a ledger; schedule() decides a batch against the current ledger, commit()
 * makes its result current.
 *
 * Invariants:
 * - Decides exactly what schedule() (index.ts) decides for the same input, byte for byte.
 * - Never mutates a caller's input. A ledger from ledger() never changes afterwards, except
 *   its `outcomes`: later batches' outcomes are added (never changed), and forget() takes
 *   out the ones archived past the retention window (server/engine/outcomes.ts).
 * - schedule() takes the indexes; only commit() of that batch gives them back. A batch not
 *   committed leaves the session at its ledger, and the next batch scans every task once.
 */
import type { Board, Intent, Ledger, Outcome, PoolState, TaskRuntime, WorkerProfile, WorkerRuntime } from '../model.js';
import { runBatch, type ScheduleResult, type ScheduleRules } from './batch.js';
import type { PoolIndexes } from './indexes.js';
import { copyRecord, own, put } from './state.js';

/** What a batch reads besides the ledger. */
export interface SessionInput {
  board: Board;
  profiles: Record<string, WorkerProfile>;
}

/**
 * A scheduled batch, not yet current. Its `ledger.outcomes` holds this batch's outcomes
 * (and the stored ones of its intent ids) only; read its ledger before the next batch.
 */
export interface SessionBatch extends ScheduleResult {
  /** The ledger it was decided against (outcomes: the stored ones of its intent ids only). */
  input: Ledger;
  /** Task and worker ids the batch set (every runtime that differs is among them); undefined when not known. */
  changed?: { tasks: ReadonlySet<string>; workers: ReadonlySet<string> };
}

/** A plain scheduler with schedule()'s contract, used instead of the incremental path (tests). */
export type ScheduleFn = (state: PoolState, intents: Intent[], now: number) => ScheduleResult;

interface Planned {
  batch: SessionBatch;
  indexes?: PoolIndexes;
  touched?: Set<string>;
}

export class SchedulerSession {
  private current: Ledger;
  /** The outcomes within the retention window: `current.outcomes`, grown in place by commit(), shrunk by forget(). */
  private readonly outcomes: Record<string, Outcome>;
  /** The indexes of `current.tasks`, while no batch holds them. */
  private indexes: PoolIndexes | undefined;
  /** Task ids the batch that made `current` set. */
  private touched: ReadonlySet<string> = new Set();
  /** The tasks record of the ledger before `current`: recycled as the next working copy. */
  private previous: Record<string, TaskRuntime> | undefined;
  /** A copy of `current.tasks` made ahead of time by prepare(). */
  private spare: Record<string, TaskRuntime> | undefined;
  /** Tasks records handed out by ledger(): never recycled. */
  private readonly handedOut = new WeakSet<object>();
  private planned: Planned | undefined;

  private readonly replace: ScheduleFn | undefined;
  private readonly rules: ScheduleRules | undefined;

  /** `replace`: decide every batch with this plain scheduler instead (tests inject faults). */
  constructor(ledger: Ledger, options: { rules?: ScheduleRules; replace?: ScheduleFn } = {}) {
    this.replace = options.replace;
    this.rules = options.rules;
    this.outcomes = copyRecord(ledger.outcomes);
    this.current = { batch: ledger.batch, tasks: copyRecord(ledger.tasks), workers: { ...ledger.workers }, outcomes: this.outcomes };
  }

  /** The current ledger; safe to keep: later batches never change it (see the header). */
  ledger(): Ledger {
    this.handedOut.add(this.current.tasks);
    return this.current;
  }

  get batch(): number {
    return this.current.batch;
  }

  /** Whether the next batch, told which board tasks changed, reuses the indexes (no full scan). */
  get incremental(): boolean {
    return this.indexes !== undefined;
  }

  task(taskId: string): TaskRuntime | undefined {
    return own(this.current.tasks, taskId);
  }

  worker(workerId: string): WorkerRuntime | undefined {
    return own(this.current.workers, workerId);
  }

  outcome(intentId: string): Outcome | undefined {
    return own(this.outcomes, intentId);
  }

  /** The outcomes in memory (read-only: commit() and forget() change them). */
  get storedOutcomes(): Readonly<Record<string, Outcome>> {
    return this.outcomes;
  }

  /** Drop these outcomes from memory (archived: the store keeps them, the engine looks them up on a repeat). */
  forget(intentIds: Iterable<string>): void {
    for (const id of intentIds) delete this.outcomes[id];
  }

  /** The earliest expiry of a 'leased' lease (Infinity when none). */
  earliestExpiry(): number {
    let min = Infinity;
    const tasks = this.current.tasks;
    const ids: Iterable<string> = this.indexes?.leased ?? Object.keys(tasks);
    for (const id of ids) {
      const runtime = own(tasks, id);
      if (runtime?.state === 'leased' && runtime.lease && runtime.lease.expiresAt < min) min = runtime.lease.expiresAt;
    }
    return min;
  }

  /**
   * Decide one batch against the current ledger. `changedTasks`: every board task id that
   * may differ from the board the previous batch saw; null when unknown (every task is
   * reconciled, the indexes are rebuilt). Until commit(), ledger() stays as it was.
   */
  schedule(input: SessionInput, intents: Intent[], now: number, changedTasks: Iterable<string> | null): SessionBatch {
    // The scheduler sees only the stored outcomes of this batch's ids (what it needs to
    // answer a repeat): the full map grows with history and must not be copied per batch.
    const known: Record<string, Outcome> = {};
    for (const i of intents) {
      const stored = own(this.outcomes, i.id);
      if (stored) put(known, i.id, stored);
    }
    const { board, profiles } = input;
    const state: PoolState = { board, profiles, ledger: { batch: this.current.batch, tasks: this.current.tasks, workers: this.current.workers, outcomes: known } };
    // The working copy, unless prepare() made it while idle: recycling the previous record
    // costs O(changed ids), a fresh copy O(tasks) (back-to-back batches leave no idle turn).
    if (changedTasks) this.prepare();
    const indexes = changedTasks ? this.indexes : undefined;
    const tasksCopy = this.spare;
    // Taken: a batch moves them on in place, so a batch never committed cannot reuse them.
    this.indexes = undefined;
    this.spare = undefined;
    this.previous = undefined;
    this.planned = undefined;
    if (this.replace) {
      const batch: SessionBatch = { ...this.replace(state, intents, now), input: state.ledger };
      this.planned = { batch };
      return batch;
    }
    const run = runBatch(state, intents, now, indexes ? { indexes, tasksCopy, changedTasks: changedTasks!, prevTouched: this.touched } : undefined, this.rules);
    const batch: SessionBatch = { ...run.result, input: state.ledger, changed: { tasks: run.touched, workers: run.workersTouched } };
    this.planned = { batch, indexes: run.indexes, touched: run.touched };
    return batch;
  }

  /**
   * Make the batch last scheduled current. `settled` replaces parts of its result the
   * caller changed: the outcomes to store, a tasks record (archiving; the next batch then
   * rebuilds the indexes).
   */
  commit(batch: SessionBatch, settled: { outcomes?: Record<string, Outcome>; tasks?: Record<string, TaskRuntime> } = {}): void {
    const planned = this.planned;
    this.planned = undefined;
    if (planned?.batch !== batch) throw new Error('SchedulerSession.commit: not the batch last scheduled');
    const outcomes = settled.outcomes ?? batch.ledger.outcomes;
    for (const id in outcomes) put(this.outcomes, id, outcomes[id]!);
    const tasks = settled.tasks ?? batch.ledger.tasks;
    const before = this.current.tasks;
    this.current = { batch: batch.ledger.batch, tasks, workers: batch.ledger.workers, outcomes: this.outcomes };
    if (tasks === batch.ledger.tasks && planned.indexes && planned.touched) {
      this.indexes = planned.indexes;
      this.touched = planned.touched;
      this.previous = before;
    } else this.touched = new Set();
  }

  /**
   * Make the next batch's working copy of the tasks record now, while the caller is idle,
   * so that batch does not (the one O(tasks) step left). The record of the ledger before
   * the current one is brought up to date in O(changed ids) unless ledger() handed it out;
   * otherwise a copy is made. Changes no result; a no-op when there is nothing to prepare.
   */
  prepare(): void {
    if (this.spare || !this.indexes) return;
    const tasks = this.current.tasks;
    const recycled = this.previous;
    this.previous = undefined;
    if (recycled && recycled !== tasks && !this.handedOut.has(recycled)) {
      for (const id of this.touched) {
        if (Object.hasOwn(tasks, id)) put(recycled, id, tasks[id]!);
        else delete recycled[id];
      }
      this.spare = recycled;
    } else this.spare = copyRecord(tasks);
  }
}
