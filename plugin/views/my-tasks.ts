/**
 * "My tasks": what the signed-in contributor holds, what awaits review, and their credit.
 * Pure: built from the board and ledger snapshots; the view (my-tasks-view.ts) renders it.
 *
 * Invariants: only this worker's leases are listed (from the ledger, never guessed);
 * maintainers also see every pull request awaiting review, oldest first.
 */
import type { Board, Ledger, TaskRuntime } from '../../shared/model.js';

export interface MyTaskRow {
  taskId: string;
  title: string;
  repo: string;
  /** Lease expiry (leased) — counted down in the view. */
  expiresAt?: number;
  prUrl?: string;
  waitingSince?: number;
}

export interface MyTasksModel {
  who: string;
  leases: MyTaskRow[];
  awaitingReview: MyTaskRow[];
  /** Pull requests of everyone awaiting review (maintainers only). */
  toReview: MyTaskRow[];
  credit: number;
  completed: number;
}

function row(board: Board, rt: TaskRuntime): MyTaskRow {
  const task = board.tasks[rt.taskId];
  return {
    taskId: rt.taskId,
    title: task?.title ?? rt.taskId,
    repo: rt.repo,
    ...(rt.state === 'leased' && rt.lease ? { expiresAt: rt.lease.expiresAt } : {}),
    ...(rt.prUrl ? { prUrl: rt.prUrl } : {}),
    ...(rt.state === 'pr_open' ? { waitingSince: rt.updatedAt } : {}),
  };
}

export function buildMyTasks(input: { board: Board; ledger: Ledger; workerId: string | undefined; maintainer: boolean; who: string }): MyTasksModel {
  const { board, ledger, workerId } = input;
  const all = Object.values(ledger.tasks);
  const mine = workerId ? all.filter((rt) => rt.lease?.workerId === workerId) : [];
  const byExpiry = (a: MyTaskRow, b: MyTaskRow) => (a.expiresAt ?? 0) - (b.expiresAt ?? 0);
  const oldest = (a: MyTaskRow, b: MyTaskRow) => (a.waitingSince ?? 0) - (b.waitingSince ?? 0);
  const w = workerId ? ledger.workers[workerId] : undefined;
  return {
    who: input.who,
    leases: mine.filter((rt) => rt.state === 'leased').map((rt) => row(board, rt)).sort(byExpiry),
    awaitingReview: mine.filter((rt) => rt.state === 'pr_open').map((rt) => row(board, rt)).sort(oldest),
    toReview: input.maintainer ? all.filter((rt) => rt.state === 'pr_open').map((rt) => row(board, rt)).sort(oldest) : [],
    credit: w?.credit ?? 0,
    completed: w?.completed ?? 0,
  };
}
