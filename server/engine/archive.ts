/**
 * What the archive sweep may take next, in the order it became due: finished tasks by their
 * last update, stored outcomes by their decision time. The sweep (plan.ts planArchive and
 * outcomes.ts planOutcomeArchive, one bounded slice per batch) reads its candidates here,
 * so a slice costs its own size, not a scan of every task and outcome in the window (a scan
 * was O(window) per slice, and a window after 100,000 lifecycles holds hundreds of thousands).
 *
 * Invariants:
 * - Fed with every batch written (`noteBatch`: the runtimes and outcomes it stored) and
 *   rebuilt from the ledger when the engine takes charge (`reset`); both in time order.
 * - An entry is a hint, checked against the current state when read: a task no longer
 *   finished, changed since (a newer entry follows) or gone (archived), an outcome no longer
 *   in memory or decided again, is dropped. So a failed write loses nothing (its candidates
 *   are still valid next time) and a duplicate is harmless.
 * - Reading stops at the first valid entry past the cutoff (entries are in time order; one
 *   out of order only waits for the entries before it).
 */
import { TERMINAL_STATES, type Ledger, type Outcome, type TaskRuntime } from '../../shared/model.js';

type Entry = [id: string, at: number];

/** A FIFO of [id, time] with lazy removal from the front. */
class Fifo {
  private items: Entry[] = [];
  private head = 0;

  reset(items: Entry[]): void {
    this.items = items.sort((a, b) => a[1] - b[1]);
    this.head = 0;
  }

  push(id: string, at: number): void {
    this.items.push([id, at]);
  }

  get size(): number {
    return this.items.length - this.head;
  }

  /** Ids of valid entries at or before `cutoff`, in order; invalid entries at the front are dropped for good. */
  *due(cutoff: number, valid: (id: string, at: number) => boolean): Generator<string> {
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    const items = this.items;
    for (let i = this.head; i < items.length; i++) {
      const [id, at] = items[i]!;
      if (!valid(id, at)) {
        if (i === this.head && items === this.items) this.head++;
        continue;
      }
      if (at > cutoff) return;
      yield id;
    }
  }
}

const finished = (rt: TaskRuntime | undefined, at: number): boolean => rt !== undefined && rt.updatedAt === at && TERMINAL_STATES.includes(rt.state);

export class ArchiveQueue {
  private readonly tasks = new Fifo();
  private readonly outcomes = new Fifo();

  /** Every finished task and stored outcome of `ledger` (taking charge: start, or elected). */
  reset(ledger: Ledger): void {
    const tasks: Entry[] = [];
    for (const id in ledger.tasks) {
      const rt = ledger.tasks[id]!;
      if (finished(rt, rt.updatedAt)) tasks.push([id, rt.updatedAt]);
    }
    const outcomes: Entry[] = [];
    for (const id in ledger.outcomes) {
      const at = ledger.outcomes[id]!.at;
      if (typeof at === 'number') outcomes.push([id, at]);
    }
    this.tasks.reset(tasks);
    this.outcomes.reset(outcomes);
  }

  /** A batch was written: its finished runtimes and its stored outcomes become candidates. */
  noteBatch(tasks: Readonly<Record<string, TaskRuntime | null>>, outcomes: Readonly<Record<string, Outcome>>): void {
    for (const id in tasks) {
      const rt = tasks[id];
      if (rt && TERMINAL_STATES.includes(rt.state)) this.tasks.push(id, rt.updatedAt);
    }
    for (const id in outcomes) {
      const at = outcomes[id]!.at;
      if (typeof at === 'number') this.outcomes.push(id, at);
    }
  }

  /** Finished tasks whose runtime (`task`: the current one) is at or before `cutoff`, oldest first. */
  dueTasks(cutoff: number, task: (id: string) => TaskRuntime | undefined): Iterable<string> {
    return this.tasks.due(cutoff, (id, at) => finished(task(id), at));
  }

  /** Outcomes in memory (`outcome`: the current one) decided at or before `cutoff`, oldest first. */
  dueOutcomes(cutoff: number, outcome: (id: string) => Outcome | undefined): Iterable<string> {
    return this.outcomes.due(cutoff, (id, at) => outcome(id)?.at === at);
  }

  /** Entries held (for tests and /api/status-style figures). */
  get size(): { tasks: number; outcomes: number } {
    return { tasks: this.tasks.size, outcomes: this.outcomes.size };
  }
}
