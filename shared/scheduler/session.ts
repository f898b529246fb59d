/**
 * SchedulerSession: a ledger and the scheduler's incremental indexes over it (indexes.ts),
 * owned by one caller (the relay's engine), so a batch costs what changed, not the pool size.
 * Created from a ledger; schedule() decides a batch against the current ledger, commit()
 * makes its result current.
 *
 * Pipelining (server/engine/batch.ts): advance() makes a batch current before its write is
 * durable, so the next batch is decided on it; settle() marks the oldest advanced batch
 * durable, rollback() drops every batch not yet settled. Readers (ledger(), task(),
 * worker(), outcome()) see only the durable ledger; schedule() and decided() see the head.
 *
 * Invariants:
 * - Decides exactly what schedule() (index.ts) decides for the same input, byte for byte.
 * - Never mutates a caller's input. A ledger from ledger() never changes afterwards, except
 *   its `outcomes`: later batches' outcomes are added (never changed), and forget() takes
 *   out the ones archived past the retention window (server/engine/outcomes.ts).
 * - schedule() takes the indexes; only commit() or advance() of that batch gives them back. A
 *   batch not committed, or rolled back, leaves the session at its (durable) ledger, and the
 *   next batch scans every task once.
 * - A tasks or workers record is recycled as a working copy only once no ledger refers to
 *   it: not the head's, not the durable one's, not one handed out.
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
  workersTouched?: Set<string>;
}

/** A ledger's two records a batch copies (its working copies), or their ids a batch set. */
interface Records<T, W> {
  tasks: T;
  workers: W;
}
type Working = Records<Record<string, TaskRuntime>, Record<string, WorkerRuntime>>;

/** A batch advanced but not yet durable: its ledger and the outcomes it stores. */
interface Ahead {
  ledger: Ledger;
  outcomes: Record<string, Outcome>;
}

export class SchedulerSession {
  /** The head: what the next batch is decided against (its `outcomes` are the durable ones). */
  private current: Ledger;
  /** The last durable ledger: what readers see. `current` itself when nothing is ahead. */
  private durable: Ledger;
  /** Batches advanced and not yet settled, oldest first. */
  private readonly ahead: Ahead[] = [];
  /** The outcomes within the retention window: `current.outcomes`, grown in place by commit(), shrunk by forget(). */
  private readonly outcomes: Record<string, Outcome>;
  /** The indexes of `current.tasks`, while no batch holds them. */
  private indexes: PoolIndexes | undefined;
  /** Task ids the batch that made `current` set. */
  private touched: ReadonlySet<string> = new Set();
  /** The records of a ledger no longer current nor durable, and its batch: recycled as the next working copies. */
  private free: (Working & { batch: number }) | undefined;
  /** Task and worker ids set by each batch after the durable one (and by it): how a free record is brought up to date. */
  private readonly touchedBy = new Map<number, Records<ReadonlySet<string>, ReadonlySet<string>>>();
  /** Copies of `current.tasks` and `current.workers` made ahead of time by prepare(). */
  private spare: Working | undefined;
  /** Tasks and workers records handed out by ledger(): never recycled. */
  private readonly handedOut = new WeakSet<object>();
  private planned: Planned | undefined;
  /** Working copies prepare() made: records recycled, and fresh copies (O(tasks + workers) each). */
  readonly copies = { recycled: 0, fresh: 0 };

  private readonly replace: ScheduleFn | undefined;
  private readonly rules: ScheduleRules | undefined;

  /** `replace`: decide every batch with this plain scheduler instead (tests inject faults). */
  constructor(ledger: Ledger, options: { rules?: ScheduleRules; replace?: ScheduleFn } = {}) {
    this.replace = options.replace;
    this.rules = options.rules;
    this.outcomes = copyRecord(ledger.outcomes);
    this.current = { batch: ledger.batch, tasks: copyRecord(ledger.tasks), workers: { ...ledger.workers }, outcomes: this.outcomes };
    this.durable = this.current;
  }

  /** The durable ledger; safe to keep: later batches never change it (see the header). */
  ledger(): Ledger {
    this.handedOut.add(this.durable.tasks);
    this.handedOut.add(this.durable.workers);
    return this.durable;
  }

  /** The durable tasks record, not pinned (unlike ledger()): compare it, do not read it after the next batch. */
  tasksRecord(): object {
    return this.durable.tasks;
  }

  /** The durable ledger's batch number. */
  get batch(): number {
    return this.durable.batch;
  }

  /** Batches advanced and not yet settled. */
  get pending(): number {
    return this.ahead.length;
  }

  /** Whether the next batch, told which board tasks changed, reuses the indexes (no full scan). */
  get incremental(): boolean {
    return this.indexes !== undefined;
  }

  task(taskId: string): TaskRuntime | undefined {
    return own(this.durable.tasks, taskId);
  }

  worker(workerId: string): WorkerRuntime | undefined {
    return own(this.durable.workers, workerId);
  }

  /** The durable outcome of an intent id (one of a batch not yet settled is not told). */
  outcome(intentId: string): Outcome | undefined {
    return own(this.outcomes, intentId);
  }

  /** The outcome of an intent id, durable or of a batch advanced ahead (what the next batch knows). */
  decided(intentId: string): Outcome | undefined {
    const stored = own(this.outcomes, intentId);
    if (stored) return stored;
    for (const a of this.ahead) {
      const o = own(a.outcomes, intentId);
      if (o) return o;
    }
    return undefined;
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
      const stored = this.decided(i.id);
      if (stored) put(known, i.id, stored);
    }
    const { board, profiles } = input;
    const state: PoolState = { board, profiles, ledger: { batch: this.current.batch, tasks: this.current.tasks, workers: this.current.workers, outcomes: known } };
    // The working copy, unless prepare() made it while idle: recycling the previous record
    // costs O(changed ids), a fresh copy O(tasks) (back-to-back batches leave no idle turn).
    if (changedTasks) this.prepare();
    const indexes = changedTasks ? this.indexes : undefined;
    const spare = this.spare;
    // Taken: a batch moves them on in place, so a batch never committed cannot reuse them.
    this.indexes = undefined;
    this.spare = undefined;
    this.planned = undefined;
    if (this.replace) {
      const batch: SessionBatch = { ...this.replace(state, intents, now), input: state.ledger };
      this.planned = { batch };
      return batch;
    }
    const carried = indexes ? { indexes, tasksCopy: spare?.tasks, workersCopy: spare?.workers, changedTasks: changedTasks!, prevTouched: this.touched } : undefined;
    const run = runBatch(state, intents, now, carried, this.rules);
    const batch: SessionBatch = { ...run.result, input: state.ledger, changed: { tasks: run.touched, workers: run.workersTouched } };
    this.planned = { batch, indexes: run.indexes, touched: run.touched, workersTouched: run.workersTouched };
    return batch;
  }

  /**
   * Make the batch last scheduled current and durable (nothing may be ahead). `settled`
   * replaces parts of its result the caller changed: the outcomes to store, a tasks record
   * (archiving; the next batch then rebuilds the indexes).
   */
  commit(batch: SessionBatch, settled: { outcomes?: Record<string, Outcome>; tasks?: Record<string, TaskRuntime> } = {}): void {
    if (this.ahead.length > 0) throw new Error('SchedulerSession.commit: batches are ahead; settle() them');
    this.advance(batch, settled);
    this.settle();
  }

  /**
   * Make the batch last scheduled the head, not yet durable: the next batch is decided on
   * it; readers still see the durable ledger until settle(). `settled`: as in commit().
   */
  advance(batch: SessionBatch, settled: { outcomes?: Record<string, Outcome>; tasks?: Record<string, TaskRuntime> } = {}): void {
    const planned = this.planned;
    this.planned = undefined;
    if (planned?.batch !== batch) throw new Error('SchedulerSession.advance: not the batch last scheduled');
    const outcomes = settled.outcomes ?? batch.ledger.outcomes;
    const tasks = settled.tasks ?? batch.ledger.tasks;
    this.current = { batch: batch.ledger.batch, tasks, workers: batch.ledger.workers, outcomes: this.outcomes };
    this.ahead.push({ ledger: this.current, outcomes });
    if (tasks === batch.ledger.tasks && planned.indexes && planned.touched && planned.workersTouched) {
      this.indexes = planned.indexes;
      this.touched = planned.touched;
      this.touchedBy.set(this.current.batch, { tasks: planned.touched, workers: planned.workersTouched });
    } else {
      this.touched = new Set();
      // No record before this one can be brought up to date by ids.
      this.touchedBy.clear();
      this.free = undefined;
    }
  }

  /** The oldest batch advanced is durable: readers see it, its outcomes are stored. */
  settle(): void {
    const next = this.ahead.shift();
    if (!next) throw new Error('SchedulerSession.settle: no batch is ahead');
    for (const id in next.outcomes) put(this.outcomes, id, next.outcomes[id]!);
    const old = this.durable;
    this.durable = next.ledger;
    for (const b of this.touchedBy.keys()) if (b <= old.batch) this.touchedBy.delete(b);
    if (old.tasks !== this.current.tasks && old.tasks !== this.durable.tasks && old.workers !== this.current.workers && old.workers !== this.durable.workers) {
      this.free = { tasks: old.tasks, workers: old.workers, batch: old.batch };
    }
  }

  /**
   * Drop every batch not yet settled (their write failed): the head is the durable ledger
   * again, and the next batch scans every task once (as after a batch never committed).
   */
  rollback(): void {
    this.ahead.length = 0;
    this.current = this.durable;
    this.indexes = undefined;
    this.spare = undefined;
    this.planned = undefined;
    this.free = undefined;
    this.touched = new Set();
    this.touchedBy.clear();
  }

  /**
   * Make the next batch's working copies of the tasks and workers records now, while the
   * caller is idle, so that batch does not (the O(tasks) and O(workers) steps left). The
   * records of the ledger before the current one are brought up to date in O(changed ids)
   * unless ledger() handed them out; otherwise copies are made. Changes no result; a no-op
   * when there is nothing to prepare.
   */
  prepare(): void {
    if (this.spare || !this.indexes) return;
    const { tasks, workers } = this.current;
    const free = this.free;
    this.free = undefined;
    const reusable = (r: object): boolean => r !== tasks && r !== workers && r !== this.durable.tasks && r !== this.durable.workers && !this.handedOut.has(r);
    if (free && reusable(free.tasks) && reusable(free.workers) && this.catchUp(free, free.batch)) {
      this.spare = { tasks: free.tasks, workers: free.workers };
      this.copies.recycled += 1;
    } else {
      this.spare = { tasks: copyRecord(tasks), workers: copyRecord(workers) };
      this.copies.fresh += 1;
    }
  }

  /** Bring free records of batch `from` up to the head by the ids each later batch set; false when one is not known. */
  private catchUp(records: Working, from: number): boolean {
    const { tasks, workers } = this.current;
    for (let b = from + 1; b <= this.current.batch; b++) if (!this.touchedBy.has(b)) return false;
    for (let b = from + 1; b <= this.current.batch; b++) {
      const set = this.touchedBy.get(b)!;
      for (const id of set.tasks) {
        if (Object.hasOwn(tasks, id)) put(records.tasks, id, tasks[id]!);
        else delete records.tasks[id];
      }
      for (const id of set.workers) {
        if (Object.hasOwn(workers, id)) put(records.workers, id, workers[id]!);
        else delete records.workers[id];
      }
    }
    return true;
  }
}
