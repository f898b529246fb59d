/**
 * Phases 1 and 2 of a batch: bring the ledger in line with the board, then expire leases.
 *
 * Invariants:
 * - Runtime entries are never deleted, even when their board task disappeared.
 * - A new board task gets `queued` (or `cancelled` if it arrives cancelled) with
 *   attempt 0, fencingToken 0 and queuedAt = min(now, task.createdAt) (a createdAt in the
 *   future, e.g. from a skewed clock, counts as now).
 * - cancelPending mirrors the board's `cancelled` flag while a lease holds the task; a
 *   cancelled board task that is queued or stuck becomes cancelled at once. Its note is the
 *   board's cancelReason when one is given (the GitHub importer: the issue closed).
 * - Work is done in task id order (code-unit sort) so events never depend on key order.
 * - Only 'leased' leases expire; 'pr_open' ones wait for review however long it takes.
 */
import type { TaskRuntime } from '../model.js';
import { expire } from './leases.js';
import { SCHEDULER_ACTOR, clean, compareStrings, emit, isActive, newWorkerRuntime, own, setTask, setWorker, syncDirty, type Draft } from './state.js';

/**
 * `only`: when given, the ids that can need work (board tasks the hints name plus tasks the
 * previous batch set; see carry.ts); any other task was reconciled by an earlier batch and
 * nothing changed it since. Absent: every board task is looked at.
 */
export function reconcileBoard(draft: Draft, only?: Iterable<string>): void {
  const todo: string[] = [];
  const needs = (id: string): boolean => {
    const task = own(draft.board.tasks, id);
    if (!task) return false;
    const runtime = own(draft.tasks, id);
    return (
      !runtime ||
      (task.cancelled && (runtime.state === 'queued' || runtime.state === 'stuck')) ||
      (isActive(runtime) && !!runtime.cancelPending !== task.cancelled) ||
      (runtime.state === 'queued' && runtime.repo !== task.repo)
    );
  };
  if (only) {
    for (const id of only) if (needs(id)) todo.push(id);
  } else {
    for (const id in draft.board.tasks) if (needs(id)) todo.push(id);
  }
  todo.sort(compareStrings);
  for (const id of todo) {
    const task = draft.board.tasks[id]!;
    const runtime = own(draft.tasks, id);
    if (!runtime) {
      const state = task.cancelled ? 'cancelled' : 'queued';
      const fresh: TaskRuntime = {
        taskId: id,
        repo: task.repo,
        state,
        attempt: 0,
        fencingToken: 0,
        queuedAt: Math.min(draft.now, task.createdAt),
        updatedAt: draft.now,
      };
      if (task.cancelled) fresh.note = task.cancelReason || 'Cancelled on the board before it was ever queued.';
      setTask(draft, fresh);
      emit(draft, { kind: state === 'queued' ? 'task-queued' : 'task-cancelled', actor: SCHEDULER_ACTOR, taskId: id, to: state, reason: task.cancelled ? task.cancelReason || undefined : undefined });
    } else if (task.cancelled && (runtime.state === 'queued' || runtime.state === 'stuck')) {
      setTask(draft, { ...runtime, state: 'cancelled', note: task.cancelReason || 'Cancelled on the board by a maintainer.', updatedAt: draft.now });
      emit(draft, { kind: 'task-cancelled', actor: SCHEDULER_ACTOR, taskId: id, from: runtime.state, to: 'cancelled', reason: task.cancelReason || undefined });
    } else if (isActive(runtime)) {
      setTask(draft, clean({ ...runtime, cancelPending: task.cancelled ? true : undefined, updatedAt: draft.now }));
    } else {
      setTask(draft, { ...runtime, repo: task.repo, updatedAt: draft.now });
    }
  }
  for (const id in draft.profiles) {
    if (!own(draft.workers, id)) setWorker(draft, newWorkerRuntime(id, draft.day));
  }
}

export function expireLeases(draft: Draft): void {
  const due: TaskRuntime[] = [];
  syncDirty(draft);
  for (const id of draft.leased) {
    const runtime = own(draft.tasks, id);
    if (runtime && runtime.state === 'leased' && runtime.lease && runtime.lease.expiresAt <= draft.now) due.push(runtime);
  }
  due.sort((a, b) => a.lease!.expiresAt - b.lease!.expiresAt || compareStrings(a.taskId, b.taskId));
  for (const runtime of due) expire(draft, draft.tasks[runtime.taskId]!);
}
