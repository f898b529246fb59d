/**
 * Builders for scheduler tests: real parsed tasks, profiles and policies (through the real
 * zod schemas), a pool state, and a helper that runs one batch and carries the ledger on.
 */
import { schedule, type ScheduleResult } from '../../shared/scheduler/index.js';
import {
  emptyLedger,
  parseRepoPolicy,
  parseTask,
  parseWorkerProfile,
  type Intent,
  type PoolState,
  type RepoPolicy,
  type RepoPolicyInput,
  type RiskTier,
  type Task,
  type TaskInput,
  type WorkerProfile,
} from '../../shared/model.js';

export const REPO = 'acme/app';
export const T0 = Date.UTC(2026, 0, 10, 12, 0, 0);
export const HOUR = 3600_000;

export function task(id: string, over: Partial<TaskInput> = {}): Task {
  return parseTask({ id, repo: REPO, title: `Task ${id}`, createdAt: T0 - HOUR, ...over });
}

export function profile(id: string, over: Partial<WorkerProfile> = {}): WorkerProfile {
  return parseWorkerProfile({ id, name: id, skills: ['ts'], capacity: 3, maxConcurrent: 2, ...over });
}

export function policy(repo: string = REPO, over: Partial<RepoPolicyInput> = {}): RepoPolicy {
  return parseRepoPolicy({ repo, ...over });
}

export interface StateSpec {
  tasks?: Task[];
  workers?: WorkerProfile[];
  repos?: RepoPolicy[];
  trust?: Record<string, RiskTier>;
}

export function makeState(spec: StateSpec): PoolState {
  // Object.fromEntries makes own properties even for ids such as "__proto__".
  const tasks: Record<string, Task> = Object.fromEntries((spec.tasks ?? []).map((t) => [t.id, t]));
  const repos: Record<string, RepoPolicy> = Object.fromEntries((spec.repos ?? [policy()]).map((r) => [r.repo, r]));
  const profiles: Record<string, WorkerProfile> = Object.fromEntries((spec.workers ?? []).map((p) => [p.id, p]));
  return { board: { tasks, repos, trust: spec.trust ?? {} }, profiles, ledger: emptyLedger() };
}

/** Run one batch and return the next state (same board and profiles) plus the result. */
export function step(state: PoolState, intents: Intent[], now: number): { state: PoolState; result: ScheduleResult } {
  const result = schedule(state, intents, now);
  return { state: { ...state, ledger: result.ledger }, result };
}

let seq = 0;
const nextId = (): string => `i${++seq}`;

export const claim = (workerId: string, taskId: string, id = nextId()): Intent => ({ kind: 'claim', id, workerId, taskId });
export const claimNext = (workerId: string, id = nextId()): Intent => ({ kind: 'claim-next', id, workerId });
export const heartbeat = (workerId: string, taskId: string, fencingToken: number, id = nextId()): Intent => ({
  kind: 'heartbeat',
  id,
  workerId,
  taskId,
  fencingToken,
});
export const release = (workerId: string, taskId: string, fencingToken: number, id = nextId()): Intent => ({
  kind: 'release',
  id,
  workerId,
  taskId,
  fencingToken,
});
/** One pull request number per task id, so two tasks never submit the same PR (pr-in-use). */
const prNumbers = new Map<string, number>();
export const prUrlFor = (taskId: string, repo = REPO): string => {
  if (!prNumbers.has(taskId)) prNumbers.set(taskId, prNumbers.size + 1);
  return `https://github.com/${repo}/pull/${prNumbers.get(taskId)}`;
};
export const submit = (workerId: string, taskId: string, fencingToken: number, id = nextId(), prUrl = prUrlFor(taskId)): Intent => ({
  kind: 'submit',
  id,
  workerId,
  taskId,
  fencingToken,
  prUrl,
});
export const complete = (workerId: string, taskId: string, fencingToken: number, id = nextId()): Intent => ({
  kind: 'complete',
  id,
  workerId,
  taskId,
  fencingToken,
});
export const fail = (workerId: string, taskId: string, fencingToken: number, reason = 'tests fail', id = nextId()): Intent => ({
  kind: 'fail',
  id,
  workerId,
  taskId,
  fencingToken,
  reason,
});
export const review = (
  taskId: string,
  result: 'open' | 'merged' | 'closed' | 'changes-requested',
  actor = 'maint',
  id = nextId(),
): Intent => ({ kind: 'review', id, workerId: actor, taskId, result });
export const requeue = (taskId: string, actor = 'maint', id = nextId()): Intent => ({ kind: 'requeue', id, workerId: actor, taskId });
export const cancel = (taskId: string, actor = 'maint', id = nextId()): Intent => ({ kind: 'cancel', id, workerId: actor, taskId });

/** JSON with object keys sorted at every level: compares values regardless of key order. */
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) => {
    if (val && typeof val === 'object' && !Array.isArray(val)) {
      const o = val as Record<string, unknown>;
      return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
    }
    return val;
  });
}
