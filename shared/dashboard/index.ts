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
export { formatCountdown, describeCountdown, formatClock, describeEvent } from './format.js';
export { buildSeries, countPerMinute, utilisationPerMinute, minuteStart, MINUTE_MS } from './series.js';
export type { ChartSeries, SeriesPoint } from './series.js';
export { applySnapshot, applyDelta, emptyLiveState, publicProfilesFrom } from './live.js';
export type { LiveState, SnapshotMessage, DeltaMessage } from './live.js';
