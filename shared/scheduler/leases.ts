/**
 * Lease rules: the state machine of a task runtime and the transitions intents and time
 * cause. See the diagram in docs/SCHEDULER.md.
 *
 * Invariants:
 * - A task has a lease exactly when its state is leased or pr_open.
 * - fencingToken and attempt grow by one per grant and never decrease. A maintainer's
 *   requeue keeps attempts, so a task at maxAttempts gets one more try per requeue.
 * - A lease intent (heartbeat, release, submit, complete, fail) changes nothing unless it
 *   names the current holder and the current fencing token; otherwise `lease-lost`.
 * - Every state change emits exactly one event for its cause (lease-granted, lease-released,
 *   lease-expired, pr-submitted, task-done, task-failed, task-requeued, task-cancelled,
 *   review-changes-requested), plus `task-stuck` / `task-cancelled` when the change ends in
 *   stuck / cancelled as a consequence (max attempts reached, cancellation pending).
 * - A lease that ends while cancelPending is set ends in cancelled, never in queued/stuck.
 * - A submit's prUrl is a pull request of the task's repo on the relay's GitHub host, held
 *   by no other active task (pr-links.ts); otherwise invalid-field / pr-in-use, nothing changes.
 */
import { normaliseArea, type Intent, type Lease, type TaskRuntime, type TaskState } from '../model.js';
import type { ErrorCode } from '../errors.js';
import { checkPrLink, notePr } from './pr-links.js';
import { noteReview } from './trust.js';
import {
  SCHEDULER_ACTOR,
  clean,
  emit,
  endLease,
  isActive,
  leasePoints,
  own,
  policyFor,
  put,
  setTask,
  setWorker,
  startLease,
  workerRuntime,
  claimsToday,
  type Draft,
} from './state.js';

export interface Decision {
  status: 'granted' | 'applied' | 'rejected';
  code?: ErrorCode;
  message?: string;
  filter?: string;
  fencingToken?: number;
  expiresAt?: number;
}

type Of<K extends Intent['kind']> = Extract<Intent, { kind: K }>;
export type LeaseIntent = Of<'heartbeat' | 'release' | 'submit' | 'complete' | 'fail'>;

const rejected = (code: ErrorCode, message: string): Decision => ({ status: 'rejected', code, message });

/** Grant `taskId` to `workerId`. The caller has run every filter. */
export function grant(draft: Draft, taskId: string, workerId: string, intentId: string): Decision {
  const task = own(draft.board.tasks, taskId)!;
  const prev = own(draft.tasks, taskId)!;
  const policy = policyFor(draft, task.repo);
  const fencingToken = prev.fencingToken + 1;
  const lease: Lease = {
    taskId,
    workerId,
    fencingToken,
    grantedAt: draft.now,
    expiresAt: draft.now + policy.leaseTtlMs,
    ttlMs: policy.leaseTtlMs,
    points: task.points,
    area: normaliseArea(task.area),
  };
  startLease(draft, prev, lease, { attempt: prev.attempt + 1, fencingToken, repo: task.repo });
  const workerState = workerRuntime(draft, workerId);
  setWorker(draft, { ...workerState, quotaDay: draft.day, claimsToday: claimsToday(draft, workerState) + 1 });
  emit(draft, { kind: 'lease-granted', actor: workerId, taskId, workerId, intentId, from: prev.state, to: 'leased', fencingToken });
  return { status: 'granted', fencingToken, expiresAt: lease.expiresAt };
}

/** Forbid `workerId` from re-claiming `taskId` until now + cooldownMs; drop cooldowns that ran out. */
function addCooldown(draft: Draft, workerId: string, taskId: string, cooldownMs: number): void {
  const workerState = workerRuntime(draft, workerId);
  const cooldowns: Record<string, number> = {};
  for (const id of Object.keys(workerState.cooldowns).sort()) if (workerState.cooldowns[id]! > draft.now) put(cooldowns, id, workerState.cooldowns[id]!);
  if (cooldownMs > 0) put(cooldowns, taskId, draft.now + cooldownMs);
  setWorker(draft, { ...workerState, cooldowns });
}

function credit(draft: Draft, lease: Lease): void {
  const workerState = workerRuntime(draft, lease.workerId);
  setWorker(draft, { ...workerState, credit: workerState.credit + leasePoints(draft.board, lease), lastCreditAt: draft.now, completed: workerState.completed + 1 });
}

interface EndCause {
  kind: 'lease-released' | 'lease-expired' | 'task-failed' | 'task-requeued';
  actor: string;
  intentId?: string;
  reason?: string;
  /** Go to stuck instead of queued when attempt >= maxAttempts. */
  stuckAtMax: boolean;
}

/** The reason of the `task-requeued` event of a PR closed unmerged (the figures and the trust ladder read it). */
export const PR_CLOSED_REASON = 'Pull request closed without merge.';

/** End an active lease back towards the queue: queued, stuck or (cancel pending) cancelled. */
function endToQueue(draft: Draft, prev: TaskRuntime, cause: EndCause): TaskRuntime {
  const policy = policyFor(draft, prev.repo);
  const attempt = prev.attempt;
  let to: TaskState = 'queued';
  let note = cause.reason;
  if (prev.cancelPending) {
    to = 'cancelled';
    const why = own(draft.board.tasks, prev.taskId)?.cancelReason;
    note = why ? `${why} The lease has ended.` : 'Cancelled by a maintainer; the lease has ended.';
  } else if (cause.stuckAtMax && attempt >= policy.maxAttempts) {
    to = 'stuck';
    note = `Stuck after ${attempt} attempt(s)${cause.reason ? `; last: ${cause.reason}` : ''}. A maintainer can requeue it.`;
  }
  const next: Partial<TaskRuntime> & { state: TaskState } = { state: to, attempt, note, prUrl: undefined };
  if (to === 'queued') next.queuedAt = draft.now;
  if (to === 'cancelled') next.cancelPending = undefined;
  const { runtime, lease } = endLease(draft, prev, next);
  const workerId = lease?.workerId;
  emit(draft, { kind: cause.kind, actor: cause.actor, taskId: prev.taskId, workerId, intentId: cause.intentId, from: prev.state, to, reason: cause.reason, fencingToken: lease?.fencingToken });
  if (to === 'stuck' || to === 'cancelled') {
    emit(draft, { kind: to === 'stuck' ? 'task-stuck' : 'task-cancelled', actor: cause.actor, taskId: prev.taskId, workerId, intentId: cause.intentId, from: prev.state, to, reason: note });
  }
  return runtime;
}

/** Phase 2: a 'leased' lease whose expiresAt <= now ends (pr_open leases do not expire). */
export function expire(draft: Draft, prev: TaskRuntime): void {
  const lease = prev.lease!;
  endToQueue(draft, prev, { kind: 'lease-expired', actor: SCHEDULER_ACTOR, stuckAtMax: true, reason: `No heartbeat from ${lease.workerId} before ${new Date(lease.expiresAt).toISOString()}.` });
  addCooldown(draft, lease.workerId, prev.taskId, policyFor(draft, prev.repo).cooldownMs);
  const workerState = workerRuntime(draft, lease.workerId);
  setWorker(draft, { ...workerState, expired: workerState.expired + 1 });
}

function leaseLost(draft: Draft, intent: LeaseIntent): Decision | null {
  const runtime = own(draft.tasks, intent.taskId);
  if (!runtime && !own(draft.board.tasks, intent.taskId)) return rejected('unknown-task', `There is no task ${intent.taskId}. Check the id with \`owp tasks\`.`);
  const lease = runtime && isActive(runtime) ? runtime.lease : undefined;
  if (lease && lease.workerId === intent.workerId && lease.fencingToken === intent.fencingToken) return null;
  const current = lease?.fencingToken ?? runtime?.fencingToken ?? 0;
  const why =
    lease && lease.workerId !== intent.workerId
      ? `${lease.workerId} holds it now`
      : lease && intent.fencingToken < lease.fencingToken
        ? 'it was granted again since, under a newer token'
        : lease
          ? 'that token was never issued for this lease'
          : 'it expired or was released';
  return rejected(
    'lease-lost',
    `Your lease on ${intent.taskId} is no longer valid (token ${intent.fencingToken}, current ${current}): ${why}. Claim again.`,
  );
}

/** heartbeat, release, submit, complete, fail: only the current holder with the current token. */
export function applyLeaseIntent(draft: Draft, intent: LeaseIntent): Decision {
  const lost = leaseLost(draft, intent);
  if (lost) return lost;
  const prev = own(draft.tasks, intent.taskId)!;
  const lease = prev.lease!;
  const policy = policyFor(draft, prev.repo);
  const base = { actor: intent.workerId, taskId: prev.taskId, workerId: lease.workerId, intentId: intent.id, fencingToken: lease.fencingToken };
  switch (intent.kind) {
    case 'heartbeat': {
      // Same rule in leased and pr_open (only leased leases expire, but a worker that keeps
      // beating while its PR waits should not see its lease shown as lapsed).
      const expiresAt = draft.now + (lease.ttlMs || policy.leaseTtlMs);
      setTask(draft, { ...prev, lease: { ...lease, expiresAt }, updatedAt: draft.now });
      return { status: 'applied', fencingToken: lease.fencingToken, expiresAt };
    }
    case 'release':
      // No cooldown: the worker gave the task back itself (Ctrl-C, a wrong pick); locking it
      // out of its own task would only punish honesty. Fail and expiry keep theirs.
      endToQueue(draft, prev, { kind: 'lease-released', actor: intent.workerId, intentId: intent.id, stuckAtMax: false });
      return { status: 'applied', fencingToken: lease.fencingToken };
    case 'submit': {
      const bad = checkPrLink(draft, prev, intent.prUrl);
      if (bad) return rejected(bad.code, bad.message);
      setTask(draft, { ...prev, state: 'pr_open', prUrl: intent.prUrl, updatedAt: draft.now });
      notePr(draft, prev.taskId, intent.prUrl);
      emit(draft, { kind: 'pr-submitted', ...base, from: prev.state, to: 'pr_open', reason: intent.prUrl });
      return { status: 'applied', fencingToken: lease.fencingToken, expiresAt: lease.expiresAt };
    }
    case 'complete':
      if (prev.state !== 'leased') {
        return rejected('invalid-transition', `Task ${prev.taskId} has a pull request awaiting review; it is done when a maintainer merges it.`);
      }
      finish(draft, prev, intent.workerId, intent.id);
      return { status: 'applied', fencingToken: lease.fencingToken };
    case 'fail': {
      endToQueue(draft, prev, { kind: 'task-failed', actor: intent.workerId, intentId: intent.id, reason: intent.reason, stuckAtMax: true });
      addCooldown(draft, lease.workerId, prev.taskId, policy.cooldownMs);
      const workerState = workerRuntime(draft, lease.workerId);
      setWorker(draft, { ...workerState, failed: workerState.failed + 1 });
      return { status: 'applied', fencingToken: lease.fencingToken };
    }
  }
}

/** leased / pr_open -> done, credit to the holder. */
function finish(draft: Draft, prev: TaskRuntime, actor: string, intentId: string): void {
  const { lease } = endLease(draft, prev, { state: 'done', creditedTo: prev.lease!.workerId, cancelPending: undefined, note: undefined });
  credit(draft, lease!);
  emit(draft, { kind: 'task-done', actor, taskId: prev.taskId, workerId: lease!.workerId, intentId, from: prev.state, to: 'done', fencingToken: lease!.fencingToken });
}

const invalid = (runtime: TaskRuntime, what: string): Decision =>
  rejected('invalid-transition', `Task ${runtime.taskId} is ${runtime.state}; ${what} does not apply to it.`);

/** Maintainer / GitHub tracker intents. The relay checks the actor may send them. */
export function applyMaintainerIntent(draft: Draft, intent: Of<'review' | 'requeue' | 'cancel'>): Decision {
  const prev = own(draft.tasks, intent.taskId);
  if (!prev) return rejected('unknown-task', `There is no task ${intent.taskId} in the ledger. Check the id with \`owp tasks\`.`);
  const actor = intent.workerId;
  const holder = prev.lease?.workerId;
  const base = { actor, taskId: prev.taskId, workerId: holder, intentId: intent.id, fencingToken: prev.lease?.fencingToken };
  const active = isActive(prev);
  if (intent.kind === 'cancel') {
    if (prev.state === 'done' || prev.state === 'cancelled') return invalid(prev, 'cancel');
    const note = intent.reason || 'Cancelled by a maintainer.';
    const { runtime } = endLease(draft, prev, { state: 'cancelled', note, cancelPending: undefined });
    emit(draft, { kind: 'task-cancelled', ...base, from: prev.state, to: runtime.state, reason: intent.reason });
    return { status: 'applied' };
  }
  if (intent.kind === 'requeue') {
    if (prev.state === 'done' || prev.state === 'cancelled') return invalid(prev, 'requeue');
    if (active) {
      endToQueue(draft, prev, { kind: 'task-requeued', actor, intentId: intent.id, stuckAtMax: false });
    } else {
      // A queued task keeps its place (age in queue); a stuck one re-enters the queue now.
      const queuedAt = prev.state === 'queued' ? prev.queuedAt : draft.now;
      setTask(draft, clean({ ...prev, state: 'queued', queuedAt, updatedAt: draft.now, note: undefined }));
      emit(draft, { kind: 'task-requeued', ...base, from: prev.state, to: 'queued' });
    }
    return { status: 'applied' };
  }
  // review
  if (!active) return invalid(prev, `review "${intent.result}"`);
  switch (intent.result) {
    case 'open': {
      const prUrl = intent.prUrl ?? prev.prUrl;
      if (prev.state === 'pr_open' && prUrl === prev.prUrl) return { status: 'applied' };
      setTask(draft, clean({ ...prev, state: 'pr_open', prUrl, updatedAt: draft.now }));
      if (prUrl) notePr(draft, prev.taskId, prUrl);
      emit(draft, { kind: 'pr-submitted', ...base, from: prev.state, to: 'pr_open', reason: prUrl });
      return { status: 'applied' };
    }
    case 'merged':
      finish(draft, prev, actor, intent.id);
      noteReview(draft, prev, 'merged', intent.id);
      return { status: 'applied' };
    case 'closed':
      // Closed unmerged: back to the queue, no cooldown (the maintainer closed it, the worker did not give up).
      endToQueue(draft, prev, { kind: 'task-requeued', actor, intentId: intent.id, stuckAtMax: false, reason: PR_CLOSED_REASON });
      noteReview(draft, prev, 'closed', intent.id);
      return { status: 'applied' };
    case 'changes-requested': {
      const lease = prev.lease!;
      const expiresAt = draft.now + (lease.ttlMs || policyFor(draft, prev.repo).leaseTtlMs);
      setTask(draft, clean({ ...prev, state: 'leased', lease: { ...lease, expiresAt }, updatedAt: draft.now, note: intent.note || undefined }));
      emit(draft, { kind: 'review-changes-requested', ...base, from: prev.state, to: 'leased', reason: intent.note || undefined });
      return { status: 'applied', fencingToken: lease.fencingToken, expiresAt };
    }
  }
}
