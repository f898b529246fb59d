/**
 * Pure steps of one engine batch, between the scheduler's answer and the LevelDB write.
 *
 * Invariants:
 * - Heartbeats are not history: their outcomes are not stored and their audit events dropped.
 * - An inbox intent refused before arbitration gets exactly one stored outcome (never a
 *   second one if it already has one).
 * - Archiving only plans: it returns the ops and ids, and a NEW tasks record without the
 *   archived ids (the scheduler's carried indexes belong to the record it returned).
 */
import { TERMINAL_STATES, type AuditEvent, type Outcome, type TaskRuntime } from '../../shared/model.js';
import type { StoreOp } from '../store/index.js';
import type { RejectedIntent } from './inboxes.js';

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

export interface ArchivePlan {
  ops: StoreOp[];
  archived: string[];
  /** Outcome ids to leave the ledger document. */
  pruned: string[];
  /** The tasks record without the archived ids (the input record when nothing is archived). */
  tasks: Record<string, TaskRuntime>;
}

/** Finished tasks and shown outcomes older than the retention window leave the live state. */
export function planArchive(
  tasks: Record<string, TaskRuntime>,
  shownOutcomes: Iterable<[string, Outcome]>,
  rawTask: (id: string) => unknown,
  now: number,
  retentionMs: number,
): ArchivePlan {
  const cutoff = now - retentionMs;
  const pruned: string[] = [];
  for (const [id, o] of shownOutcomes) if (o && typeof o.at === 'number' && o.at <= cutoff) pruned.push(id);
  const ops: StoreOp[] = [];
  const archived: string[] = [];
  for (const [id, rt] of Object.entries(tasks)) {
    if (TERMINAL_STATES.includes(rt.state) && rt.updatedAt <= cutoff) {
      ops.push({ type: 'put', key: ARCHIVE_PREFIX + id, value: { task: rawTask(id) ?? null, runtime: rt, archivedAt: now } });
      archived.push(id);
    }
  }
  if (archived.length === 0) return { ops, archived, pruned, tasks };
  const kept = { ...tasks };
  for (const id of archived) delete kept[id];
  return { ops, archived, pruned, tasks: kept };
}
