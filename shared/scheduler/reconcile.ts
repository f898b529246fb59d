/**
 * Phases 1 and 2 of a batch: bring the ledger in line with the board, then expire leases.
 *
 * Invariants:
 * - Runtime entries are never deleted, even when their board task disappeared.
 * - A new board task gets `queued` (or `cancelled` if it arrives cancelled) with
 *   attempt 0, fencingToken 0 and queuedAt = min(now, task.createdAt) (a createdAt in the
 *   future, e.g. from a skewed clock, counts as now).
 * - cancelPending mirrors the board's `cancelled` flag while a lease holds the task; a
 *   cancelled board task that is queued or stuck becomes cancelled at once.
 * - Work is done in task id order (code-unit sort) so events never depend on key order.
 * - Only 'leased' leases expire; 'pr_open' ones wait for review however long it takes.
 */
import type { TaskRuntime } from '../model.js';
import { expire } from './leases.js';
import { SCHEDULER_ACTOR, clean, compareStrings, emit, isActive, newWorkerRuntime, own, setTask, setWorker, syncDirty, type Work } from './state.js';

/**
 * `only`: when given, the ids that can need work (board tasks the hints name plus tasks the
 * previous batch set; see session.ts); any other task was reconciled by an earlier batch and
 * nothing changed it since. Absent: every board task is looked at.
 */
export function reconcileBoard(w: Work, only?: Iterable<string>): void {
  const todo: string[] = [];
  const needs = (id: string): boolean => {
    const task = own(w.board.tasks, id);
    if (!task) return false;
    const rt = own(w.tasks, id);
    return (
      !rt ||
      (task.cancelled && (rt.state === 'queued' || rt.state === 'stuck')) ||
      (isActive(rt) && !!rt.cancelPending !== task.cancelled) ||
      (rt.state === 'queued' && rt.repo !== task.repo)
    );
  };
  if (only) {
    for (const id of only) if (needs(id)) todo.push(id);
  } else {
    for (const id in w.board.tasks) if (needs(id)) todo.push(id);
  }
  todo.sort(compareStrings);
  for (const id of todo) {
    const task = w.board.tasks[id]!;
    const rt = own(w.tasks, id);
    if (!rt) {
      const state = task.cancelled ? 'cancelled' : 'queued';
      const fresh: TaskRuntime = {
        taskId: id,
        repo: task.repo,
        state,
        attempt: 0,
        fencingToken: 0,
        queuedAt: Math.min(w.now, task.createdAt),
        updatedAt: w.now,
      };
      if (task.cancelled) fresh.note = 'Cancelled on the board before it was ever queued.';
      setTask(w, fresh);
      emit(w, { kind: state === 'queued' ? 'task-queued' : 'task-cancelled', actor: SCHEDULER_ACTOR, taskId: id, to: state });
    } else if (task.cancelled && (rt.state === 'queued' || rt.state === 'stuck')) {
      setTask(w, { ...rt, state: 'cancelled', note: 'Cancelled on the board by a maintainer.', updatedAt: w.now });
      emit(w, { kind: 'task-cancelled', actor: SCHEDULER_ACTOR, taskId: id, from: rt.state, to: 'cancelled' });
    } else if (isActive(rt)) {
      setTask(w, clean({ ...rt, cancelPending: task.cancelled ? true : undefined, updatedAt: w.now }));
    } else {
      setTask(w, { ...rt, repo: task.repo, updatedAt: w.now });
    }
  }
  for (const id in w.profiles) {
    if (!own(w.workers, id)) setWorker(w, newWorkerRuntime(id, w.day));
  }
}

export function expireLeases(w: Work): void {
  const due: TaskRuntime[] = [];
  syncDirty(w);
  for (const id of w.leased) {
    const rt = own(w.tasks, id);
    if (rt && rt.state === 'leased' && rt.lease && rt.lease.expiresAt <= w.now) due.push(rt);
  }
  due.sort((a, b) => a.lease!.expiresAt - b.lease!.expiresAt || compareStrings(a.taskId, b.taskId));
  for (const rt of due) expire(w, w.tasks[rt.taskId]!);
}
