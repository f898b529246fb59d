/**
 * Board filters (repo, state, skill, worker, free text) and the "Awaiting review" queue.
 *
 * Invariants:
 * - Pure; an empty filter matches every card; text search is case-insensitive over the
 *   title, id, area, skills, holder and brief, and never interprets the text as a pattern.
 * - The review queue holds every task in `pr_open` that matches the filter, oldest first
 *   (time in review, then id), whatever the per-column card limit.
 */
import type { Board, TaskState } from '../model.js';
import type { TaskCard } from './model.js';
import { prNumber } from './detail.js';

export interface TaskFilter {
  repo?: string;
  state?: TaskState;
  skill?: string;
  worker?: string;
  text?: string;
}

export interface ReviewItem {
  id: string;
  title: string;
  repo: string;
  prUrl?: string;
  prNumber?: number;
  issueUrl?: string;
  holder?: string;
  /** When it entered review (the runtime's last change). */
  since: number;
}

export interface FilterChoices {
  repos: string[];
  states: TaskState[];
  skills: string[];
  workers: string[];
}

export function isEmptyFilter(f: TaskFilter | undefined): boolean {
  return !f || (!f.repo && !f.state && !f.skill && !f.worker && !f.text?.trim());
}

export function matchesFilter(c: TaskCard, f: TaskFilter | undefined, board: Board): boolean {
  if (!f) return true;
  if (f.repo && c.repo !== f.repo) return false;
  if (f.state && c.state !== f.state) return false;
  if (f.skill && !c.skills.includes(f.skill)) return false;
  if (f.worker && c.holder !== f.worker) return false;
  const q = f.text?.trim().toLowerCase();
  if (q) {
    const body = Object.hasOwn(board.tasks, c.id) ? board.tasks[c.id].body : '';
    const hay = [c.title, c.id, c.area, c.holder ?? '', ...c.skills, body].join('\n').toLowerCase();
    if (!hay.includes(q)) return false;
  }
  return true;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function filterChoices(cards: readonly TaskCard[], workerIds: readonly string[]): FilterChoices {
  const repos = new Set<string>();
  const states = new Set<TaskState>();
  const skills = new Set<string>();
  for (const c of cards) {
    repos.add(c.repo);
    states.add(c.state);
    for (const s of c.skills) skills.add(s);
  }
  return { repos: [...repos].sort(cmp), states: [...states].sort(cmp), skills: [...skills].sort(cmp), workers: [...workerIds].sort(cmp) };
}

export function reviewQueue(cards: readonly TaskCard[]): ReviewItem[] {
  return cards
    .filter((c) => c.state === 'pr_open')
    .map((c) => ({
      id: c.id,
      title: c.title,
      repo: c.repo,
      prUrl: c.prUrl,
      prNumber: c.prUrl ? prNumber(c.prUrl) : undefined,
      issueUrl: c.issueUrl,
      holder: c.holder,
      since: c.updatedAt,
    }))
    .sort((a, b) => a.since - b.since || cmp(a.id, b.id));
}
