/**
 * The relay's own metrics: what the engine decided (counters and histograms fed by the
 * engine's observer), what the HTTP and socket doors saw, and gauges of the state computed
 * when scraped (queue depth, review budget in use, clients, database size).
 *
 * Invariants:
 * - Per batch the observer does one pass over the batch's replies and events and bumps each
 *   distinct label set once; nothing here walks the ledger on the hot path.
 * - Scrape-time gauges are reset before they are filled, so a repo that left the board
 *   leaves the exposition too.
 */
import type { Board, Ledger } from '../../shared/model.js';
import type { BatchObservation, EngineObserver } from '../engine/observer.js';
import { MetricsRegistry, SECONDS_BUCKETS } from './registry.js';

/** Where the scrape-time gauges read from. */
export interface RelayState {
  ledger(): Ledger;
  board(): Board;
  /** Open y-websocket sockets. */
  sockets(): number;
  /** Open event streams (SSE). */
  streams(): number;
  /** Bytes the relay's database takes, if known (LevelDB: its folder; PostgreSQL: its tables). */
  dbSizeBytes?(): Promise<number | undefined>;
}

const CLAIMS = new Set(['claim', 'claim-next']);

export class RelayMetrics extends MetricsRegistry {
  readonly grants = this.counter('owp_grants_total', 'Leases granted.');
  readonly intents = this.counter('owp_intents_total', 'Intents answered, by kind and outcome (granted, applied, rejected; error when the batch failed).', ['kind', 'outcome']);
  readonly rejections = this.counter('owp_intent_rejections_total', 'Intents refused, by stable error code.', ['code']);
  readonly expiries = this.counter('owp_lease_expiries_total', 'Leases that expired without a heartbeat.');
  readonly batchFailures = this.counter('owp_batch_failures_total', 'Batches that failed: the scheduler threw, the store write failed, or recording threw.', ['stage']);
  readonly tickSeconds = this.histogram('owp_tick_duration_seconds', 'Duration of one engine tick (arbitrate, persist, show, answer).', SECONDS_BUCKETS);
  readonly claimSeconds = this.histogram('owp_claim_latency_seconds', 'Time from a claim intent being queued to its answer, inside the relay.', SECONDS_BUCKETS);
  readonly httpRequests = this.counter('owp_http_requests_total', 'HTTP requests answered, by method, route pattern and status (method WS: intent-channel messages, server/intents-ws).', ['method', 'route', 'status']);
  readonly socketRefusals = this.counter('owp_socket_refusals_total', 'WebSocket upgrades refused, by stable code.', ['code']);

  /** The engine's observer: counters per batch. */
  engineObserver(): EngineObserver {
    return {
      batch: (o) => this.onBatch(o),
      failed: (stage, intents) => {
        this.batchFailures.inc({ stage });
        if (intents > 0) this.intents.inc({ kind: 'unknown', outcome: 'error' }, intents);
      },
    };
  }

  private onBatch(o: BatchObservation): void {
    this.tickSeconds.observe(o.ms / 1000);
    const counts = new Map<string, number>();
    const codes = new Map<string, number>();
    const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
    for (const r of o.replies.values()) {
      bump(counts, `${r.kind}\u0000${r.status}`);
      if (r.status === 'rejected' && r.code) bump(codes, r.code);
    }
    for (const r of o.rejected) {
      bump(counts, `${r.kind}\u0000rejected`);
      bump(codes, r.code);
    }
    for (const [k, n] of counts) {
      const [kind, outcome] = k.split('\u0000');
      this.intents.inc({ kind: kind!, outcome: outcome! }, n);
    }
    for (const [code, n] of codes) this.rejections.inc({ code }, n);
    let grants = 0;
    let expiries = 0;
    for (const e of o.events) {
      if (e.kind === 'lease-granted') grants++;
      else if (e.kind === 'lease-expired') expiries++;
    }
    if (grants) this.grants.inc(grants);
    if (expiries) this.expiries.inc(expiries);
    for (const p of o.entries) if (CLAIMS.has(p.intent.kind)) this.claimSeconds.observe((o.answeredAt - p.queuedAt) / 1000);
  }

  /** Count one answered HTTP request (the access log calls this). */
  request(method: string, route: string | undefined, status: number): void {
    this.httpRequests.inc({ method, route: route ?? '(unmatched)', status });
  }

  /** Gauges computed from the relay's state when scraped. */
  watch(state: RelayState): void {
    this.gauge('owp_queue_depth', 'Tasks queued (claimable or waiting for a filter), by repo.', ['repo'], function () {
      this.reset();
      for (const [repo, n] of countByRepo(state, (s) => s === 'queued')) this.set({ repo }, n);
    });
    this.gauge('owp_review_budget_in_use', 'Tasks leased or awaiting review, by repo (the review budget counts these).', ['repo'], function () {
      this.reset();
      for (const [repo, n] of countByRepo(state, (s) => s === 'leased' || s === 'pr_open')) this.set({ repo }, n);
    });
    this.gauge('owp_review_budget', 'The review budget of each repo with a policy.', ['repo'], function () {
      this.reset();
      for (const [repo, p] of Object.entries(state.board().repos)) this.set({ repo }, p.reviewBudget);
    });
    this.gauge('owp_connected_clients', 'Open client connections, by kind (websocket, sse).', ['kind'], function () {
      this.set({ kind: 'websocket' }, state.sockets());
      this.set({ kind: 'sse' }, state.streams());
    });
    if (state.dbSizeBytes) this.gaugeFrom('owp_db_size_bytes', 'Bytes the relay database takes on disk (LevelDB: its data folder; PostgreSQL: the relay tables with indexes and TOAST).', () => sizeOrNothing(state));
  }
}

/** The database size, or no sample when it cannot be read now (a database that is down must not fail the scrape). */
async function sizeOrNothing(state: RelayState): Promise<number | undefined> {
  try {
    return await state.dbSizeBytes?.();
  } catch {
    return undefined;
  }
}

/** Tasks per repo in the matching states; every repo with a policy is listed, 0 if none. */
function countByRepo(state: RelayState, match: (state: string) => boolean): Map<string, number> {
  const out = new Map<string, number>();
  for (const repo of Object.keys(state.board().repos)) out.set(repo, 0);
  for (const rt of Object.values(state.ledger().tasks)) if (match(rt.state)) out.set(rt.repo, (out.get(rt.repo) ?? 0) + 1);
  return out;
}
