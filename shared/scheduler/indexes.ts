/**
 * The scheduler's incremental indexes over a ledger's tasks, so a batch costs what changed,
 * not the pool size: active leases per repo (with their areas), the ids of 'leased' tasks
 * (for expiry), and the claim-next candidates in priority buckets (pool.ts).
 *
 * Invariants:
 * - Only an optimisation: a batch given the indexes of its input ledger decides exactly
 *   what a batch that builds them by scanning every task decides (test/scheduler-session).
 * - `candidates` holds exactly the ids whose runtime is queued and whose board task exists
 *   and is neither held nor cancelled; `leased` exactly the ids in state leased with a
 *   lease. Both are synced for every id a batch sets and every board task it is told changed.
 * - `skillCounts` counts the candidates by distinct required skills (kept with `candidates`).
 * - Owned by one SchedulerSession (session.ts) at a time; a batch moves them on in place.
 */
import type { ErrorCode } from '../errors.js';
import type { Board, RepoPolicy, Task, TaskRuntime } from '../model.js';
import type { Filter } from './filters.js';
import type { Bucket } from './pool.js';
import { areaKey, own, type RepoLoad } from './state.js';

/** A claim-next candidate. The per-batch fields are reset when a batch ranks the candidates. */
export interface Candidate {
  id: string;
  task: Task;
  runtime: TaskRuntime;
  area: string;
  /** Per batch: the repo's policy, the weighted task-only score (priority, age). */
  policy: RepoPolicy;
  taskPart: number;
  taken: boolean;
  /** In its priority bucket (pool.ts); the batch that last prepared it. */
  bucketed?: boolean;
  seen?: number;
  /** tieBreakHash's task part (hash.ts taskPrefixHash), computed on first need. */
  hashPrefix?: number;
  /** The state filter that blocks it for everyone, once one does (per batch). */
  blocked?: { filter: Filter; code: ErrorCode };
  /** How many distinct skills its task requires (the skill-fit bound, claims.ts). */
  skillCount: number;
}

/** The number of distinct skills a task requires. */
export function distinctSkills(task: Task): number {
  const s = task.skills;
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.indexOf(s[i]!) === i) n++;
  return n;
}

/** Candidates by the number of distinct skills their task requires: count -> candidates. */
export type SkillCounts = Map<number, number>;

function countSkills(counts: SkillCounts, k: number, by: 1 | -1): void {
  const n = (counts.get(k) ?? 0) + by;
  if (n > 0) counts.set(k, n);
  else counts.delete(k);
}

/** The most distinct skills any candidate's task requires (0 without candidates). */
export function maxSkillCount(counts: SkillCounts): number {
  let max = 0;
  for (const k of counts.keys()) if (k > max) max = k;
  return max;
}

function offered(runtime: TaskRuntime | undefined, task: Task | undefined): task is Task {
  return !!runtime && !!task && runtime.state === 'queued' && !task.held && !task.cancelled;
}

export interface PoolIndexes {
  active: Map<string, RepoLoad>;
  leased: Set<string>;
  candidates: Map<string, Candidate>;
  /** The candidates by task priority, each sorted by (queuedAt, id); see pool.ts. */
  buckets: Map<number, Bucket>;
  /** Some candidate has a non-integer queuedAt: the ranking sorts instead of merging. */
  unordered: boolean;
  skillCounts: SkillCounts;
}

/** What syncCandidate keeps in line. */
export interface CandidateIndex {
  candidates: Map<string, Candidate>;
  leased: Set<string>;
  buckets: Map<number, Bucket>;
  /** New candidates not yet in a bucket. */
  added: Candidate[];
  skillCounts: SkillCounts;
}

function forget(c: CandidateIndex, e: Candidate | undefined): void {
  if (!e) return;
  countSkills(c.skillCounts, e.skillCount, -1);
  if (!e.bucketed) return;
  const b = c.buckets.get(e.task.priority);
  if (b) b.stale++;
}

/** Bring `candidates` and `leased` in line with the task `id` in `tasks` and `board`. */
export function syncCandidate(c: CandidateIndex, tasks: Record<string, TaskRuntime>, board: Board, id: string): void {
  const runtime = own(tasks, id);
  if (runtime && runtime.state === 'leased' && runtime.lease) c.leased.add(id);
  else c.leased.delete(id);
  const task = own(board.tasks, id);
  if (offered(runtime, task)) {
    const cur = c.candidates.get(id);
    if (cur && cur.runtime === runtime && cur.task === task) return;
    forget(c, cur);
    const e: Candidate = { id, task, runtime: runtime!, area: areaKey(task.area), policy: undefined as unknown as RepoPolicy, taskPart: 0, taken: false, skillCount: distinctSkills(task) };
    countSkills(c.skillCounts, e.skillCount, 1);
    c.candidates.set(id, e);
    c.added.push(e);
  } else {
    const cur = c.candidates.get(id);
    if (cur) {
      forget(c, cur);
      c.candidates.delete(id);
    }
  }
}
