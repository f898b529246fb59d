/**
 * Public API of the shared dashboard: a pure view model and DOM rendering used by the web
 * page (server/web) and the Obsidian plugin's dashboard view. Styles: ./dashboard.css.
 *
 * Invariant: nothing here needs Node or Obsidian, and nothing builds HTML from strings.
 */
export { buildDashboardModel, COLUMNS } from './model.js';
export type { DashboardModel, DashboardInput, TaskCard, RepoView, WorkerView, WorkerLeaseView, EventView, ColumnKey } from './model.js';
export { renderDashboard, updateCountdowns } from './render.js';
export type { RenderOptions } from './render.js';
export { formatCountdown, describeCountdown, formatClock, describeEvent, formatAge, formatStamp } from './format.js';
export { buildSeries, countPerMinute, utilisationPerMinute, minuteStart, MINUTE_MS } from './series.js';
export type { ChartSeries, SeriesPoint } from './series.js';
export { applySnapshot, applyDelta, emptyLiveState, publicProfilesFrom } from './live.js';
export type { LiveState, SnapshotMessage, DeltaMessage } from './live.js';
export { buildTaskDetail, prNumber, DESTRUCTIVE, ACTION_TEXT } from './detail.js';
export type { TaskDetail, ActionKey, LeaseSpan, PrState } from './detail.js';
export { matchesFilter, reviewQueue } from './filters.js';
export type { TaskFilter, ReviewItem } from './filters.js';
export { renderBrief } from './brief.js';
export type { DetailUi } from './render-detail.js';
export type { DetailEvent, FiguresChoice, TrustEvent } from './interact.js';
export { workerTrust, describeLevel } from './trust.js';
export type { TrustLevelView, WorkerTrustView } from './trust.js';
export { describeTrustChange } from './render-workers.js';
export type { TrustUi } from './render-workers.js';
export { figuresSection, figuresFrom, creditsFrom, WINDOWS } from './figures.js';
export type { Figures, FiguresView, CreditRow, StatsWindow } from './figures.js';
