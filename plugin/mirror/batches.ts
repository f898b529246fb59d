/**
 * How the mirror syncs many tasks at once (a first sync of 10,000): in batches of BATCH
 * tasks whose facts are gathered together, planned one by one (rules.ts) and written in
 * parallel, with a pause for the app between batches. Pure.
 *
 * Invariant: no two plans that run together touch the same note path (two tasks whose
 * titles make the same file name, a move onto a new note's path): the later one waits for
 * the next batch, where it sees the first one's note.
 */
import type { Effect } from './rules.js';

/** Tasks planned and written together. */
export const BATCH = 32;
/** A sync of at least this many tasks reports its progress (a Notice and the status bar). */
export const PROGRESS_FROM = 500;

export interface Planned {
  id: string;
  effects: Effect[];
}

/** The note paths a plan creates, writes or moves. */
export function touchedPaths(effects: Effect[]): string[] {
  const out: string[] = [];
  for (const e of effects) {
    if (e.kind === 'create' || e.kind === 'write') out.push(e.path);
    else if (e.kind === 'move') out.push(e.from, e.to);
  }
  return out;
}

/** Split a batch's plans: those that may run together, and the ids to plan again later. */
export function admit(plans: Planned[]): { run: Planned[]; later: string[] } {
  const taken = new Set<string>();
  const run: Planned[] = [];
  const later: string[] = [];
  for (const p of plans) {
    const paths = touchedPaths(p.effects);
    if (paths.some((x) => taken.has(x))) {
      later.push(p.id);
      continue;
    }
    for (const x of paths) taken.add(x);
    run.push(p);
  }
  return { run, later };
}
