/**
 * Small text formatters for the dashboard (countdowns, clock times, event sentences).
 *
 * Invariants:
 * - Pure: same input, same text. No clock of their own (callers pass `now`), no locale
 *   surprises (times are shown in UTC as HH:MM:SS so tests and screenshots are stable).
 * - Never throws on odd input (NaN, negative, missing fields): it shows something sensible.
 */
import type { AuditEvent } from '../model.js';

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** Hours, minutes and seconds of a positive duration, seconds rounded up. */
function hms(ms: number): { h: number; m: number; s: number } {
  const total = Math.ceil(ms / 1000);
  return { h: Math.floor(total / 3600), m: Math.floor((total % 3600) / 60), s: total % 60 };
}

/**
 * A lease countdown: `1h 02m`, `4m 05s`, `12s`, or `expired` when the time is up.
 * Seconds are rounded up, so a lease with 200 ms left still shows `1s`, never `0s`.
 */
export function formatCountdown(msLeft: number): string {
  if (!Number.isFinite(msLeft) || msLeft <= 0) return 'expired';
  const { h, m, s } = hms(msLeft);
  if (h > 0) return `${h}h ${pad2(m)}m`;
  if (m > 0) return `${m}m ${pad2(s)}s`;
  return `${s}s`;
}

/** A spoken form of a countdown for screen readers: `4 minutes 5 seconds left`. */
export function describeCountdown(msLeft: number): string {
  if (!Number.isFinite(msLeft) || msLeft <= 0) return 'lease expired';
  const { h, m, s } = hms(msLeft);
  const parts: string[] = [];
  if (h) parts.push(`${h} hour${h === 1 ? '' : 's'}`);
  if (m) parts.push(`${m} minute${m === 1 ? '' : 's'}`);
  if (!h && s) parts.push(`${s} second${s === 1 ? '' : 's'}`);
  return `${parts.join(' ')} left`;
}

/** HH:MM:SS in UTC. */
export function formatClock(at: number): string {
  if (!Number.isFinite(at)) return '--:--:--';
  const d = new Date(at);
  return `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
}

/** HH:MM in UTC (chart axis labels). */
export function formatMinute(at: number): string {
  if (!Number.isFinite(at)) return '--:--';
  const d = new Date(at);
  return `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
}

const KIND_TEXT: Record<string, string> = {
  'lease-granted': 'lease granted',
  'claim-rejected': 'claim refused',
  'lease-extended': 'lease extended',
  'lease-released': 'lease released',
  'lease-expired': 'lease expired',
  'pr-submitted': 'PR submitted',
  'task-done': 'task done',
  'task-failed': 'task failed',
  'task-requeued': 'task requeued',
  'task-stuck': 'task stuck',
  'task-cancelled': 'task cancelled',
  'task-queued': 'task queued',
  'review-changes-requested': 'changes requested',
  'intent-rejected': 'intent refused',
  'repo-deleted': 'repo policy deleted',
  'task-held': 'put on hold',
  'task-unheld': 'hold lifted',
  'task-priority-changed': 'priority changed',
  'trust-changed': 'trust changed',
  'admin-reset': 'admin tokens reset',
};

/** One line describing an audit event, e.g. `lease granted: acme/app#12 to alice`. */
export function describeEvent(e: AuditEvent): string {
  const what = KIND_TEXT[e.kind] ?? String(e.kind);
  const parts = [what];
  if (e.taskId) parts.push(`: ${e.taskId}`);
  else if (e.repo) parts.push(`: ${e.repo}`);
  if (e.workerId) parts.push(e.kind === 'lease-granted' ? ` to ${e.workerId}` : ` (${e.workerId})`);
  if (e.repo && e.taskId) parts.push(` in ${e.repo}`);
  if (typeof e.before === 'number' || typeof e.after === 'number') parts.push(` ${String(e.before ?? '-')} -> ${String(e.after ?? '-')}`);
  if (e.kind === 'task-held' || e.kind === 'task-unheld' || e.kind === 'task-priority-changed' || e.kind === 'trust-changed' || e.kind === 'admin-reset') parts.push(` by ${e.actor}`);
  if (e.code) parts.push(` [${e.code}]`);
  if (e.reason) parts.push(` ${e.reason}`);
  return parts.join('');
}

/** `2026-11-24 12:30 UTC`: a point in time further back than a clock time can say. */
export function formatStamp(at: number): string {
  if (!Number.isFinite(at)) return '----------';
  const d = new Date(at);
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())} UTC`;
}

/** An age or duration, coarse: `45s`, `12m`, `3h 05m`, `2d 4h`. */
export function formatAge(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '0s';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${pad2(m % 60)}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}
