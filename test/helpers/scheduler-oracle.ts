/**
 * The brute-force reference for claim-next: every queued task through every filter and the
 * total score, the best by the published tie-break. Property tests compare the scheduler's
 * pick (full scan or carried indexes) with this.
 */
import { schedule } from '../../shared/scheduler/index.js';
import { FILTERS, runFilters, type ClaimContext } from '../../shared/scheduler/filters.js';
import { beats, totalScore, type Scored } from '../../shared/scheduler/scores.js';
import { areaKey, createDraft, policyFor, workerRuntime } from '../../shared/scheduler/state.js';
import { DEFAULTS, type Ledger, type PoolState } from '../../shared/model.js';

/** The task claim-next must grant `worker` in a batch at `now`, or undefined when none fits. */
export function bruteForceClaimNext(state: PoolState, worker: string, now: number): string | undefined {
  // Reconcile and expire first, as the real batch does; on a copy of the ledger, so the
  // scheduler's carried indexes for state.ledger stay for the batch under test.
  const settled = schedule({ ...state, ledger: JSON.parse(JSON.stringify(state.ledger)) as Ledger }, [], now).ledger;
  const draft = createDraft({ ...state, ledger: { ...settled, batch: state.ledger.batch } }, now);
  const profile = state.profiles[worker];
  let best: Scored | undefined;
  for (const id of Object.keys(draft.tasks)) {
    const task = state.board.tasks[id];
    const ctx: ClaimContext = {
      draft,
      workerId: worker,
      profile,
      skills: new Set(profile?.skills ?? []),
      workerState: workerRuntime(draft, worker),
      trust: state.board.trust[worker] ?? DEFAULTS.workerTrust,
      taskId: id,
      task,
      runtime: draft.tasks[id],
      policy: policyFor(draft, task?.repo ?? draft.tasks[id]!.repo),
      area: areaKey(task?.area ?? ''),
    };
    if (runFilters(FILTERS, ctx)) continue;
    const cand = { taskId: id, total: totalScore({ task: task!, queuedAt: draft.tasks[id]!.queuedAt, now, profile: profile!, skills: ctx.skills, workerState: ctx.workerState }) };
    if (!best || beats(cand, best, worker, draft.batch)) best = cand;
  }
  return best?.taskId;
}
