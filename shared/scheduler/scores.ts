/**
 * Claim-next scores: named, weighted functions of a (task, worker) pair, each in 0..1.
 * The candidate with the highest weighted sum wins; ties go to the lowest
 * tieBreakHash(taskId, workerId, batch), then to the lexicographically lowest task id.
 *
 * Invariants:
 * - Every score is pure and returns a finite number in [0, 1].
 * - The total order (score desc, hash asc, task id asc) is strict: two different task ids
 *   never compare equal, so the winner does not depend on the order candidates are seen.
 * - The hash is computed only when two totals are exactly equal.
 */
import { DEFAULTS, type Task, type WorkerProfile, type WorkerRuntime } from '../model.js';
import { tieBreakHash } from './hash.js';
import { compareStrings } from './state.js';

/** Age in queue at which the age score reaches 0.5 (it approaches 1 as age grows). */
export const AGE_HALF_LIFE_MS = 24 * 60 * 60 * 1000;
/** Time since the last credit after which a worker's recency score is full (1). */
export const FAIRNESS_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;

export interface ScoreInput {
  task: Task;
  queuedAt: number;
  now: number;
  profile: WorkerProfile;
  skills: Set<string>;
  workerState: WorkerRuntime;
}

export interface Score {
  name: string;
  weight: number;
  /** What it depends on: the task alone, the worker alone, or the pair. */
  dependsOn: 'task' | 'worker' | 'pair';
  score(input: ScoreInput): number;
}

const clamp01 = (x: number): number => (x <= 0 || Number.isNaN(x) ? 0 : x >= 1 ? 1 : x);

/** Priority -100..100 mapped linearly onto 0..1. */
export const priorityScore: Score = {
  name: 'priority',
  weight: 4,
  dependsOn: 'task',
  score: ({ task }) => clamp01((task.priority + 100) / 200),
};

/** Older in queue first: age / (age + AGE_HALF_LIFE_MS). */
export const ageScore: Score = {
  name: 'age',
  weight: 2,
  dependsOn: 'task',
  score: ({ queuedAt, now }) => {
    const age = Math.max(0, now - queuedAt);
    return clamp01(age / (age + AGE_HALF_LIFE_MS));
  },
};

/**
 * Skill fit: the share of the worker's declared skills the task uses. Every required skill
 * already passed the `skills` filter, so this prefers tasks that use what the worker is
 * good at over tasks that need nothing special. A worker with no skills scores 0.
 */
export const skillFitScore: Score = {
  name: 'skill-fit',
  weight: 1,
  dependsOn: 'pair',
  score: ({ task, skills }) => {
    if (skills.size === 0) return 0;
    let used = 0;
    const ts = task.skills;
    for (let i = 0; i < ts.length; i++) if (skills.has(ts[i]!) && ts.indexOf(ts[i]!) === i) used++;
    return clamp01(used / skills.size);
  },
};

/**
 * Fairness of a worker (not of a task): less recent credit first.
 *   recency = no credit yet ? 1 : min(1, (now - lastCreditAt) / FAIRNESS_WINDOW_MS)
 *   fairness = (1 - newcomerBoost) * recency + newcomerBoost * (credit == 0 ? 1 : 0)
 * So DEFAULTS.newcomerBoost is the share of the fairness weight reserved for newcomers.
 * It is the same for all of one worker's candidates, so it does not change which task a
 * worker gets; it orders the claim-next intents of a batch (highest fairness picks first).
 */
export function fairness(workerState: WorkerRuntime, now: number): number {
  const boost = DEFAULTS.newcomerBoost;
  const recency = workerState.lastCreditAt === undefined ? 1 : clamp01((now - workerState.lastCreditAt) / FAIRNESS_WINDOW_MS);
  return clamp01((1 - boost) * recency + boost * (workerState.credit <= 0 ? 1 : 0));
}

export const fairnessScore: Score = {
  name: 'fairness',
  weight: 1,
  dependsOn: 'worker',
  score: ({ workerState, now }) => fairness(workerState, now),
};

export const SCORES: readonly Score[] = [priorityScore, ageScore, skillFitScore, fairnessScore];

/** Weighted sum of the scores that depend on `part` only. */
export function partScore(input: ScoreInput, part: Score['dependsOn'], scores: readonly Score[] = SCORES): number {
  let total = 0;
  for (const s of scores) if (s.dependsOn === part) total += s.weight * s.score(input);
  return total;
}

/** The most the pair-dependent scores can add (each score is at most 1). */
export function pairBound(scores: readonly Score[] = SCORES): number {
  let total = 0;
  for (const s of scores) if (s.dependsOn === 'pair') total += s.weight;
  return total;
}

/** The published pair scores are skill fit alone: then pairBoundFor can be tighter. */
const ONLY_SKILL_FIT = SCORES.filter((s) => s.dependsOn === 'pair').length === 1 && SCORES.includes(skillFitScore);

/**
 * The most the pair scores can add for a worker with `workerSkills` distinct skills when no
 * candidate task requires more than `maxTaskSkills` distinct skills. Skill fit of a task that
 * passed the skills filter is k / workerSkills (k its distinct skills, all the worker's), and
 * k <= min(maxTaskSkills, workerSkills); division and multiplication by a positive constant
 * are monotone in floating point, so no candidate's pair part exceeds this. A worker with
 * three skills and tasks needing one each scores at most 1/3, not 1: claim-next can stop as
 * soon as the task part drops (claims.ts), instead of scanning 33 priority levels further.
 */
export function pairBoundFor(workerSkills: number, maxTaskSkills: number, scores: readonly Score[] = SCORES): number {
  if (scores !== SCORES || !ONLY_SKILL_FIT) return pairBound(scores);
  if (workerSkills === 0) return 0;
  return skillFitScore.weight * clamp01(Math.min(maxTaskSkills, workerSkills) / workerSkills);
}

/**
 * total = (task part + worker part) + pair part, each part summed in SCORES order. This
 * exact association is what claim-next computes (and what its early stop relies on).
 */
export function totalScore(input: ScoreInput, scores: readonly Score[] = SCORES): number {
  return partScore(input, 'task', scores) + partScore(input, 'worker', scores) + partScore(input, 'pair', scores);
}

export interface Scored {
  taskId: string;
  total: number;
}

/** True when candidate `a` beats `b` for `workerId` in `batch` (strict total order). */
export function beats(a: Scored, b: Scored, workerId: string, batch: number): boolean {
  if (a.total !== b.total) return a.total > b.total;
  const ha = tieBreakHash(a.taskId, workerId, batch);
  const hb = tieBreakHash(b.taskId, workerId, batch);
  if (ha !== hb) return ha < hb;
  return compareStrings(a.taskId, b.taskId) < 0;
}
