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
  type Work,
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
export function grant(w: Work, taskId: string, workerId: string, intentId: string): Decision {
  const task = own(w.board.tasks, taskId)!;
  const prev = own(w.tasks, taskId)!;
  const policy = policyFor(w, task.repo);
  const fencingToken = prev.fencingToken + 1;
  const lease: Lease = {
    taskId,
    workerId,
    fencingToken,
    grantedAt: w.now,
    expiresAt: w.now + policy.leaseTtlMs,
    ttlMs: policy.leaseTtlMs,
    points: task.points,
    area: normaliseArea(task.area),
  };
  startLease(w, prev, lease, { attempt: prev.attempt + 1, fencingToken, repo: task.repo });
  const wr = workerRuntime(w, workerId);
  setWorker(w, { ...wr, quotaDay: w.day, claimsToday: claimsToday(w, wr) + 1 });
  emit(w, { kind: 'lease-granted', actor: workerId, taskId, workerId, intentId, from: prev.state, to: 'leased', fencingToken });
  return { status: 'granted', fencingToken, expiresAt: lease.expiresAt };
}

/** Forbid `workerId` from re-claiming `taskId` until now + cooldownMs; drop cooldowns that ran out. */
function addCooldown(w: Work, workerId: string, taskId: string, cooldownMs: number): void {
  const wr = workerRuntime(w, workerId);
  const cooldowns: Record<string, number> = {};
  for (const id of Object.keys(wr.cooldowns).sort()) if (wr.cooldowns[id]! > w.now) put(cooldowns, id, wr.cooldowns[id]!);
  if (cooldownMs > 0) put(cooldowns, taskId, w.now + cooldownMs);
  setWorker(w, { ...wr, cooldowns });
}

function credit(w: Work, lease: Lease): void {
  const wr = workerRuntime(w, lease.workerId);
  setWorker(w, { ...wr, credit: wr.credit + leasePoints(w.board, lease), lastCreditAt: w.now, completed: wr.completed + 1 });
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
function endToQueue(w: Work, prev: TaskRuntime, cause: EndCause): TaskRuntime {
  const policy = policyFor(w, prev.repo);
  const attempt = prev.attempt;
  let to: TaskState = 'queued';
  let note = cause.reason;
  if (prev.cancelPending) {
    to = 'cancelled';
    const why = own(w.board.tasks, prev.taskId)?.cancelReason;
    note = why ? `${why} The lease has ended.` : 'Cancelled by a maintainer; the lease has ended.';
  } else if (cause.stuckAtMax && attempt >= policy.maxAttempts) {
    to = 'stuck';
    note = `Stuck after ${attempt} attempt(s)${cause.reason ? `; last: ${cause.reason}` : ''}. A maintainer can requeue it.`;
  }
  const next: Partial<TaskRuntime> & { state: TaskState } = { state: to, attempt, note, prUrl: undefined };
  if (to === 'queued') next.queuedAt = w.now;
  if (to === 'cancelled') next.cancelPending = undefined;
  const { rt, lease } = endLease(w, prev, next);
  const workerId = lease?.workerId;
  emit(w, { kind: cause.kind, actor: cause.actor, taskId: prev.taskId, workerId, intentId: cause.intentId, from: prev.state, to, reason: cause.reason, fencingToken: lease?.fencingToken });
  if (to === 'stuck' || to === 'cancelled') {
    emit(w, { kind: to === 'stuck' ? 'task-stuck' : 'task-cancelled', actor: cause.actor, taskId: prev.taskId, workerId, intentId: cause.intentId, from: prev.state, to, reason: note });
  }
  return rt;
}

/** Phase 2: a 'leased' lease whose expiresAt <= now ends (pr_open leases do not expire). */
export function expire(w: Work, prev: TaskRuntime): void {
  const lease = prev.lease!;
  endToQueue(w, prev, { kind: 'lease-expired', actor: SCHEDULER_ACTOR, stuckAtMax: true, reason: `No heartbeat from ${lease.workerId} before ${new Date(lease.expiresAt).toISOString()}.` });
  addCooldown(w, lease.workerId, prev.taskId, policyFor(w, prev.repo).cooldownMs);
  const wr = workerRuntime(w, lease.workerId);
  setWorker(w, { ...wr, expired: wr.expired + 1 });
}

function leaseLost(w: Work, intent: LeaseIntent): Decision | null {
  const rt = own(w.tasks, intent.taskId);
  if (!rt && !own(w.board.tasks, intent.taskId)) return rejected('unknown-task', `There is no task ${intent.taskId}. Check the id with \`owp tasks\`.`);
  const lease = rt && isActive(rt) ? rt.lease : undefined;
  if (lease && lease.workerId === intent.workerId && lease.fencingToken === intent.fencingToken) return null;
  const current = lease?.fencingToken ?? rt?.fencingToken ?? 0;
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
export function applyLeaseIntent(w: Work, intent: LeaseIntent): Decision {
  const lost = leaseLost(w, intent);
  if (lost) return lost;
  const prev = own(w.tasks, intent.taskId)!;
  const lease = prev.lease!;
  const policy = policyFor(w, prev.repo);
  const base = { actor: intent.workerId, taskId: prev.taskId, workerId: lease.workerId, intentId: intent.id, fencingToken: lease.fencingToken };
  switch (intent.kind) {
    case 'heartbeat': {
      // Same rule in leased and pr_open (only leased leases expire, but a worker that keeps
      // beating while its PR waits should not see its lease shown as lapsed).
      const expiresAt = w.now + (lease.ttlMs || policy.leaseTtlMs);
      setTask(w, { ...prev, lease: { ...lease, expiresAt }, updatedAt: w.now });
      return { status: 'applied', fencingToken: lease.fencingToken, expiresAt };
    }
    case 'release':
      // No cooldown: the worker gave the task back itself (Ctrl-C, a wrong pick); locking it
      // out of its own task would only punish honesty. Fail and expiry keep theirs.
      endToQueue(w, prev, { kind: 'lease-released', actor: intent.workerId, intentId: intent.id, stuckAtMax: false });
      return { status: 'applied', fencingToken: lease.fencingToken };
    case 'submit': {
      const bad = checkPrLink(w, prev, intent.prUrl);
      if (bad) return rejected(bad.code, bad.message);
      setTask(w, { ...prev, state: 'pr_open', prUrl: intent.prUrl, updatedAt: w.now });
      notePr(w, prev.taskId, intent.prUrl);
      emit(w, { kind: 'pr-submitted', ...base, from: prev.state, to: 'pr_open', reason: intent.prUrl });
      return { status: 'applied', fencingToken: lease.fencingToken, expiresAt: lease.expiresAt };
    }
    case 'complete':
      if (prev.state !== 'leased') {
        return rejected('invalid-transition', `Task ${prev.taskId} has a pull request awaiting review; it is done when a maintainer merges it.`);
      }
      finish(w, prev, intent.workerId, intent.id);
      return { status: 'applied', fencingToken: lease.fencingToken };
    case 'fail': {
      endToQueue(w, prev, { kind: 'task-failed', actor: intent.workerId, intentId: intent.id, reason: intent.reason, stuckAtMax: true });
      addCooldown(w, lease.workerId, prev.taskId, policy.cooldownMs);
      const wr = workerRuntime(w, lease.workerId);
      setWorker(w, { ...wr, failed: wr.failed + 1 });
      return { status: 'applied', fencingToken: lease.fencingToken };
    }
  }
}

/** leased / pr_open -> done, credit to the holder. */
function finish(w: Work, prev: TaskRuntime, actor: string, intentId: string): void {
  const { lease } = endLease(w, prev, { state: 'done', creditedTo: prev.lease!.workerId, cancelPending: undefined, note: undefined });
  credit(w, lease!);
  emit(w, { kind: 'task-done', actor, taskId: prev.taskId, workerId: lease!.workerId, intentId, from: prev.state, to: 'done', fencingToken: lease!.fencingToken });
}

const invalid = (rt: TaskRuntime, what: string): Decision =>
  rejected('invalid-transition', `Task ${rt.taskId} is ${rt.state}; ${what} does not apply to it.`);

/** Maintainer / GitHub tracker intents. The relay checks the actor may send them. */
export function applyMaintainerIntent(w: Work, intent: Of<'review' | 'requeue' | 'cancel'>): Decision {
  const prev = own(w.tasks, intent.taskId);
  if (!prev) return rejected('unknown-task', `There is no task ${intent.taskId} in the ledger. Check the id with \`owp tasks\`.`);
  const actor = intent.workerId;
  const holder = prev.lease?.workerId;
  const base = { actor, taskId: prev.taskId, workerId: holder, intentId: intent.id, fencingToken: prev.lease?.fencingToken };
  const active = isActive(prev);
  if (intent.kind === 'cancel') {
    if (prev.state === 'done' || prev.state === 'cancelled') return invalid(prev, 'cancel');
    const note = intent.reason || 'Cancelled by a maintainer.';
    const { rt } = endLease(w, prev, { state: 'cancelled', note, cancelPending: undefined });
    emit(w, { kind: 'task-cancelled', ...base, from: prev.state, to: rt.state, reason: intent.reason });
    return { status: 'applied' };
  }
  if (intent.kind === 'requeue') {
    if (prev.state === 'done' || prev.state === 'cancelled') return invalid(prev, 'requeue');
    if (active) {
      endToQueue(w, prev, { kind: 'task-requeued', actor, intentId: intent.id, stuckAtMax: false });
    } else {
      // A queued task keeps its place (age in queue); a stuck one re-enters the queue now.
      const queuedAt = prev.state === 'queued' ? prev.queuedAt : w.now;
      setTask(w, clean({ ...prev, state: 'queued', queuedAt, updatedAt: w.now, note: undefined }));
      emit(w, { kind: 'task-requeued', ...base, from: prev.state, to: 'queued' });
    }
    return { status: 'applied' };
  }
  // review
  if (!active) return invalid(prev, `review "${intent.result}"`);
  switch (intent.result) {
    case 'open': {
      const prUrl = intent.prUrl ?? prev.prUrl;
      if (prev.state === 'pr_open' && prUrl === prev.prUrl) return { status: 'applied' };
      setTask(w, clean({ ...prev, state: 'pr_open', prUrl, updatedAt: w.now }));
      if (prUrl) notePr(w, prev.taskId, prUrl);
      emit(w, { kind: 'pr-submitted', ...base, from: prev.state, to: 'pr_open', reason: prUrl });
      return { status: 'applied' };
    }
    case 'merged':
      finish(w, prev, actor, intent.id);
      return { status: 'applied' };
    case 'closed':
      // Closed unmerged: back to the queue, no cooldown (the maintainer closed it, the worker did not give up).
      endToQueue(w, prev, { kind: 'task-requeued', actor, intentId: intent.id, stuckAtMax: false, reason: PR_CLOSED_REASON });
      return { status: 'applied' };
    case 'changes-requested': {
      const lease = prev.lease!;
      const expiresAt = w.now + (lease.ttlMs || policyFor(w, prev.repo).leaseTtlMs);
      setTask(w, clean({ ...prev, state: 'leased', lease: { ...lease, expiresAt }, updatedAt: w.now, note: intent.note || undefined }));
      emit(w, { kind: 'review-changes-requested', ...base, from: prev.state, to: 'leased', reason: intent.note || undefined });
      return { status: 'applied', fencingToken: lease.fencingToken, expiresAt };
    }
  }
}
