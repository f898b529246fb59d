/**
 * The claim-next candidate pool of a batch, built from the session's candidates (indexes.ts)
 * without re-scoring or re-sorting all of them.
 *
 * Candidates live in buckets by task priority, each kept sorted by (queuedAt asc, id asc).
 * The task-only score is priority (weight 4) + age (weight 2), so within a bucket it never
 * increases along that order: age/(age + H) is one correctly rounded division of two exact
 * integers (when `now` and queuedAt are safe integers), and rounding is monotone. A lazy
 * k-way merge of the buckets by head score therefore yields the candidates in non-increasing
 * task score, which is all claim-next needs: its choice is a strict total order, and its
 * early stop only needs every later score to be <= the current one. Whatever this cannot
 * vouch for (a non-integer time, a change to SCORES) takes the plain path: score every
 * candidate and sort.
 *
 * Invariants:
 * - `at(i)` returns the i-th candidate of the batch's order (prepared: score, policy and the
 *   per-batch flags set for this batch), or undefined past the last.
 * - A candidate is prepared once per batch (stamp `seen`); its repo's state-filter blocks
 *   are computed before any entry of that repo is returned (refreshBlocks in claims.ts).
 * - Buckets may hold stale entries (no longer the candidate for their id); they are
 *   skipped, and compacted when they are more than half of a bucket.
 */
import type { RepoPolicy, Task, WorkerProfile } from '../model.js';
import type { Candidate } from './indexes.js';
import { SCORES, ageScore, partScore, priorityScore, type ScoreInput } from './scores.js';
import { taskPrefixHash } from './hash.js';
import { compareStrings, newWorkerRuntime, policyFor, syncDirty, type Draft } from './state.js';

export interface Bucket {
  list: Candidate[];
  stale: number;
}

const TASK_SCORES = SCORES.filter((s) => s.dependsOn === 'task');
/** The merge is exact only for the published task scores (see above). */
const MERGE_OK = TASK_SCORES.length === 2 && TASK_SCORES[0] === priorityScore && TASK_SCORES[1] === ageScore;

const NO_WORKER: WorkerProfile = { id: '-', name: '-', skills: [], capacity: 1, maxConcurrent: 1, available: false };

function before(a: Candidate, b: Candidate): boolean {
  return a.runtime.queuedAt < b.runtime.queuedAt || (a.runtime.queuedAt === b.runtime.queuedAt && compareStrings(a.id, b.id) < 0);
}

/** Put the candidates added since the last call into their buckets. */
export function flushAdded(draft: Draft): void {
  syncDirty(draft);
  for (const e of draft.added) {
    if (draft.candidates.get(e.id) !== e || e.bucketed) continue;
    if (!Number.isSafeInteger(e.runtime.queuedAt)) draft.unordered = true;
    let b = draft.buckets.get(e.task.priority);
    if (!b) draft.buckets.set(e.task.priority, (b = { list: [], stale: 0 }));
    const list = b.list;
    let lo = 0;
    let hi = list.length;
    if (hi > 0 && before(list[hi - 1]!, e)) lo = hi;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(list[mid]!, e)) lo = mid + 1;
      else hi = mid;
    }
    if (lo === list.length) list.push(e);
    else list.splice(lo, 0, e);
    e.bucketed = true;
  }
  draft.added = [];
}

/** Drop stale entries from buckets where they are the majority. */
export function compactBuckets(draft: Draft): void {
  for (const [p, b] of draft.buckets) {
    if (b.stale <= 64 || b.stale * 2 <= b.list.length) continue;
    b.list = b.list.filter((e) => draft.candidates.get(e.id) === e);
    b.stale = 0;
    if (b.list.length === 0) draft.buckets.delete(p);
  }
}

/**
 * A maximal run of the batch's order whose candidates share one task score (a bulk import
 * queues thousands with the same priority and queue time). Every entry is prepared.
 */
export interface TieRun {
  /** The run is at(start) .. at(end - 1). */
  start: number;
  end: number;
  entries: Candidate[];
  /** taskPrefixHash of each entry (hash.ts), for claim-next's tie-break scan. */
  prefix: Uint32Array;
  /** Each entry's index in `skillSets`: claim-next checks the skills filter once per set. */
  skillSet: Uint32Array;
  /** The distinct task.skills lists of the run (a bulk import has a handful). */
  skillSets: (readonly string[])[];
}

/** Runs shorter than this are walked entry by entry (a run's arrays cost more than they save). */
export const MIN_TIE_RUN = 8;

export interface RankedCandidates {
  at(i: number): Candidate | undefined;
  /**
   * The tie run holding at(i) (i must be a candidate), built once per run and batch, or
   * undefined when that run is shorter than MIN_TIE_RUN.
   */
  tieRun(i: number): TieRun | undefined;
  /** Every current candidate whose policy is `repo`'s (prepared). */
  ofRepo(repo: string): Candidate[];
}

/**
 * `onRepo(repo)` is called the first time an entry of `repo` is prepared in this batch,
 * before that entry is returned.
 */
export function rankCandidates(draft: Draft, onRepo: (repo: string) => void): RankedCandidates {
  flushAdded(draft);
  const input: ScoreInput = { task: NO_WORKER as unknown as Task, queuedAt: 0, now: draft.now, profile: NO_WORKER, skills: new Set(), workerState: newWorkerRuntime('-', draft.day) };
  const seenRepos = new Set<string>();
  const byRepo = new Map<string, Candidate[]>();
  const ready = (e: Candidate): void => {
    if (e.seen === draft.batch) return;
    input.task = e.task;
    input.queuedAt = e.runtime.queuedAt;
    e.taskPart = partScore(input, 'task', SCORES);
    e.policy = policyFor(draft, e.task.repo);
    e.taken = false;
    e.blocked = undefined;
    e.seen = draft.batch;
  };
  const prepare = (e: Candidate): Candidate => {
    ready(e);
    const repo = (e.policy as RepoPolicy).repo;
    if (!seenRepos.has(repo)) {
      seenRepos.add(repo);
      onRepo(repo);
    }
    return e;
  };
  const ofRepo = (repo: string): Candidate[] => {
    let list = byRepo.get(repo);
    if (!list) {
      list = [];
      for (const e of draft.candidates.values()) {
        ready(e);
        if (e.policy.repo === repo) list.push(e);
      }
      byRepo.set(repo, list);
    }
    return list;
  };

  if (!MERGE_OK || draft.unordered || !Number.isSafeInteger(draft.now)) {
    const all = [...draft.candidates.values()];
    for (const e of all) ready(e);
    all.sort((a, b) => b.taskPart - a.taskPart || compareStrings(a.id, b.id));
    const at = (i: number): Candidate | undefined => (i < all.length ? prepare(all[i]!) : undefined);
    return { at, tieRun: tieRuns(at, (i) => all[i]), ofRepo };
  }

  // Lazy k-way merge of the buckets by head score.
  const heads: { list: Candidate[]; i: number; b: Bucket }[] = [];
  for (const p of [...draft.buckets.keys()].sort((a, b) => b - a)) {
    const b = draft.buckets.get(p)!;
    heads.push({ list: b.list, i: 0, b });
  }
  const merged: Candidate[] = [];
  const headOf = (h: (typeof heads)[number]): Candidate | undefined => {
    while (h.i < h.list.length) {
      const e = h.list[h.i]!;
      if (draft.candidates.get(e.id) === e) {
        ready(e);
        return e;
      }
      h.i++;
    }
    return undefined;
  };
  /** The i-th candidate, ready but not prepared (its repo's blocks may not be computed yet). */
  const peek = (i: number): Candidate | undefined => {
    while (merged.length <= i) {
      let best: (typeof heads)[number] | undefined;
      let bestE: Candidate | undefined;
      for (const h of heads) {
        const e = headOf(h);
        if (e && (!bestE || e.taskPart > bestE.taskPart)) {
          best = h;
          bestE = e;
        }
      }
      if (!best || !bestE) return undefined;
      best.i++;
      merged.push(bestE);
    }
    return merged[i];
  };
  const at = (i: number): Candidate | undefined => {
    const e = peek(i);
    return e && prepare(e);
  };
  return { at, tieRun: tieRuns(at, peek), ofRepo };
}

/**
 * tieRun for an order given by `at` (prepares) and `peek` (does not). The run's entries are
 * prepared in order, as claim-next's walk would prepare them before it looks at any (no grant
 * happens in between, so the repos' blocks are the same); the entries around the run are only
 * peeked at. O(run) once per run and batch.
 */
function tieRuns(at: (i: number) => Candidate | undefined, peek: (i: number) => Candidate | undefined): (i: number) => TieRun | undefined {
  const byIndex: (TieRun | null | undefined)[] = [];
  return (i) => {
    const known = byIndex[i];
    if (known !== undefined) return known ?? undefined;
    const part = peek(i)!.taskPart;
    let start = i;
    while (start > 0 && peek(start - 1)!.taskPart === part) start--;
    let end = i + 1;
    while (peek(end)?.taskPart === part) end++;
    if (end - start < MIN_TIE_RUN) {
      for (let k = start; k < end; k++) byIndex[k] = null;
      return undefined;
    }
    const n = end - start;
    const run: TieRun = { start, end, entries: new Array<Candidate>(n), prefix: new Uint32Array(n), skillSet: new Uint32Array(n), skillSets: [] };
    const setIndex = new Map<string, number>();
    for (let k = 0; k < n; k++) {
      const e = at(start + k)!;
      run.entries[k] = e;
      run.prefix[k] = e.hashPrefix ??= taskPrefixHash(e.id);
      const key = e.task.skills.join('\n');
      let set = setIndex.get(key);
      if (set === undefined) {
        setIndex.set(key, (set = run.skillSets.length));
        run.skillSets.push(e.task.skills);
      }
      run.skillSet[k] = set;
    }
    for (let k = start; k < end; k++) byIndex[k] = run;
    return run;
  };
}
