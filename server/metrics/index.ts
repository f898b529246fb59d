/**
 * Metrics and health: the per-relay registry and the API features use (./registry.ts), the
 * relay's own metrics (./relay-metrics.ts), GitHub request metrics (./github.ts), and the
 * /metrics and /readyz routes (./routes.ts). docs/DEPLOY.md lists every metric.
 */
export { MetricsRegistry, SECONDS_BUCKETS, type CounterHandle, type GaugeHandle, type HistogramHandle, type Labels, type MetricsPort } from './registry.js';
export { RelayMetrics, type RelayState } from './relay-metrics.js';
export { observeGithub } from './github.js';
export { observabilityRoutes, type Phase } from './routes.js';
export { folderBytes } from './disk.js';
