/**
 * The dashboard view model: everything the dashboard shows, computed from the board, the
 * ledger and recent audit events. Used by the web page and the Obsidian plugin alike.
 *
 * Invariants:
 * - Pure: `buildDashboardModel` reads its input only (no clock, no DOM, no I/O) and never
 *   mutates it. Same input, same model; every list has a stable order.
 * - Every task on the board or in the ledger appears in exactly one column of its repo
 *   (a board task with no runtime yet counts as queued), except finished tasks older than
 *   `recentDoneMs`, which are counted but not shown.
 * - Review budget in use = tasks of the repo in `pr_open` or `leased` (what the scheduler
 *   counts against `reviewBudget`).
 */
import type { AuditEvent, Board, Ledger, RepoPolicy, RiskTier, Task, TaskRuntime, TaskState, WorkerProfile } from '../model.js';
import { buildSeries, type ChartSeries } from './series.js';
import { DEFAULTS } from '../defaults.js';
import { issueUrlOf } from './detail.js';
import { filterChoices, isEmptyFilter, matchesFilter, reviewQueue, type FilterChoices, type ReviewItem, type TaskFilter } from './filters.js';
import { workerTrust, type TrustLevelView } from './trust.js';

/** The task states in display order (a local copy: importing values from ../model.js would
 *  drag zod into the browser bundle). `satisfies` keeps it in step with TaskState. */
const TASK_STATES = ['queued', 'leased', 'pr_open', 'done', 'stuck', 'cancelled'] as const satisfies readonly TaskState[];
type MissingState = Exclude<TaskState, (typeof TASK_STATES)[number]>;
const everyStateListed: [MissingState] extends [never] ? true : false = true;
void everyStateListed;

export type ColumnKey = 'queued' | 'leased' | 'pr_open' | 'stuck' | 'done';

export const COLUMNS: readonly { key: ColumnKey; label: string }[] = [
  { key: 'queued', label: 'Queued' },
  { key: 'leased', label: 'Leased' },
  { key: 'pr_open', label: 'PR open' },
  { key: 'stuck', label: 'Stuck' },
  { key: 'done', label: 'Recently done' },
];

export interface TaskCard {
  id: string;
  repo: string;
  title: string;
  state: TaskState;
  points: number;
  skills: string[];
  tier: RiskTier;
  area: string;
  priority: number;
  held: boolean;
  attempt: number;
  holder?: string;
  expiresAt?: number;
  prUrl?: string;
  issueUrl?: string;
  note?: string;
  updatedAt: number;
}

export interface RepoColumn {
  key: ColumnKey;
  label: string;
  /** The cards shown (at most `maxCardsPerColumn`, in display order). */
  tasks: TaskCard[];
  /** How many tasks are in the column in all (shown + not shown). */
  total: number;
}

export interface RepoView {
  repo: string;
  /** Policy from the board; undefined when tasks name a repo that has no policy yet. */
  policy?: RepoPolicy;
  budget: { inUse: number; size: number };
  allowedTiers: RiskTier[];
  frozenAreas: string[];
  counts: Record<TaskState, number>;
  columns: RepoColumn[];
}

export interface WorkerLeaseView {
  taskId: string;
  title: string;
  state: TaskState;
  expiresAt?: number;
  points: number;
}

export interface WorkerView {
  id: string;
  name: string;
  /** undefined when unknown (no presence information given). */
  online?: boolean;
  skills: string[];
  /** 0 when the profile is unknown. */
  capacity: number;
  pointsInUse: number;
  maxConcurrent?: number;
  available?: boolean;
  /** Highest risk tier maintainers trust this worker with (board trust, else the default). */
  trust: RiskTier;
  /** Its level in each repo where it can differ from `trust` (override, trust ladder), and why. */
  trustLevels: TrustLevelView[];
  /** The newest `trust-changed` event of this worker among the recent events. */
  lastTrustChange?: AuditEvent;
  credit: number;
  completed: number;
  expired: number;
  leases: WorkerLeaseView[];
}

export interface EventView {
  key: string;
  at: number;
  kind: AuditEvent['kind'];
  taskId?: string;
  workerId?: string;
  event: AuditEvent;
}

export interface DashboardModel {
  now: number;
  batch: number;
  totals: Record<TaskState, number> & { all: number };
  repos: RepoView[];
  workers: WorkerView[];
  recent: EventView[];
  charts: ChartSeries[];
  capacity: { inUse: number; total: number };
  /** PR-open tasks matching the filter, oldest first. */
  awaitingReview: ReviewItem[];
  filter: TaskFilter;
  choices: FilterChoices;
  /** Tasks matching the filter against all tasks (columns show only matching ones). */
  matching: { shown: number; all: number };
  /** Repos with a policy, sorted: where a maintainer may override a worker's trust. */
  policyRepos: string[];
}

export interface DashboardInput {
  board: Board;
  ledger: Ledger;
  recent: AuditEvent[];
  online?: Record<string, boolean>;
  now: number;
  /** Worker profiles (skills, capacity), e.g. from `GET /api/workers` or inbox documents. */
  profiles?: Record<string, WorkerProfile>;
  /** Finished tasks older than this are not shown in "Recently done". Default 24 h. */
  recentDoneMs?: number;
  /** How many audit events to list (newest first). Default 30. */
  recentLimit?: number;
  /**
   * Event kinds left out of the "Recent events" list (they still feed the charts).
   * Default: `claim-rejected`, because idle workers poll and each refusal is an event.
   */
  hiddenEventKinds?: readonly string[];
  /** Cards shown per column before "and N more". Default 8. */
  maxCardsPerColumn?: number;
  /** Chart window in minutes. Default 60. */
  chartMinutes?: number;
  /** Board filter (columns and review queue); counts and budgets always cover every task. */
  filter?: TaskFilter;
}

const zeroCounts = (): Record<TaskState, number> =>
  Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as Record<TaskState, number>;

const cmpStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function columnOf(state: TaskState): ColumnKey {
  if (state === 'cancelled') return 'done';
  return state;
}

function cardOf(id: string, task: Task | undefined, rt: TaskRuntime | undefined): TaskCard {
  const state: TaskState = rt?.state ?? (task?.cancelled ? 'cancelled' : 'queued');
  return {
    id,
    repo: task?.repo ?? rt?.repo ?? 'unknown/unknown',
    title: task?.title ?? id,
    state,
    points: task?.points ?? 1,
    skills: task?.skills ? [...task.skills] : [],
    tier: task?.tier ?? 0,
    area: task?.area ?? '',
    priority: task?.priority ?? 0,
    held: task?.held ?? false,
    attempt: rt?.attempt ?? 0,
    holder: rt?.lease?.workerId,
    expiresAt: rt?.lease?.expiresAt,
    prUrl: rt?.prUrl,
    issueUrl: task ? issueUrlOf(task.repo, task.issueUrl, task.issueNumber) : undefined,
    note: rt?.note,
    updatedAt: rt?.updatedAt ?? task?.createdAt ?? 0,
  };
}

/** Order inside a column: what needs attention first. */
function sortCards(key: ColumnKey, cards: TaskCard[]): TaskCard[] {
  const byId = (a: TaskCard, b: TaskCard): number => cmpStr(a.id, b.id);
  if (key === 'queued') return cards.sort((a, b) => b.priority - a.priority || byId(a, b));
  if (key === 'leased') return cards.sort((a, b) => (a.expiresAt ?? Infinity) - (b.expiresAt ?? Infinity) || byId(a, b));
  return cards.sort((a, b) => b.updatedAt - a.updatedAt || byId(a, b));
}

export function buildDashboardModel(input: DashboardInput): DashboardModel {
  const { board, ledger, now } = input;
  const recentDoneMs = input.recentDoneMs ?? 24 * 3600 * 1000;
  const profiles = input.profiles ?? {};
  const maxCards = Math.max(1, input.maxCardsPerColumn ?? 8);

  // Cards for every task known to the board or the ledger.
  const ids = new Set<string>([...Object.keys(board.tasks), ...Object.keys(ledger.tasks)]);
  const cards: TaskCard[] = [...ids].sort(cmpStr).map((id) => cardOf(id, board.tasks[id], ledger.tasks[id]));

  const filter = input.filter ?? {};
  const filtering = !isEmptyFilter(filter);
  const matches = (c: TaskCard): boolean => !filtering || matchesFilter(c, filter, board);
  const matching = cards.filter(matches);
  const repoNames = new Set<string>([...Object.keys(board.repos), ...cards.map((c) => c.repo)]);
  const totals = { ...zeroCounts(), all: 0 };
  const repos: RepoView[] = [...repoNames].sort(cmpStr).map((repo) => {
    const policy = board.repos[repo];
    const mine = cards.filter((c) => c.repo === repo);
    const counts = zeroCounts();
    const cols = new Map<ColumnKey, TaskCard[]>(COLUMNS.map((c) => [c.key, []]));
    for (const c of mine) {
      counts[c.state] += 1;
      if (!matches(c)) continue;
      const key = columnOf(c.state);
      if (key === 'done' && now - c.updatedAt > recentDoneMs) continue;
      cols.get(key)!.push(c);
    }
    for (const s of TASK_STATES) totals[s] += counts[s];
    totals.all += mine.length;
    return {
      repo,
      policy,
      budget: { inUse: counts.pr_open + counts.leased, size: policy?.reviewBudget ?? DEFAULTS.reviewBudget },
      allowedTiers: [...(policy?.allowedTiers ?? DEFAULTS.allowedTiers)].sort(),
      frozenAreas: policy ? [...policy.frozenAreas].sort(cmpStr) : [],
      counts,
      columns: COLUMNS.map((c) => {
        const all = sortCards(c.key, cols.get(c.key)!);
        return { key: c.key, label: c.label, tasks: all.slice(0, maxCards), total: all.length };
      }),
    };
  });

  const cardById = new Map(cards.map((c) => [c.id, c]));
  const workerIds = new Set<string>([...Object.keys(ledger.workers), ...Object.keys(profiles)]);
  const workers: WorkerView[] = [...workerIds].sort(cmpStr).map((id) => {
    const rt = ledger.workers[id];
    const p = profiles[id];
    const leaseIds = rt?.activeLeases ?? [];
    const trust = workerTrust(board, rt, id, input.recent);
    const leases: WorkerLeaseView[] = leaseIds.map((taskId) => {
      const c = cardById.get(taskId);
      return { taskId, title: c?.title ?? taskId, state: c?.state ?? 'leased', expiresAt: c?.expiresAt, points: c?.points ?? 0 };
    });
    return {
      id,
      name: p?.name ?? id,
      online: input.online ? Boolean(input.online[id]) : undefined,
      skills: p ? [...p.skills].sort(cmpStr) : [],
      capacity: p?.capacity ?? 0,
      pointsInUse: rt?.pointsInUse ?? 0,
      maxConcurrent: p?.maxConcurrent,
      available: p?.available,
      trust: trust.base,
      trustLevels: trust.levels,
      ...(trust.lastChange ? { lastTrustChange: trust.lastChange } : {}),
      credit: rt?.credit ?? 0,
      completed: rt?.completed ?? 0,
      expired: rt?.expired ?? 0,
      leases,
    };
  });

  const capacity = {
    inUse: workers.reduce((s, w) => s + w.pointsInUse, 0),
    total: workers.reduce((s, w) => s + w.capacity, 0),
  };

  const limit = input.recentLimit ?? 30;
  const hidden = new Set<string>(input.hiddenEventKinds ?? ['claim-rejected']);
  const recent: EventView[] = input.recent
    .map((event, i) => ({ event, i }))
    .filter(({ event }) => !hidden.has(event.kind))
    .sort((a, b) => b.event.at - a.event.at || (b.event.batch ?? 0) - (a.event.batch ?? 0) || b.i - a.i)
    .slice(0, limit)
    .map(({ event, i }) => ({
      key: `${event.batch}:${event.at}:${event.kind}:${event.taskId ?? ''}:${event.intentId ?? ''}:${i}`,
      at: event.at,
      kind: event.kind,
      taskId: event.taskId,
      workerId: event.workerId,
      event,
    }));

  const charts = buildSeries(input.recent, ledger, board, capacity.total, now, input.chartMinutes ?? 60);

  return {
    now,
    batch: ledger.batch,
    totals,
    repos: filtering && filter.repo ? repos.filter((r) => r.repo === filter.repo) : repos,
    workers,
    recent,
    charts,
    capacity,
    awaitingReview: reviewQueue(matching),
    filter,
    choices: filterChoices(cards, workers.map((w) => w.id)),
    matching: { shown: matching.length, all: cards.length },
    policyRepos: Object.keys(board.repos).sort(cmpStr),
  };
}
