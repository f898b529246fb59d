/**
 * One relay's metrics registry (prom-client), and the small API feature modules use to add
 * their own metrics (`MetricsPort`, handed to them as `RelayPort.metrics`).
 *
 * Invariants:
 * - A registry per relay, never prom-client's global one: several relays in one process
 *   (tests, the Obsidian-embedded relay) keep separate counts.
 * - Every name starts with `owp_`; asking twice for the same name and type returns the same
 *   metric (a feature restarted in the same relay keeps counting), a different type throws.
 * - Hot paths only increment counters or observe histograms; gauges that need a walk over
 *   the state are computed when scraped (`collect`).
 * - Node's process metrics (`process_*`, `nodejs_*`) are switched on at the first scrape, so a
 *   relay nobody scrapes pays nothing for them: their code (and @opentelemetry/api, which
 *   prom-client's index pulls in) is not even loaded before (a faster start).
 */
import type { Metric } from 'prom-client';
// One by one, not the package's index: that also loads the default process metrics and
// @opentelemetry/api (~50 modules), which only the first scrape needs (./prom-client-parts.d.ts).
import Counter from 'prom-client/lib/counter.js';
import Gauge from 'prom-client/lib/gauge.js';
import Histogram from 'prom-client/lib/histogram.js';
import Registry from 'prom-client/lib/registry.js';

export type Labels = Record<string, string | number>;

export interface CounterHandle {
  inc(labels?: Labels, by?: number): void;
}

export interface GaugeHandle {
  set(value: number, labels?: Labels): void;
}

export interface HistogramHandle {
  observe(value: number, labels?: Labels): void;
}

/** What a feature module may do with the relay's metrics. */
export interface MetricsPort {
  counter(name: string, help: string, labelNames?: readonly string[]): CounterHandle;
  gauge(name: string, help: string, labelNames?: readonly string[]): GaugeHandle;
  /** A gauge computed when scraped: `read` returns its value, or undefined for no sample (not known now). */
  gaugeFrom(name: string, help: string, read: () => number | undefined | Promise<number | undefined>): void;
  /** Buckets in the metric's unit (seconds for `_seconds`). */
  histogram(name: string, help: string, buckets: readonly number[], labelNames?: readonly string[]): HistogramHandle;
}

/** Latency buckets from 1 ms to 10 s. */
export const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export class MetricsRegistry {
  readonly registry = new Registry();
  private processMetrics = false;

  /** The API feature modules get (RelayPort.metrics). */
  port(): MetricsPort {
    return {
      counter: (name, help, labelNames) => {
        const c = this.counter(name, help, labelNames);
        return { inc: (labels, by = 1) => (labels ? c.inc(labels, by) : c.inc(by)) };
      },
      gauge: (name, help, labelNames) => {
        const g = this.gauge(name, help, labelNames);
        return { set: (value, labels) => (labels ? g.set(labels, value) : g.set(value)) };
      },
      gaugeFrom: (name, help, read) => this.gaugeFrom(name, help, read),
      histogram: (name, help, buckets, labelNames) => {
        const h = this.histogram(name, help, buckets, labelNames);
        return { observe: (value, labels) => (labels ? h.observe(labels, value) : h.observe(value)) };
      },
    };
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter<string> {
    return this.once(name, Counter, () => new Counter({ name, help, labelNames, registers: [this.registry] }));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = [], collect?: (this: Gauge<string>) => void | Promise<void>): Gauge<string> {
    return this.once(name, Gauge, () => new Gauge({ name, help, labelNames, registers: [this.registry], collect }));
  }

  gaugeFrom(name: string, help: string, read: () => number | undefined | Promise<number | undefined>): void {
    this.gauge(name, help, [], async function () {
      const v = await read();
      if (v === undefined) this.remove();
      else this.set(v);
    });
  }

  histogram(name: string, help: string, buckets: readonly number[], labelNames: readonly string[] = []): Histogram<string> {
    return this.once(name, Histogram, () => new Histogram({ name, help, labelNames, buckets: [...buckets], registers: [this.registry] }));
  }

  /** The Prometheus text exposition of every metric. */
  async scrape(): Promise<{ contentType: string; text: string }> {
    if (!this.processMetrics) {
      this.processMetrics = true;
      const { default: collectDefaultMetrics } = await import('prom-client/lib/defaultMetrics.js');
      collectDefaultMetrics({ register: this.registry });
    }
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  private once<M extends Metric<string>>(name: string, type: abstract new (...args: never[]) => M, make: () => M): M {
    if (!name.startsWith('owp_')) throw new Error(`metric ${name}: relay metric names start with owp_`);
    const existing = this.registry.getSingleMetric(name);
    if (existing === undefined) return make();
    if (existing instanceof type) return existing;
    throw new Error(`metric ${name} is already registered as another type`);
  }
}
