/**
 * Facts: the audit log folded into the few things the success figures, credits and the
 * trust ladder need, one compact record per meaningful event, each carrying the duration
 * it closes (time to first claim, to PR, to merge) so a query is one pass over a window.
 *
 * Invariants:
 * - Pure: `foldEvent` reads only its arguments and the per-task memory it is given;
 *   folding the same events in the same order always gives the same facts.
 * - Events are folded in audit order (seq); `at` never decreases along it in practice,
 *   and `sliceSince` assumes facts are sorted by `at` (the fold appends in order).
 * - Heartbeats, refused claims and queue churn are not facts.
 * - Per-task memory lives only while the task can still make a fact that needs it: a
 *   terminal event (`task-done`, `task-cancelled`; nothing leaves those states) forgets the
 *   task, so memory is bounded by the live tasks, not by the tasks of the retention window.
 */
import type { AuditEvent, RiskTier } from '../model.js';
import { PR_CLOSED_REASON } from '../scheduler/leases.js';

/** What a task is, looked up when its event is folded (board, archive or the id itself). */
export interface TaskInfo {
  repo: string;
  points: number;
  tier: RiskTier;
  /** When the task was created (board): the start of "time to first claim" when no queued event is known. */
  createdAt?: number;
}

export type FactKind = 'grant' | 'expire' | 'requeue' | 'pr' | 'merge' | 'complete' | 'closed-unmerged' | 'cancel';

export interface Fact {
  kind: FactKind;
  at: number;
  taskId: string;
  repo: string;
  workerId?: string;
  points: number;
  tier: RiskTier;
  /** grant (first of its task): ms since queued; pr: ms since its grant; merge: ms since its PR. */
  durationMs?: number;
}

/** What is remembered per task between events. */
export interface TaskMemory {
  queuedAt?: number;
  granted: boolean;
  lastGrantAt?: number;
  prAt?: number;
  lastAt: number;
}


/**
 * Fold one audit event: returns the fact it makes (or undefined) and updates `memory`.
 * `info` is the task's repo, points and tier.
 */
export function foldEvent(e: AuditEvent, memory: Map<string, TaskMemory>, info: (taskId: string) => TaskInfo): Fact | undefined {
  if (!e.taskId) return undefined;
  const taskId = e.taskId;
  let m = memory.get(taskId);
  if (!m) {
    m = { granted: false, lastAt: e.at };
    memory.set(taskId, m);
  }
  m.lastAt = e.at;
  const fact = (kind: FactKind, durationMs?: number): Fact => {
    const t = info(taskId);
    const f: Fact = { kind, at: e.at, taskId, repo: t.repo, points: t.points, tier: t.tier };
    if (e.workerId !== undefined) f.workerId = e.workerId;
    if (durationMs !== undefined && durationMs >= 0) f.durationMs = durationMs;
    return f;
  };
  switch (e.kind) {
    case 'task-queued':
      if (m.queuedAt === undefined) m.queuedAt = e.at;
      return undefined;
    case 'lease-granted': {
      const first = !m.granted;
      m.granted = true;
      m.lastGrantAt = e.at;
      if (!first) return fact('grant');
      const since = m.queuedAt ?? info(taskId).createdAt;
      return fact('grant', since === undefined ? undefined : e.at - since);
    }
    case 'lease-expired':
      return fact('expire');
    case 'pr-submitted': {
      if (e.from === 'pr_open') return undefined; // a new PR URL for the same review
      m.prAt = e.at;
      return fact('pr', m.lastGrantAt === undefined ? undefined : e.at - m.lastGrantAt);
    }
    case 'task-done': {
      const merged = e.from === 'pr_open' || (e.actor !== e.workerId && e.from === 'leased');
      const f = fact(merged ? 'merge' : 'complete', merged && m.prAt !== undefined ? e.at - m.prAt : undefined);
      memory.delete(taskId);
      return f;
    }
    case 'task-requeued':
    case 'lease-released':
    case 'task-failed':
      if (e.from !== 'leased' && e.from !== 'pr_open') return undefined;
      if (e.kind === 'task-requeued' && e.reason === PR_CLOSED_REASON) {
        m.prAt = undefined;
        return fact('closed-unmerged');
      }
      if (e.from === 'pr_open') m.prAt = undefined;
      return fact('requeue');
    case 'task-cancelled':
      memory.delete(taskId);
      return fact('cancel');
    default:
      return undefined;
  }
}

/** Index of the first fact with `at >= since` (facts sorted by `at`). */
export function sliceStart(facts: readonly Fact[], since: number): number {
  let lo = 0;
  let hi = facts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (facts[mid]!.at < since) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The repo part of a task id (`owner/name:slug`, `owner/name#12`), or '' when it has none. */
export function repoOfTaskId(taskId: string): string {
  const m = /^([A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+)[:#]/.exec(taskId);
  return m ? m[1]! : '';
}
