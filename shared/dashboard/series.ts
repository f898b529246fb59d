/**
 * Chart series for the dashboard, computed from audit events: assignments per minute,
 * lease expiries per minute, and capacity utilisation at the end of each minute.
 *
 * Invariants:
 * - Pure and deterministic: (events, ledger, board, capacity, now) -> series. No clock.
 * - Buckets are whole UTC minutes; the last bucket is the minute containing `now`, and
 *   there are exactly `minutes` buckets, oldest first. An event at time t falls in the
 *   bucket whose start <= t < start + 60 000; events outside the window are ignored.
 * - Utilisation is rebuilt backwards from the ledger's current leases (the authority),
 *   undoing each later event, so it is right even when the window starts mid-lease.
 */
import type { AuditEvent, Board, Ledger, TaskState } from '../model.js';

export const MINUTE_MS = 60_000;

export interface SeriesPoint {
  /** Start of the minute (ms since epoch, UTC). */
  at: number;
  value: number;
}

export interface ChartSeries {
  key: 'assignments' | 'expiries' | 'utilisation';
  title: string;
  unit: string;
  points: SeriesPoint[];
  /** Highest value the y axis must show (at least 1). */
  max: number;
}

const ACTIVE: ReadonlySet<TaskState> = new Set<TaskState>(['leased', 'pr_open']);

/** Start of the UTC minute containing `t`. */
export function minuteStart(t: number): number {
  return Math.floor(t / MINUTE_MS) * MINUTE_MS;
}

/** `minutes` empty buckets ending with the minute that contains `now`. */
export function emptyBuckets(now: number, minutes: number): SeriesPoint[] {
  const last = minuteStart(now);
  const out: SeriesPoint[] = [];
  for (let i = minutes - 1; i >= 0; i--) out.push({ at: last - i * MINUTE_MS, value: 0 });
  return out;
}

/** Count events of the given kinds per minute over the window. */
export function countPerMinute(events: readonly AuditEvent[], kinds: readonly string[], now: number, minutes: number): SeriesPoint[] {
  const buckets = emptyBuckets(now, minutes);
  const first = buckets[0].at;
  const wanted = new Set(kinds);
  for (const e of events) {
    if (!wanted.has(e.kind) || !Number.isFinite(e.at)) continue;
    const idx = Math.floor((e.at - first) / MINUTE_MS);
    if (idx < 0 || idx >= buckets.length) continue;
    buckets[idx].value += 1;
  }
  return buckets;
}

/** Did this event move a task into an active lease, out of one, or neither? */
function leaseEffect(e: AuditEvent): 'start' | 'end' | undefined {
  if (e.from !== undefined || e.to !== undefined) {
    const wasActive = e.from !== undefined && ACTIVE.has(e.from);
    const isActive = e.to !== undefined && ACTIVE.has(e.to);
    if (!wasActive && isActive) return 'start';
    if (wasActive && !isActive) return 'end';
    return undefined;
  }
  switch (e.kind) {
    case 'lease-granted':
      return 'start';
    case 'lease-released':
    case 'lease-expired':
    case 'task-done':
    case 'task-failed':
    case 'task-stuck':
    case 'task-cancelled':
      return 'end';
    default:
      return undefined;
  }
}

/**
 * Points held under active leases at the end of each minute, as a percentage of
 * `totalCapacity` (or raw points when the capacity is unknown, i.e. 0).
 */
export function utilisationPerMinute(
  events: readonly AuditEvent[],
  ledger: Ledger,
  board: Board,
  totalCapacity: number,
  now: number,
  minutes: number,
): SeriesPoint[] {
  const buckets = emptyBuckets(now, minutes);
  const pointsOf = (taskId: string): number => board.tasks[taskId]?.points ?? 1;
  // Active set now, from the ledger.
  const active = new Set<string>();
  for (const rt of Object.values(ledger.tasks)) if (ACTIVE.has(rt.state)) active.add(rt.taskId);
  const sorted = events
    .filter((e) => Number.isFinite(e.at) && e.taskId && e.at <= now)
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.at - b.e.at || (a.e.batch ?? 0) - (b.e.batch ?? 0) || a.i - b.i)
    .map((x) => x.e);
  let k = sorted.length - 1;
  const sumPoints = (): number => {
    let s = 0;
    for (const id of active) s += pointsOf(id);
    return s;
  };
  // Walk buckets newest first; before reading bucket b, undo every event after its end.
  for (let b = buckets.length - 1; b >= 0; b--) {
    const end = buckets[b].at + MINUTE_MS;
    while (k >= 0 && sorted[k].at >= end) {
      const e = sorted[k];
      const eff = leaseEffect(e);
      if (eff === 'start') active.delete(e.taskId!);
      else if (eff === 'end') active.add(e.taskId!);
      k--;
    }
    const held = sumPoints();
    buckets[b].value = totalCapacity > 0 ? Math.round((held / totalCapacity) * 1000) / 10 : held;
  }
  return buckets;
}

export function buildSeries(
  events: readonly AuditEvent[],
  ledger: Ledger,
  board: Board,
  totalCapacity: number,
  now: number,
  minutes = 60,
): ChartSeries[] {
  const assignments = countPerMinute(events, ['lease-granted'], now, minutes);
  const expiries = countPerMinute(events, ['lease-expired'], now, minutes);
  const utilisation = utilisationPerMinute(events, ledger, board, totalCapacity, now, minutes);
  const maxOf = (p: SeriesPoint[]): number => Math.max(1, ...p.map((x) => x.value));
  return [
    { key: 'assignments', title: 'Assignments per minute', unit: 'leases', points: assignments, max: maxOf(assignments) },
    { key: 'expiries', title: 'Lease expiries per minute', unit: 'expiries', points: expiries, max: maxOf(expiries) },
    {
      key: 'utilisation',
      title: totalCapacity > 0 ? 'Capacity utilisation' : 'Points in use',
      unit: totalCapacity > 0 ? '%' : 'points',
      points: utilisation,
      max: totalCapacity > 0 ? 100 : maxOf(utilisation),
    },
  ];
}
