/**
 * checkInvariants(state): every rule the scheduler promises about a ledger, as a list of
 * human-readable violations (empty when all hold). Used after every step by the property
 * tests, and exported so the relay can log violations after each batch.
 *
 * Rules checked:
 * - each runtime's taskId matches its key, its state is a known one, and it has a lease
 *   exactly when it is leased or pr_open; the lease's task id and fencing token match;
 * - a worker's activeLeases (sorted) and pointsInUse equal what its leases add up to;
 * - limits: a worker's fresh leases in progress (state leased, no pull request yet) within
 *   its capacity and max concurrent, all its active leases within maxOpenPrs, a repo within
 *   its review budget, no two active leases of one repo on overlapping areas. These can
 *   also be broken by a maintainer lowering a limit while leases exist (not a scheduler
 *   bug); the message says "limit". A pull request sent back with changes requested is in
 *   progress again but was granted earlier, so it is not held against capacity here.
 */
import { DEFAULTS, TASK_STATES, areasOverlap, type PoolState } from '../model.js';
import { compareStrings, defaultPolicy, leaseArea, leasePoints, own } from './state.js';

export function checkInvariants(state: PoolState): string[] {
  const { ledger, board, profiles } = state;
  const out: string[] = [];
  const byWorker = new Map<string, { ids: string[]; points: number; fresh: number; freshPoints: number }>();
  const byRepo = new Map<string, { id: string; area: string }[]>();
  for (const id of Object.keys(ledger.tasks).sort(compareStrings)) {
    const runtime = ledger.tasks[id]!;
    if (runtime.taskId !== id) out.push(`task ${id}: runtime says taskId ${runtime.taskId}`);
    if (!TASK_STATES.includes(runtime.state)) out.push(`task ${id}: unknown state ${String(runtime.state)}`);
    const active = runtime.state === 'leased' || runtime.state === 'pr_open';
    if (active !== !!runtime.lease) out.push(`task ${id}: state ${runtime.state} but ${runtime.lease ? 'has' : 'has no'} lease`);
    if (!runtime.lease) continue;
    const lease = runtime.lease;
    if (lease.taskId !== id) out.push(`task ${id}: lease names task ${lease.taskId}`);
    if (lease.fencingToken !== runtime.fencingToken) out.push(`task ${id}: lease token ${lease.fencingToken} != task token ${runtime.fencingToken}`);
    if (runtime.attempt < 1) out.push(`task ${id}: leased with attempt ${runtime.attempt}`);
    const wk = byWorker.get(lease.workerId) ?? { ids: [], points: 0, fresh: 0, freshPoints: 0 };
    wk.ids.push(id);
    wk.points += leasePoints(board, lease);
    if (runtime.state === 'leased' && runtime.prUrl === undefined) {
      wk.fresh++;
      wk.freshPoints += leasePoints(board, lease);
    }
    byWorker.set(lease.workerId, wk);
    const list = byRepo.get(runtime.repo) ?? [];
    list.push({ id, area: leaseArea(board, lease) });
    byRepo.set(runtime.repo, list);
  }
  const workerIds = new Set([...Object.keys(ledger.workers), ...byWorker.keys()]);
  for (const wid of [...workerIds].sort(compareStrings)) {
    const workerState = own(ledger.workers, wid);
    const held = byWorker.get(wid) ?? { ids: [], points: 0, fresh: 0, freshPoints: 0 };
    if (!workerState) {
      out.push(`worker ${wid}: holds leases but has no runtime`);
      continue;
    }
    if (JSON.stringify(workerState.activeLeases) !== JSON.stringify(held.ids)) {
      out.push(`worker ${wid}: activeLeases ${JSON.stringify(workerState.activeLeases)} but leases say ${JSON.stringify(held.ids)}`);
    }
    if (workerState.pointsInUse !== held.points) out.push(`worker ${wid}: pointsInUse ${workerState.pointsInUse} but its leases hold ${held.points}`);
    const p = own(profiles, wid);
    if (p && held.freshPoints > p.capacity) out.push(`limit: worker ${wid} works on ${held.freshPoints} points, capacity ${p.capacity}`);
    if (p && held.fresh > p.maxConcurrent) out.push(`limit: worker ${wid} works on ${held.fresh} leases, max concurrent ${p.maxConcurrent}`);
    if (p && held.ids.length > (p.maxOpenPrs ?? DEFAULTS.maxOpenPrs)) out.push(`limit: worker ${wid} holds ${held.ids.length} leases, max open PRs ${p.maxOpenPrs ?? DEFAULTS.maxOpenPrs}`);
  }
  for (const [repo, list] of [...byRepo].sort((a, b) => compareStrings(a[0], b[0]))) {
    const budget = (own(board.repos, repo) ?? defaultPolicy(repo)).reviewBudget;
    if (list.length > budget) out.push(`limit: repo ${repo} has ${list.length} active leases, review budget ${budget}`);
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        if (areasOverlap(list[i]!.area, list[j]!.area)) {
          out.push(`limit: repo ${repo}: tasks ${list[i]!.id} (${list[i]!.area}) and ${list[j]!.id} (${list[j]!.area}) hold overlapping areas`);
        }
      }
    }
  }
  return out;
}
