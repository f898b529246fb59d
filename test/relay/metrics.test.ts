/**
 * GET /metrics and GET /readyz over real HTTP against real relays: the counters move by
 * exactly what a claim, a completion and an expiry do; scrape-time gauges follow the pool;
 * the endpoint refuses callers without the metrics or an admin token with stable codes;
 * relays in one process keep separate registries; GitHub requests are counted; /readyz
 * turns 503 the moment shutdown starts while /healthz stays 200.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createGithubFeature } from '../../server/github/index.js';
import { startFakeGithub } from '../fake-github/server.js';
import { openSse } from '../helpers/sse.js';
import { startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';

const METRICS_TOKEN = 'metrics-scraper-token-0123456789';
const enc = encodeURIComponent;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parse the Prometheus text format (enough of it for these tests). */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of one series (labels matched exactly on the given keys); 0 when absent. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const s = samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value ?? 0;
}

async function scrape(url: string, token: string | undefined = METRICS_TOKEN): Promise<Sample[]> {
  const res = await fetch(`${url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parse(await res.text());
}

describe('GET /metrics', () => {
  let clock = Date.parse('2026-03-02T10:00:00Z');
  let r: TestRelay;
  let maint: string;
  let worker: string;

  beforeAll(async () => {
    r = await startTestRelay({ tickMs: 2, now: () => clock, metrics: { token: METRICS_TOKEN } });
    maint = await r.token('maintainer');
    worker = await r.token('worker', 'w1');
    expect((await r.api(maint, 'PUT', '/api/repos/o/r', { reviewBudget: 3 })).status).toBe(200);
    const tasks = ['o/r#1', 'o/r#2', 'o/r#3'].map((id) => ({ id, repo: 'o/r', title: id, skills: ['ts'], points: 1 }));
    expect((await r.api(maint, 'POST', '/api/tasks', { tasks })).status).toBe(200);
    expect((await r.api(worker, 'POST', '/api/workers/register', { skills: ['ts'], capacity: 5, maxConcurrent: 3 })).status).toBe(200);
    // Every board change has reached the ledger: three queued tasks.
    await waitFor(async () => value(await scrape(r.url), 'owp_queue_depth', { repo: 'o/r' }) === 3);
  });
  afterAll(async () => r?.close());

  it('moves the counters by exactly what a claim and a completion do', async () => {
    const before = await scrape(r.url);
    const claim = await r.api(worker, 'POST', '/api/claim', { taskId: 'o/r#1', intentId: 'm-claim-1' });
    expect(claim.status).toBe(200);
    const refused = await r.api(worker, 'POST', '/api/claim', { taskId: 'o/r#404', intentId: 'm-claim-2' });
    expect(refused.status).toBe(404);
    const leased = await scrape(r.url);
    expect(value(leased, 'owp_review_budget_in_use', { repo: 'o/r' })).toBe(1);
    expect(value(leased, 'owp_review_budget', { repo: 'o/r' })).toBe(3);
    expect(value(leased, 'owp_queue_depth', { repo: 'o/r' })).toBe(2);
    const done = await r.api(worker, 'POST', `/api/tasks/${enc('o/r#1')}/complete`, { fencingToken: claim.body.outcome.fencingToken });
    expect(done.status).toBe(200);
    const after = await scrape(r.url);

    const delta = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
    expect(delta('owp_grants_total')).toBe(1);
    expect(delta('owp_intents_total', { kind: 'claim', outcome: 'granted' })).toBe(1);
    expect(delta('owp_intents_total', { kind: 'claim', outcome: 'rejected' })).toBe(1);
    expect(delta('owp_intents_total', { kind: 'complete', outcome: done.body.outcome.status })).toBe(1);
    expect(delta('owp_intent_rejections_total', { code: refused.body.error.code })).toBe(1);
    expect(delta('owp_claim_latency_seconds_count')).toBe(2);
    expect(delta('owp_tick_duration_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(delta('owp_lease_expiries_total')).toBe(0);
    expect(delta('owp_http_requests_total', { method: 'POST', route: '/api/claim', status: '200' })).toBe(1);
    expect(value(after, 'owp_review_budget_in_use', { repo: 'o/r' })).toBe(0);
    expect(value(after, 'owp_queue_depth', { repo: 'o/r' })).toBe(2);
    // Process metrics and the database size come with every scrape.
    expect(value(after, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(after.some((s) => s.name === 'nodejs_heap_size_used_bytes')).toBe(true);
    expect(value(after, 'owp_db_size_bytes')).toBeGreaterThan(0);
  });

  it('counts an expired lease once', async () => {
    const before = await scrape(r.url);
    const claim = await r.api(worker, 'POST', '/api/claim', { taskId: 'o/r#2', intentId: 'm-claim-3' });
    expect(claim.status).toBe(200);
    clock = claim.body.outcome.expiresAt + 1;
    await r.relay.engine.sweep();
    const after = await scrape(r.url);
    expect(value(after, 'owp_lease_expiries_total') - value(before, 'owp_lease_expiries_total')).toBe(1);
    expect(value(after, 'owp_grants_total') - value(before, 'owp_grants_total')).toBe(1);
    expect(value(after, 'owp_review_budget_in_use', { repo: 'o/r' })).toBe(0);
  });

  it('counts open sockets and event streams', async () => {
    const ws = new WebSocket(`${r.wsUrl}/owp/board?token=${enc(worker)}`);
    await new Promise((resolve) => ws.once('message', resolve));
    const sse = await openSse(`${r.url}/api/events?token=${enc(maint)}`);
    expect(sse.status).toBe(200);
    const open = await scrape(r.url);
    expect(value(open, 'owp_connected_clients', { kind: 'websocket' })).toBe(1);
    expect(value(open, 'owp_connected_clients', { kind: 'sse' })).toBe(1);
    ws.close();
    sse.close();
    await waitFor(async () => {
      const s = await scrape(r.url);
      return value(s, 'owp_connected_clients', { kind: 'websocket' }) === 0 && value(s, 'owp_connected_clients', { kind: 'sse' }) === 0;
    });
    const refused = new WebSocket(`${r.wsUrl}/owp/board?token=not-a-token-at-all`);
    await new Promise((resolve) => refused.once('close', resolve));
    expect(value(await scrape(r.url), 'owp_socket_refusals_total', { code: 'unauthorized' })).toBe(1);
  });

  it('refuses callers without the metrics or an admin token, with stable codes', async () => {
    const none = await r.api(undefined, 'GET', '/metrics');
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthorized');
    expect(none.body.error.message).toMatch(/OWP_METRICS_TOKEN/);
    const bad = await r.api('owp_notARealTokenAtAll000000000000000', 'GET', '/metrics');
    expect(bad.status).toBe(401);
    expect(bad.body.error.code).toBe('unauthorized');
    const wrongRole = await r.api(maint, 'GET', '/metrics');
    expect(wrongRole.status).toBe(403);
    expect(wrongRole.body.error.code).toBe('not-authorized');
    expect(await scrape(r.url, r.adminToken)).not.toHaveLength(0);
  });

  it('keeps a registry per relay, and serves /metrics without a token when public', async () => {
    const other = await startTestRelay({ metrics: { public: true } });
    try {
      const s = await scrape(other.url, undefined);
      expect(value(s, 'owp_grants_total')).toBe(0);
      expect(value(await scrape(r.url), 'owp_grants_total')).toBe(2);
    } finally {
      await other.close();
    }
  });
});

describe('GitHub request metrics', () => {
  it('counts requests by status and keeps the rate limit left', async () => {
    const gh = await startFakeGithub();
    gh.createRepo('acme/widgets');
    gh.addIssue('acme/widgets', { title: 'First', labels: ['owp'] });
    const r = await startTestRelay({
      metrics: { public: true },
      features: (port) => [createGithubFeature(port, { token: gh.token, apiUrl: gh.url, intervalMs: 0, syncOnStart: false, retryAfterBaseValue: 5, writeMinTimeMs: 0 })],
    });
    try {
      const maint = await r.token('maintainer');
      const put = await r.api(maint, 'PUT', '/api/repos/acme/widgets', { reviewBudget: 5, github: { enabled: true } });
      expect(put.status).toBe(200);
      expect((await r.api(maint, 'POST', '/api/github/sync', {})).status).toBe(200);
      const s = await scrape(r.url, undefined);
      expect(value(s, 'owp_github_requests_total', { status: '200' })).toBeGreaterThan(0);
      expect(s.some((x) => x.name === 'owp_github_rate_limit_remaining')).toBe(true);
      expect(value(s, 'owp_github_rate_limit_remaining')).toBeGreaterThan(0);
    } finally {
      await r.close();
      await gh.close();
    }
  });
});

/** One raw HTTP/1.1 connection: write requests on it (pipelined), read everything it answers until it ends. */
function rawConnection(url: string): Promise<{ send(text: string): void; ended: Promise<string> }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket: Socket = tcpConnect(Number(port), hostname, () => {
      let answer = '';
      const ended = new Promise<string>((done) => socket.once('end', () => done(answer)));
      socket.setEncoding('utf8').on('data', (d: string) => (answer += d));
      resolve({ send: (text) => void socket.write(text), ended });
    });
    socket.once('error', reject);
  });
}

const get = (path: string, last = false) => `GET ${path} HTTP/1.1\r\nHost: relay\r\n${last ? 'Connection: close\r\n' : ''}\r\n`;

describe('GET /readyz', () => {
  it('answers 200 while serving and 503 shutting-down once close() starts, while /healthz stays 200', async () => {
    const signal = () => {
      let fire!: () => void;
      const fired = new Promise<void>((resolve) => (fire = resolve));
      return { fire, fired };
    };
    const entered = signal();
    const answerHold = signal();
    const stopCalled = signal();
    const releaseStop = signal();
    // A feature with a route that answers when the test says, and a stop() that waits for the
    // test: the relay stays inside its shutdown, with one connection busy, until released.
    const r = await startTestRelay({
      features: () => [
        {
          name: 'holds',
          routes: [{ method: 'GET', path: '/test/hold', auth: 'none', handler: async (ctx) => (entered.fire(), await answerHold.fired, ctx.send(200, { held: true })) }],
          stop: () => (stopCalled.fire(), releaseStop.fired),
        },
      ],
    });
    try {
      const ready = await r.api(undefined, 'GET', '/readyz');
      expect(ready.status).toBe(200);
      expect(ready.body).toEqual({ ready: true, phase: 'serving' });

      // A busy connection survives the server's close; requests sent on it after close() started
      // are answered by the stopping relay.
      const conn = await rawConnection(r.url);
      conn.send(get('/test/hold'));
      await entered.fired;
      const closed = r.close();
      await stopCalled.fired;
      conn.send(get('/readyz') + get('/healthz', true));
      answerHold.fire();
      const text = await conn.ended;
      expect([...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))).toEqual([200, 503, 200]);
      expect(text).toContain('{"ready":false,"phase":"stopping","error":{"code":"shutting-down"');
      releaseStop.fire();
      await closed;
    } finally {
      releaseStop.fire();
      answerHold.fire();
      await r.close();
    }
  });
});
