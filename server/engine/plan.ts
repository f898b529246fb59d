/**
 * planBatch: one engine batch as data. From the scheduler's answer it computes every effect
 * the engine then performs in order: the store ops, what the session commits, the ledger
 * document's change, the answers. Pure: no clock, no I/O; the inputs are not changed.
 *
 * Invariants:
 * - Heartbeats are not history: their outcomes are not stored and their audit events dropped.
 * - Idle polls (claim-next refused with no-matching-task) are counted, not audited.
 * - An inbox intent refused before arbitration gets exactly one stored outcome (never a
 *   second one if it already has one).
 * - Archiving returns a NEW tasks record without the archived ids.
 */
import { TERMINAL_STATES, type AuditEvent, type Ledger, type Outcome, type TaskRuntime } from '../../shared/model.js';
import type { SessionBatch } from '../../shared/scheduler/index.js';
import type { StoreOp } from '../store/index.js';
import type { BoardEdit } from './board.js';
import type { RejectedIntent } from './inboxes.js';
import type { Pending } from './intake.js';
import { planOutcomeArchive } from './outcomes.js';
import { diffLedger, diffLedgerIds, ledgerOps, withoutHeartbeatNoise, type LedgerDiff } from './ledger-diff.js';

export const ARCHIVE_PREFIX = 'archive/task/';

/**
 * Drop heartbeat outcomes and events, and store the pre-arbitration refusals (an id already
 * stored keeps its outcome). Returns the batch's outcomes to store and events to audit.
 */
export function settleOutcomes(
  outcomes: Readonly<Record<string, Outcome>>,
  events: AuditEvent[],
  ephemeralIds: ReadonlySet<string>,
  rejected: readonly RejectedIntent[],
  stored: (intentId: string) => boolean,
  batch: number,
  now: number,
): { outcomes: Record<string, Outcome>; events: AuditEvent[] } {
  const out = { ...outcomes };
  for (const id of ephemeralIds) if (out[id] && !stored(id)) delete out[id];
  let audited = ephemeralIds.size > 0 ? events.filter((e) => !(e.intentId && ephemeralIds.has(e.intentId))) : events;
  const extra: AuditEvent[] = [];
  for (const r of rejected) {
    if (r.id in out || stored(r.id)) continue;
    out[r.id] = { intentId: r.id, kind: r.kind, workerId: r.workerId, status: 'rejected', code: r.code, message: r.message, batch, at: now };
    extra.push({ kind: 'intent-rejected', at: now, batch, actor: r.workerId, workerId: r.workerId, intentId: r.id, code: r.code, reason: r.message });
  }
  if (extra.length > 0) audited = [...audited, ...extra];
  return { outcomes: out, events: audited };
}

/**
 * A claim-next refused (an idle worker polling: no task fits, or the worker is at one of its
 * own limits, e.g. max-open-prs while its PRs wait for review) is not history: it is
 * counted, not chained into the audit log, so idle polling never grows the log. A refused
 * claim of a named task stays an entry. Returns the events to audit and how many idle
 * refusals were left out.
 */
export function withoutIdlePolls(events: AuditEvent[]): { events: AuditEvent[]; idle: number } {
  let idle = 0;
  const kept = events.filter((e) => {
    const isIdle = e.kind === 'claim-rejected' && e.taskId === undefined;
    if (isIdle) idle += 1;
    return !isIdle;
  });
  return { events: idle > 0 ? kept : events, idle };
}

export interface ArchivePlan {
  ops: StoreOp[];
  archived: string[];
  /** Outcome ids to leave the ledger document. */
  pruned: string[];
  /** The tasks record without the archived ids (the input record when nothing is archived). */
  tasks: Record<string, TaskRuntime>;
  /** More finished tasks or shown outcomes are due than this slice took: the next batch takes more. */
  more: boolean;
}

/**
 * At most this many finished tasks, and twice as many shown outcomes, leave the live state per
 * batch; the rest go with the next batches (server/engine/batch.ts: a slice, then at least as
 * long without one, the event loop free in between). One batch archiving every task past the
 * window held the relay for minutes after 100,000 lifecycles; a slice costs its size (Yjs:
 * ~40 us a board task, shared/yjs-clients.ts) plus a copy of the tasks record and, in the
 * next batch, the scheduler's index rebuild, both O(tasks): docs/BENCHMARKS.md, "Session 7".
 */
export const ARCHIVE_SLICE = 1000;

/**
 * Finished tasks and shown outcomes older than the retention window leave the live state,
 * at most `max` tasks and `2 * max` outcomes, oldest first. `dueTasks`: the candidates in
 * order (archive.ts ArchiveQueue; checked here against `tasks`), else every task is looked at.
 */
export function planArchive(
  tasks: Record<string, TaskRuntime>,
  shownOutcomes: Iterable<[string, Outcome]> | undefined,
  rawTask: (id: string) => unknown,
  now: number,
  retentionMs: number,
  max = ARCHIVE_SLICE,
  dueTasks?: Iterable<string>,
): ArchivePlan {
  const cutoff = now - retentionMs;
  const pruned: string[] = [];
  let more = false;
  for (const [id, o] of shownOutcomes ?? []) {
    if (!o || typeof o.at !== 'number' || o.at > cutoff) continue;
    if (pruned.length >= 2 * max) {
      more = true;
      break;
    }
    pruned.push(id);
  }
  const ops: StoreOp[] = [];
  const archived = new Set<string>();
  for (const id of dueTasks ?? Object.keys(tasks)) {
    const rt = tasks[id];
    if (!rt || !TERMINAL_STATES.includes(rt.state) || rt.updatedAt > cutoff || archived.has(id)) continue;
    if (archived.size >= max) {
      more = true;
      break;
    }
    ops.push({ type: 'put', key: ARCHIVE_PREFIX + id, value: { task: rawTask(id) ?? null, runtime: rt, archivedAt: now } });
    archived.add(id);
  }
  if (archived.size === 0) return { ops, archived: [], pruned, tasks, more };
  const kept = { ...tasks };
  for (const id of archived) delete kept[id];
  return { ops, archived: [...archived], pruned, tasks: kept, more };
}

export interface PlanInput {
  entries: readonly Pending[];
  rejected: readonly RejectedIntent[];
  /** Whether an intent id already has a stored outcome. */
  stored: (intentId: string) => boolean;
  /**
   * The ledger document's task entries (heartbeat-only expiry moves are not shown again).
   * Omitted by a batch decided before the one ahead of it is shown (pipelined): the engine
   * computes `doc` with docChange() when it shows the batch.
   */
  shownTasks?: { get(taskId: string): unknown };
  now: number;
  /**
   * Given when finished tasks and old outcomes are due to leave the live state (`outcomes`:
   * the ones in memory). `dueTasks` / `dueOutcomes`: the candidates in order (archive.ts);
   * with `dueOutcomes` the document loses exactly the outcomes memory does (it shows no
   * other), else `shownOutcomes` is scanned.
   */
  archive?: {
    shownOutcomes?: Iterable<[string, Outcome]>;
    outcomes: Readonly<Record<string, Outcome>>;
    rawTask: (id: string) => unknown;
    retentionMs: number;
    slice?: number;
    dueTasks?: Iterable<string>;
    dueOutcomes?: Iterable<string>;
  };
  /** Board edits since the last batch (hold, priority, trust): audited after the batch's own events. */
  edits?: readonly BoardEdit[];
}

/** The audit events of board edits, stamped with this batch. */
export function editEvents(edits: readonly BoardEdit[], batch: number, now: number): AuditEvent[] {
  return edits.map((e) => {
    const ev: AuditEvent = { kind: e.kind, at: now, batch, actor: e.actor };
    if (e.taskId !== undefined) ev.taskId = e.taskId;
    if (e.workerId !== undefined) ev.workerId = e.workerId;
    if (e.repo !== undefined) ev.repo = e.repo;
    if (e.before !== undefined) ev.before = e.before;
    if (e.after !== undefined) ev.after = e.after;
    return ev;
  });
}

export interface BatchPlan {
  batch: number;
  /** What the session commits once the store ops are written. */
  settled: { outcomes: Record<string, Outcome>; tasks: Record<string, TaskRuntime> };
  /** Intent id -> outcome, for every intent of the batch. */
  replies: Map<string, Outcome>;
  /** The outcomes listeners are told of (heartbeats left out). */
  outcomes: Outcome[];
  /** Events to audit and show. */
  events: AuditEvent[];
  /** Idle claim-next polls left out of the events (counted in the engine's stats). */
  idlePolls: number;
  /** Ledger and archive ops (the audit entries chain on the audit head: the runner adds them). */
  storeOps: StoreOp[];
  /** What changed in the ledger, as stored. */
  diff: LedgerDiff;
  /** The ledger document's change; `apply` false when it would add nothing. */
  doc: { diff: LedgerDiff; pruned: string[]; apply: boolean };
  archived: string[];
  /** More finished tasks or shown outcomes are due than this batch's slice took. */
  archiveMore: boolean;
  /** Outcome ids that leave memory for the store's archive (server/engine/outcomes.ts), and whether more are due. */
  outcomesArchived: { ids: string[]; more: boolean };
}

export function planBatch(scheduled: SessionBatch, input: PlanInput): BatchPlan {
  const { entries, rejected, now } = input;
  const prev = scheduled.input;
  const next = scheduled.ledger;
  const batch = next.batch;
  const ephemeralIds = new Set<string>();
  for (const p of entries) if (p.ephemeral) ephemeralIds.add(p.intent.id);
  const replies = new Map<string, Outcome>();
  for (const o of scheduled.outcomes) replies.set(o.intentId, o);
  const settled = settleOutcomes(next.outcomes, scheduled.events, ephemeralIds, rejected, input.stored, batch, now);
  const audited = withoutIdlePolls(settled.events);
  if (input.edits?.length) audited.events = [...audited.events, ...editEvents(input.edits, batch, now)];
  let tasks = next.tasks;
  let archiveOps: StoreOp[] = [];
  let archived: string[] = [];
  let pruned: string[] = [];
  let archiveMore = false;
  let outcomesArchived: BatchPlan['outcomesArchived'] = { ids: [], more: false };
  if (input.archive) {
    const a = input.archive;
    const shown = a.dueOutcomes ? undefined : a.shownOutcomes;
    ({ ops: archiveOps, archived, pruned, tasks, more: archiveMore } = planArchive(tasks, shown, a.rawTask, now, a.retentionMs, a.slice, a.dueTasks));
    const o = planOutcomeArchive(a.outcomes, now - a.retentionMs, 4 * (a.slice ?? ARCHIVE_SLICE), a.dueOutcomes);
    if (a.dueOutcomes) pruned = o.ids;
    outcomesArchived = { ids: o.ids, more: o.more };
    if (o.ops.length > 0) archiveOps = [...archiveOps, ...o.ops];
  }
  const outcomeIds = [...entries.map((p) => p.intent.id), ...rejected.map((r) => r.id)];
  const after: Ledger = { ...next, tasks, outcomes: settled.outcomes };
  const changed = scheduled.changed;
  // The archived ids are the only other tasks that changed: a slice costs its size, not the pool's.
  const diff = changed
    ? diffLedgerIds(prev, after, archived.length === 0 ? changed.tasks : [...changed.tasks, ...archived], changed.workers, outcomeIds)
    : diffLedger(prev, after, outcomeIds);
  return {
    batch,
    settled: { outcomes: settled.outcomes, tasks },
    replies,
    outcomes: scheduled.outcomes.filter((o) => !ephemeralIds.has(o.intentId)),
    events: audited.events,
    idlePolls: audited.idle,
    storeOps: [...(ledgerOps(diff, batch, now) as StoreOp[]), ...archiveOps],
    diff,
    doc: docChange(diff, audited.events, pruned, input.shownTasks),
    archived,
    archiveMore,
    outcomesArchived,
  };
}

/** The ledger document's change for a batch's diff, given what the document shows (`shown`; none: every task change is shown). */
export function docChange(diff: LedgerDiff, events: readonly AuditEvent[], pruned: string[], shown?: { get(taskId: string): unknown }): BatchPlan['doc'] {
  const docDiff = shown ? withoutHeartbeatNoise(diff, shown) : diff;
  const docChanged = Object.keys(docDiff.tasks).length + Object.keys(docDiff.workers).length + Object.keys(docDiff.outcomes).length > 0;
  return { diff: docDiff, pruned, apply: docChanged || events.length > 0 || pruned.length > 0 };
}

/** The earliest lease expiry among these changed tasks and `bound` (a lower bound the engine keeps cheaply). */
export function earliestLeaseExpiry(tasks: Readonly<Record<string, TaskRuntime | null | undefined>>, bound: number): number {
  let earliest = bound;
  for (const id in tasks) {
    const rt = tasks[id];
    if (rt?.state === 'leased' && rt.lease && rt.lease.expiresAt < earliest) earliest = rt.lease.expiresAt;
  }
  return earliest;
}

/** Board tasks already archived (a crash between archiving and removing them from the board must not resurrect them). */
export async function archivedOnBoard(store: { get(key: string): Promise<unknown> }, board: { board(): { tasks: Record<string, unknown> } }, ledger: Ledger): Promise<string[]> {
  const stale: string[] = [];
  for (const id of Object.keys(board.board().tasks)) if (!(id in ledger.tasks) && (await store.get(ARCHIVE_PREFIX + id)) !== undefined) stale.push(id);
  return stale;
}
