/**
 * Claims: a named `claim` runs the whole filter pipeline on one task; a `claim-next` looks
 * at every claimable task and grants the best-scored one that passes every filter.
 *
 * Invariants:
 * - A grant happens only after every filter passed for that (task, worker) in the current
 *   working state, and the working state is updated before the next claim is looked at, so
 *   later claims of the same batch see earlier grants (capacity, area locks, budgets hold).
 * - claim-next's choice does not depend on the order candidates are visited (scores.ts
 *   `beats` is a strict total order), so it does not depend on object key order either.
 * - Cost: the candidate pool is built once per batch, O(tasks log tasks). Within the claim
 *   phase leases only start, so a task blocked for everyone by a 'state' filter (frozen area,
 *   area lock, full review budget) stays blocked: it is dropped from the open list once, and
 *   re-checked only when its repo gets a grant. One claim-next is O(open tasks x pair
 *   filters) at worst, and usually stops early (see the bound in claimNext). A run of tied
 *   task scores (a bulk import) costs one hash per entry and the skills filter once per
 *   distinct skill list (pool.ts TieRun), not the pipeline per entry.
 */
import type { ErrorCode } from '../errors.js';
import { DEFAULTS, type Intent, type RepoPolicy, type Task, type WorkerProfile } from '../model.js';
import { FILTERS, PAIR_FILTERS, STATE_FILTERS, WORKER_FILTERS, firstFailing, hasSkills, runFilters, type ClaimContext } from './filters.js';
import { grant, type Decision } from './leases.js';
import { SCORES, pairBoundFor, partScore, type ScoreInput, type Scored } from './scores.js';
import { areaKey, compareStrings, own, defaultPolicy, policyFor, workerRuntime, type RepoLoad, type Draft } from './state.js';
import { maxSkillCount, type Candidate } from './indexes.js';
import { rankCandidates, type RankedCandidates } from './pool.js';
import { fnv1a32Bytes, taskPrefixHash, utf8Bytes } from './hash.js';

type Counts = Map<string, Map<ErrorCode, number>>;

/** The batch's candidates (pool.ts) and the state-filter blocks counted so far. */
export interface ClaimNextPool {
  ranked: RankedCandidates;
  blockedCounts: Counts;
}

const NO_WORKER: WorkerProfile = { id: '-', name: '-', skills: [], capacity: 1, maxConcurrent: 1, available: false };

function count(c: Counts, filter: string, code: ErrorCode): void {
  let byCode = c.get(filter);
  if (!byCode) c.set(filter, (byCode = new Map()));
  byCode.set(code, (byCode.get(code) ?? 0) + 1);
}

function context(draft: Draft, workerId: string): ClaimContext {
  const profile = own(draft.profiles, workerId);
  return {
    draft,
    workerId,
    profile,
    skills: new Set(profile?.skills ?? []),
    workerState: workerRuntime(draft, workerId),
    trust: own(draft.board.trust, workerId) ?? DEFAULTS.workerTrust,
    taskId: '',
    task: undefined,
    runtime: undefined,
    policy: defaultPolicy(''),
    area: '',
  };
}

function focus(ctx: ClaimContext, e: Candidate): void {
  ctx.taskId = e.id;
  ctx.task = e.task;
  ctx.runtime = e.runtime;
  ctx.policy = e.policy;
  ctx.area = e.area;
}

/**
 * True when a state filter may block some task of this repo: a frozen area, an active
 * lease with an area, or a full review budget. When false no state filter can say no
 * (area-freeze and area-lock need an area on both sides, review-budget a full budget).
 */
function mayBlock(load: RepoLoad | undefined, policy: RepoPolicy): boolean {
  return policy.frozenAreas.length > 0 || (load !== undefined && (load.areas.size > 0 || load.count >= policy.reviewBudget)) || 0 >= policy.reviewBudget;
}

/** Mark entries of one repo that a state filter now blocks (claim-next skips them). */
function refreshBlocks(draft: Draft, cp: ClaimNextPool, repo: string): void {
  // Entries are grouped by policy.repo; every policy the batch uses with that name counts.
  const load = draft.active.get(repo);
  let may = false;
  for (const p of draft.policies.values()) if (p.repo === repo && mayBlock(load, p)) may = true;
  if (!may) return;
  const ctx = context(draft, '-');
  for (const e of cp.ranked.ofRepo(repo)) {
    if (e.taken || e.blocked) continue;
    focus(ctx, e);
    const no = firstFailing(STATE_FILTERS, ctx);
    if (no) {
      e.blocked = no;
      count(cp.blockedCounts, no.filter.name, no.code);
    }
  }
}

export function claimNextPool(draft: Draft): ClaimNextPool {
  const cp: ClaimNextPool = { ranked: undefined as unknown as RankedCandidates, blockedCounts: new Map() };
  cp.ranked = rankCandidates(draft, (repo) => refreshBlocks(draft, cp, repo));
  return cp;
}

export function claimNamed(draft: Draft, intent: Extract<Intent, { kind: 'claim' }>): Decision & { taskId: string } {
  const ctx = context(draft, intent.workerId);
  const task = own(draft.board.tasks, intent.taskId);
  const runtime = own(draft.tasks, intent.taskId);
  ctx.taskId = intent.taskId;
  ctx.task = task;
  ctx.runtime = runtime;
  ctx.policy = task ? policyFor(draft, task.repo) : runtime ? policyFor(draft, runtime.repo) : defaultPolicy('');
  ctx.area = areaKey(task?.area ?? '');
  const no = runFilters(FILTERS, ctx);
  if (no) return { status: 'rejected', code: no.rejection.code, message: no.rejection.message, filter: no.filter, taskId: intent.taskId };
  return { ...grant(draft, intent.taskId, intent.workerId, intent.id), taskId: intent.taskId };
}

function summary(draft: Draft, workerId: string, pool: ClaimNextPool, counts: Counts): string {
  const all: [string, number][] = [];
  let total = 0;
  for (const c of [pool.blockedCounts, counts]) {
    for (const [name, byCode] of c) {
      for (const [code, n] of byCode) {
        all.push([`${code} (${name})`, n]);
        total += n;
      }
    }
  }
  if (total === 0) return `No task is queued and claimable right now for worker ${workerId}; try again later.`;
  const merged = new Map<string, number>();
  for (const [k, n] of all) merged.set(k, (merged.get(k) ?? 0) + n);
  const why = [...merged]
    .sort((a, b) => b[1] - a[1] || compareStrings(a[0], b[0]))
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  return `None of the ${total} queued task(s) fits worker ${workerId} right now: ${why}.`;
}

/**
 * The rejection counts of a claim-next that found nothing: every open candidate's first
 * failing pair filter (what the entry-by-entry walk counts when it skips nothing).
 */
function countAll(pool: ClaimNextPool, ctx: ClaimContext, counts: Counts): void {
  counts.clear();
  for (let i = 0; ; i++) {
    const e = pool.ranked.at(i);
    if (!e) return;
    if (e.taken || e.blocked) continue;
    focus(ctx, e);
    const no = firstFailing(PAIR_FILTERS, ctx);
    if (no) count(counts, no.filter.name, no.code);
  }
}

export function claimNext(draft: Draft, intent: Extract<Intent, { kind: 'claim-next' }>, pool: ClaimNextPool): Decision & { taskId?: string } {
  const ctx = context(draft, intent.workerId);
  const wno = runFilters(WORKER_FILTERS, ctx);
  if (wno) return { status: 'rejected', code: wno.rejection.code, message: wno.rejection.message, filter: wno.filter };
  const input: ScoreInput = { task: NO_WORKER as unknown as Task, queuedAt: 0, now: draft.now, profile: ctx.profile!, skills: ctx.skills, workerState: ctx.workerState };
  const workerPart = partScore(input, 'worker', SCORES);
  // skillCounts covers every candidate at() can return, so this bounds every later pair part.
  const pairMax = pairBoundFor(ctx.skills.size, maxSkillCount(draft.skillCounts), SCORES);
  const counts: Counts = new Map();
  // The order of scores.ts `beats` (total desc, tieBreakHash asc, id asc), with the best
  // candidate's hash kept and each task's hash prefix cached: a hash only for exact ties.
  const suffix = utf8Bytes(`${intent.workerId}|${draft.batch}`);
  const hashOf = (e: Candidate): number => fnv1a32Bytes((e.hashPrefix ??= taskPrefixHash(e.id)), suffix);
  let best: (Scored & { entry: Candidate }) | undefined;
  let bestHash = -1;
  /** Filters and scores `e` (h: its hash if known, else -1) and keeps it if it beats the best. */
  const consider = (e: Candidate, h: number): void => {
    focus(ctx, e);
    const no = firstFailing(PAIR_FILTERS, ctx);
    if (no) {
      if (!best) count(counts, no.filter.name, no.code);
      return;
    }
    input.task = e.task;
    input.queuedAt = e.runtime.queuedAt;
    const total = e.taskPart + workerPart + partScore(input, 'pair', SCORES);
    if (!best || total > best.total) {
      best = { taskId: e.id, total, entry: e };
      bestHash = -1;
    } else if (total === best.total) {
      if (bestHash < 0) bestHash = hashOf(best.entry);
      if (h < 0) h = hashOf(e);
      if (h < bestHash || (h === bestHash && compareStrings(e.id, best.taskId) < 0)) {
        best = { taskId: e.id, total, entry: e };
        bestHash = h;
      }
    }
  };
  // Entries skipped for their skills without the whole pipeline (their failure is not counted).
  let skipped = false;
  for (let i = 0; ; i++) {
    const e = pool.ranked.at(i);
    if (!e) break;
    if (e.taken || e.blocked) continue;
    // Entries come in taskPart order, so every later total is <= this bound (float addition
    // is monotone): once it is below the best total, nothing later can win or even tie.
    const bound = e.taskPart + workerPart + pairMax;
    if (best && bound < best.total) break;
    const run = pool.ranked.tieRun(i);
    if (!run) {
      let h = -1;
      if (best && bound === best.total) {
        // Only a tie is possible here, and a tie goes to the lower hash: a candidate whose
        // hash loses cannot win whatever the filters say, so it is dropped before them.
        if (bestHash < 0) bestHash = hashOf(best.entry);
        h = hashOf(e);
        if (h > bestHash || (h === bestHash && compareStrings(e.id, best.taskId) > 0)) continue;
      }
      consider(e, h);
      continue;
    }
    // A run of equal task parts (a bulk import queues thousands), in one tight loop: the
    // skills filter is checked once per distinct skill list (a task lacking one never wins),
    // and once the best total reaches the run's bound only a tie is possible, so a candidate
    // whose hash loses is dropped before the filters.
    const skillOk = new Int8Array(run.skillSets.length);
    for (let k = i - run.start; k < run.entries.length; k++) {
      const c = run.entries[k]!;
      if (c.taken || c.blocked) continue;
      const set = run.skillSet[k]!;
      if (skillOk[set] === 0) skillOk[set] = hasSkills(run.skillSets[set]!, ctx.skills) ? 1 : -1;
      if (skillOk[set] < 0) {
        skipped = true;
        continue;
      }
      let h = -1;
      if (best && bound === best.total) {
        if (bestHash < 0) bestHash = hashOf(best.entry);
        h = fnv1a32Bytes(run.prefix[k]!, suffix);
        if (h > bestHash || (h === bestHash && compareStrings(c.id, best.taskId) > 0)) continue;
      }
      consider(c, h);
    }
    i = run.end - 1;
  }
  if (!best && skipped) countAll(pool, ctx, counts);
  if (!best) return { status: 'rejected', code: 'no-matching-task', message: summary(draft, intent.workerId, pool, counts), filter: 'claim-next' };
  best.entry.taken = true;
  const d = grant(draft, best.taskId, intent.workerId, intent.id);
  refreshBlocks(draft, pool, best.entry.policy.repo);
  return { ...d, taskId: best.taskId };
}
