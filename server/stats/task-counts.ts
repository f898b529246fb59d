/**
 * TaskCounts: what `GET /api/status` counts over the ledger's tasks (tasks per repo and
 * state, the leases, leases per repo), kept up to date from each batch's changed runtimes,
 * so a status call costs the repos and the leases it shows, not every task (issue 16: at
 * 30,000 tasks the full count was 2.4 s of CPU while a dashboard polled it).
 *
 * Invariants:
 * - `of(tasks)` answers exactly what a full count of `tasks` answers (`countTasks`; the
 *   property test test/relay/status-counts.test.ts). The counts are of one tasks record
 *   (`synced`); asked about another (a change no batch reported: a session reset when a relay
 *   becomes or stops being the arbiter, a follower's reload) they are counted again in full.
 * - `apply(changed, tasks)`: the runtimes a batch changed (null: removed) and the tasks record
 *   it left; it must see every batch in order from the record the counts are of.
 * - Leases are listed by task id (stable whatever order the tasks record holds them in).
 */
import type { Lease, TaskRuntime, TaskState } from '../../shared/model.js';

export type LeaseRow = Lease & { repo: string; state: TaskState };

export interface TaskCountsView {
  queue: Record<string, Partial<Record<TaskState, number>>>;
  leases: LeaseRow[];
  inReview: Record<string, number>;
}

const holdsLease = (rt: TaskRuntime): boolean => rt.lease !== undefined && (rt.state === 'leased' || rt.state === 'pr_open');
const byTaskId = (a: LeaseRow, b: LeaseRow) => (a.taskId < b.taskId ? -1 : a.taskId > b.taskId ? 1 : 0);

/** The full count (the reference, and the fallback). */
export function countTasks(tasks: Record<string, TaskRuntime>): TaskCountsView {
  const queue: Record<string, Partial<Record<TaskState, number>>> = {};
  const leases: LeaseRow[] = [];
  const inReview: Record<string, number> = {};
  for (const id in tasks) {
    const rt = tasks[id]!;
    const q = (queue[rt.repo] ??= {});
    q[rt.state] = (q[rt.state] ?? 0) + 1;
    if (holdsLease(rt)) {
      leases.push({ ...rt.lease!, repo: rt.repo, state: rt.state });
      inReview[rt.repo] = (inReview[rt.repo] ?? 0) + 1;
    }
  }
  leases.sort(byTaskId);
  return { queue, leases, inReview };
}

export class TaskCounts {
  /** The tasks record the counts are of: compared by identity only (the engine may recycle it once a later batch is durable). */
  private synced: object | undefined;
  /** The runtime each task is counted as. */
  private readonly counted = new Map<string, TaskRuntime>();
  private readonly byRepo = new Map<string, Map<TaskState, number>>();
  private readonly leased = new Map<string, TaskRuntime>();
  private leaseRows: LeaseRow[] | undefined;

  /** A batch changed these runtimes and left `tasks`. */
  apply(changed: Record<string, TaskRuntime | null>, tasks: object): void {
    if (this.synced === undefined) return; // nothing counted yet: the first `of` counts in full
    for (const id in changed) {
      const before = this.counted.get(id);
      if (before) this.remove(id, before);
      const after = changed[id];
      if (after) this.add(id, after);
    }
    this.synced = tasks;
  }

  /** Forget the counts (the ledger was replaced): the next `of` counts in full. */
  reset(): void {
    this.synced = undefined;
  }

  of(tasks: Record<string, TaskRuntime>): TaskCountsView {
    if (tasks !== this.synced) this.rebuild(tasks);
    const queue: Record<string, Partial<Record<TaskState, number>>> = {};
    const inReview: Record<string, number> = {};
    for (const [repo, states] of this.byRepo) {
      const q: Partial<Record<TaskState, number>> = {};
      for (const [state, n] of states) if (n > 0) q[state] = n;
      if (Object.keys(q).length > 0) queue[repo] = q;
    }
    for (const rt of this.leased.values()) inReview[rt.repo] = (inReview[rt.repo] ?? 0) + 1;
    this.leaseRows ??= [...this.leased.values()].map((rt) => ({ ...rt.lease!, repo: rt.repo, state: rt.state })).sort(byTaskId);
    return { queue, leases: this.leaseRows, inReview };
  }

  private rebuild(tasks: Record<string, TaskRuntime>): void {
    this.counted.clear();
    this.byRepo.clear();
    this.leased.clear();
    this.leaseRows = undefined;
    for (const id in tasks) this.add(id, tasks[id]!);
    this.synced = tasks;
  }

  private add(id: string, rt: TaskRuntime): void {
    this.counted.set(id, rt);
    let states = this.byRepo.get(rt.repo);
    if (!states) this.byRepo.set(rt.repo, (states = new Map()));
    states.set(rt.state, (states.get(rt.state) ?? 0) + 1);
    if (holdsLease(rt)) {
      this.leased.set(id, rt);
      this.leaseRows = undefined;
    }
  }

  private remove(id: string, rt: TaskRuntime): void {
    this.counted.delete(id);
    const states = this.byRepo.get(rt.repo)!;
    const n = (states.get(rt.state) ?? 0) - 1;
    if (n > 0) states.set(rt.state, n);
    else states.delete(rt.state);
    if (states.size === 0) this.byRepo.delete(rt.repo);
    if (this.leased.delete(id)) this.leaseRows = undefined;
  }
}
