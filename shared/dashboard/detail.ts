/**
 * The task detail view model: one task's facts, its pull request (number and state), its
 * leases rebuilt from the audit log, the scheduler's explanation when it waits in the
 * queue, and the maintainer actions its state allows.
 *
 * Invariants:
 * - Pure: reads its input only (no clock, no DOM, no I/O); same input, same detail.
 * - Actions are offered only when `canAct` (a maintainer or admin token): a viewer gets
 *   none. The relay enforces roles anyway; this only keeps buttons from lying.
 * - The actions offered are the ones the scheduler accepts in that state (leases.ts):
 *   review results while a PR is open, requeue for a leased, PR-open or stuck task, cancel,
 *   hold and priority for any task not finished.
 */
import type { AuditEvent, Board, Ledger, RiskTier, TaskState } from '../model.js';
import type { Explanation } from '../scheduler/explain.js';
import { DEFAULTS } from '../defaults.js';
import { describeEvent } from './format.js';

export type ActionKey = 'merged' | 'closed' | 'changes-requested' | 'requeue' | 'cancel' | 'hold' | 'unhold' | 'priority';

/** Actions that undo someone's work or end the task: the page asks before sending them. */
export const DESTRUCTIVE: ReadonlySet<ActionKey> = new Set(['closed', 'cancel', 'requeue']);

export const ACTION_TEXT: Record<ActionKey, string> = {
  merged: 'Merged',
  closed: 'Closed unmerged',
  'changes-requested': 'Changes requested',
  requeue: 'Requeue',
  cancel: 'Cancel task',
  hold: 'Hold',
  unhold: 'Lift hold',
  priority: 'Set priority',
};

export type PrState = 'open' | 'changes requested' | 'merged' | 'closed';

export interface LeaseSpan {
  fencingToken: number;
  workerId: string;
  from: number;
  to?: number;
  /** How it ended (`expired`, `released`, `done`...); undefined while it runs. */
  end?: string;
  /** A PR was submitted under this lease. */
  pr?: boolean;
}

export interface TimelineEntry {
  key: string;
  at: number;
  kind: AuditEvent['kind'];
  text: string;
}

export interface TaskDetail {
  id: string;
  title: string;
  repo: string;
  state: TaskState;
  body: string;
  points: number;
  tier: RiskTier;
  area: string;
  skills: string[];
  priority: number;
  held: boolean;
  issueUrl?: string;
  pr?: { url: string; number?: number; state: PrState };
  attempt: number;
  maxAttempts: number;
  holder?: string;
  expiresAt?: number;
  note?: string;
  leases: LeaseSpan[];
  timeline: TimelineEntry[];
  explanation?: Pick<Explanation, 'summary' | 'workers' | 'fits'>;
  actions: ActionKey[];
}

export interface DetailInput {
  board: Board;
  ledger: Ledger;
  taskId: string;
  /** Audit events of this task (any order; others are ignored). */
  events: readonly AuditEvent[];
  explanation?: Explanation;
  canAct: boolean;
}

const END_TEXT: Partial<Record<AuditEvent['kind'], string>> = {
  'lease-expired': 'expired',
  'lease-released': 'released',
  'task-done': 'done',
  'task-failed': 'failed',
  'task-requeued': 'requeued',
  'task-stuck': 'stuck',
  'task-cancelled': 'cancelled',
};

export function prNumber(url: string): number | undefined {
  const m = /\/(?:pull|pulls|merge_requests)\/(\d+)(?:[/?#]|$)/.exec(url);
  return m ? Number(m[1]) : undefined;
}

export function issueUrlOf(repo: string, issueUrl?: string, issueNumber?: number): string | undefined {
  if (issueUrl) return issueUrl;
  return issueNumber !== undefined && /^[\w.-]+\/[\w.-]+$/.test(repo) ? `https://github.com/${repo}/issues/${issueNumber}` : undefined;
}

function leaseSpans(events: AuditEvent[]): LeaseSpan[] {
  const spans: LeaseSpan[] = [];
  const open = new Map<number, LeaseSpan>();
  for (const e of events) {
    if (e.kind === 'lease-granted' && e.fencingToken !== undefined && e.workerId) {
      const s: LeaseSpan = { fencingToken: e.fencingToken, workerId: e.workerId, from: e.at };
      spans.push(s);
      open.set(e.fencingToken, s);
      continue;
    }
    const end = END_TEXT[e.kind];
    const s = e.fencingToken !== undefined ? open.get(e.fencingToken) : undefined;
    if (!s) continue;
    if (e.kind === 'pr-submitted') {
      s.pr = true;
      continue;
    }
    if (end) {
      s.to = e.at;
      s.end = e.kind === 'task-requeued' && e.reason ? `requeued: ${e.reason}` : end;
      open.delete(s.fencingToken);
    }
  }
  return spans;
}

/** The PR: the runtime's, else the last one submitted (a closed PR leaves the runtime). */
function prOf(state: TaskState, prUrl: string | undefined, events: AuditEvent[]): TaskDetail['pr'] {
  let url = prUrl;
  if (!url) for (const e of events) if (e.kind === 'pr-submitted' && e.reason && /^https?:\/\//.test(e.reason)) url = e.reason;
  if (!url) return undefined;
  const st: PrState = state === 'pr_open' ? 'open' : state === 'leased' && prUrl ? 'changes requested' : state === 'done' ? 'merged' : 'closed';
  return { url, number: prNumber(url), state: st };
}

function actionsFor(state: TaskState, held: boolean): ActionKey[] {
  if (state === 'done' || state === 'cancelled') return [];
  const out: ActionKey[] = [];
  if (state === 'pr_open') out.push('merged', 'closed', 'changes-requested');
  if (state === 'leased' || state === 'pr_open' || state === 'stuck') out.push('requeue');
  out.push(held ? 'unhold' : 'hold', 'priority', 'cancel');
  return out;
}

export function buildTaskDetail(input: DetailInput): TaskDetail | undefined {
  const { board, ledger, taskId } = input;
  const task = Object.hasOwn(board.tasks, taskId) ? board.tasks[taskId] : undefined;
  const rt = Object.hasOwn(ledger.tasks, taskId) ? ledger.tasks[taskId] : undefined;
  if (!task && !rt) return undefined;
  const repo = task?.repo ?? rt!.repo;
  const state: TaskState = rt?.state ?? (task?.cancelled ? 'cancelled' : 'queued');
  const events = input.events
    .filter((e) => e.taskId === taskId)
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.at - b.e.at || a.e.batch - b.e.batch || a.i - b.i)
    .map(({ e }) => e);
  const held = task?.held ?? false;
  const policy = Object.hasOwn(board.repos, repo) ? board.repos[repo] : undefined;
  const ex = input.explanation;
  return {
    id: taskId,
    title: task?.title ?? taskId,
    repo,
    state,
    body: task?.body ?? '',
    points: task?.points ?? DEFAULTS.points,
    tier: task?.tier ?? DEFAULTS.tier,
    area: task?.area ?? '',
    skills: task ? [...task.skills] : [],
    priority: task?.priority ?? DEFAULTS.priority,
    held,
    issueUrl: issueUrlOf(repo, task?.issueUrl, task?.issueNumber),
    pr: prOf(state, rt?.prUrl, events),
    attempt: rt?.attempt ?? 0,
    maxAttempts: policy?.maxAttempts ?? DEFAULTS.maxAttempts,
    holder: rt?.lease?.workerId,
    expiresAt: rt?.lease?.expiresAt,
    note: rt?.note,
    leases: leaseSpans(events),
    timeline: events
      .filter((e) => e.kind !== 'claim-rejected')
      .map((e, i) => ({ key: `${e.batch}:${e.at}:${e.kind}:${i}`, at: e.at, kind: e.kind, text: describeEvent(e) })),
    explanation: ex && ex.taskId === taskId && state === 'queued' ? { summary: ex.summary, workers: ex.workers, fits: ex.fits } : undefined,
    actions: input.canAct && task ? actionsFor(state, held) : [],
  };
}
