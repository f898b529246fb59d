/**
 * The intent channel (`/owp/intents`, docs/PROTOCOL.md "Intent channel") over real sockets
 * against real relays: pipelined claims and completes get exactly what HTTP gives for the
 * same intents, refusals, auth and version at the door, a socket dropped mid-intent, the
 * in-flight cap, and the CLI client's fallback to HTTP.
 *
 * Waits are for states (an intent queued, a socket closed), never for times: the "held"
 * relay arbitrates only when the test calls engine.flush() (its tick is an hour).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { httpPathOf, INTENTS_PATH, opOfHttp, type IntentAnswer, type IntentHello } from '../../shared/intent-channel.js';
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import { ChannelSwitch } from '../../server/cli/channel-switch.js';
import { IntentSocket } from '../../server/cli/intent-channel.js';
import { RelayClient } from '../../server/cli/client.js';
import { owp } from '../helpers/cli-run.js';
import { startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';

const enc = encodeURIComponent;

/** A bare channel client: every message it receives, in order. */
class Raw {
  readonly got: unknown[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer) => this.got.push(JSON.parse(d.toString('utf8'))));
    this.closed = new Promise((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
    ws.on('error', () => undefined);
  }
  static open(base: string, token?: string, headers: Record<string, string> = {}, query = ''): Raw {
    return new Raw(new WebSocket(base.replace(/^http/, 'ws') + INTENTS_PATH + query, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } }));
  }
  hello(): Promise<IntentHello> {
    return waitFor(() => this.got.find((m) => (m as IntentHello).type === 'hello') as IntentHello | undefined, 10_000, 'the hello');
  }
  private from = 0;
  send(m: unknown): void {
    this.from = this.got.length;
    this.ws.send(typeof m === 'string' ? m : JSON.stringify(m));
  }
  /** The answer to `id` (null: the first unaddressed answer since the last send). */
  answer(id: string | number | null): Promise<IntentAnswer> {
    return waitFor(() => this.got.slice(id === null ? this.from : 0).find((m) => (m as IntentAnswer).type === 'answer' && (m as IntentAnswer).id === id) as IntentAnswer | undefined, 10_000, `the answer to ${String(id)}`);
  }
  async ask(m: { id: string | number; op: string; task?: string; body?: unknown }): Promise<IntentAnswer> {
    this.send(m);
    return this.answer(m.id);
  }
}

/** An outcome without what differs between two intents that are not the same one (its id, batch, time). */
const sansIds = (b: any) => (b?.outcome ? { ...b, outcome: { ...b.outcome, intentId: undefined, batch: undefined, at: undefined } } : b);

async function pool(r: TestRelay, repo: string, n: number, workers: string[]): Promise<Record<string, string>> {
  const maint = await r.token('maintainer');
  const tasks = Array.from({ length: n }, (_, i) => ({ id: `${repo}#${i + 1}`, repo, title: `Task ${i + 1}`, skills: ['ts'] }));
  expect((await r.api(maint, 'PUT', `/api/repos/${repo}`, { reviewBudget: 100, dailyQuota: 1000 })).status).toBe(200);
  expect((await r.api(maint, 'POST', '/api/tasks', { tasks })).status).toBe(200);
  const tokens: Record<string, string> = { maint };
  for (const w of workers) {
    tokens[w] = await r.token('worker', w);
    expect((await r.api(tokens[w], 'POST', '/api/workers/register', { skills: ['ts'], capacity: 100, maxConcurrent: 20, maxOpenPrs: 20 })).status).toBe(200);
  }
  return tokens;
}

describe('which HTTP calls are ops (the client’s switch)', () => {
  it('POST /api/claim and POST /api/tasks/:id/<op> are, with the id decoded; nothing else is', () => {
    expect(opOfHttp('POST', '/api/claim')).toEqual({ op: 'claim' });
    expect(opOfHttp('post', `/api/tasks/${enc('octo/app#12')}/complete`)).toEqual({ op: 'complete', task: 'octo/app#12' });
    for (const [m, p] of [
      ['GET', '/api/claim'],
      ['POST', '/api/claim?x=1'],
      ['POST', `/api/tasks/${enc('a/b#1')}/explain`],
      ['POST', '/api/tasks/a/b/complete'],
      ['POST', '/api/tasks/%E0%A4%A/complete'],
      ['POST', '/api/tasks/x/constructor'],
      ['POST', '/api/workers/register'],
    ]) expect(opOfHttp(m!, p!), `${m} ${p}`).toBeUndefined();
    for (const [op, task] of [['claim', undefined], ['heartbeat', 'a/b:c#1']] as const) {
      expect(opOfHttp('POST', httpPathOf(op, task))).toEqual(task ? { op, task } : { op });
    }
  });
});

describe('the intent channel on a running relay', () => {
  let r: TestRelay;
  let t: Record<string, string>;
  beforeAll(async () => {
    r = await startTestRelay({ tickMs: 2 });
    t = await pool(r, 'pipe/app', 12, ['w1', 'w2']);
  });
  afterAll(async () => r?.close());

  it('pipelined claims and completes get the answers HTTP gives for the same intents', async () => {
    const s = await IntentSocket.connect(r.url, t.w1);
    expect(s.hello).toEqual({ type: 'hello', protocol: PROTOCOL_VERSION, maxInFlight: 64, ops: ['claim', 'heartbeat', 'release', 'submit', 'complete', 'fail', 'review', 'requeue', 'cancel'] });
    const ids = Array.from({ length: 8 }, (_, i) => `pipe-claim-${i}`);
    const claims = await Promise.all(ids.map((intentId) => s.request('claim', undefined, { intentId })));
    expect(claims.map((a) => [a.status, (a.body as any).error?.message])).toEqual(ids.map(() => [200, undefined]));
    const taskIds = claims.map((a) => (a.body as any).outcome.taskId as string);
    expect(new Set(taskIds).size).toBe(8);
    // The same intents over HTTP: the stored outcomes, the same task and lease, byte for byte.
    for (const [i, a] of claims.entries()) {
      const h = await r.api(t.w1, 'POST', '/api/claim', { intentId: ids[i] });
      expect(h.status).toBe(a.status);
      expect(h.body).toEqual(a.body);
    }
    const completes = await Promise.all(
      claims.map((a, i) => {
        const o = (a.body as any).outcome;
        return s.request('complete', o.taskId, { fencingToken: o.fencingToken, intentId: `pipe-complete-${i}` });
      }),
    );
    expect(completes.map((a) => (a.body as any).outcome.status)).toEqual(ids.map(() => 'applied'));
    for (const [i, a] of completes.entries()) {
      const o = (claims[i]!.body as any).outcome;
      const h = await r.api(t.w1, 'POST', `/api/tasks/${enc(o.taskId)}/complete`, { fencingToken: o.fencingToken, intentId: `pipe-complete-${i}` });
      expect(h.status).toBe(a.status);
      expect(h.body).toEqual(a.body);
      expect((a.body as any).runtime.state).toBe('done');
    }
    // Refusals: the same status, error and outcome as HTTP (ids and times aside).
    const first = (claims[0]!.body as any).outcome;
    const refused: [string, string | undefined, Record<string, unknown>, string][] = [
      ['complete', first.taskId, { fencingToken: first.fencingToken }, `/api/tasks/${enc(first.taskId)}/complete`],
      ['heartbeat', first.taskId, { fencingToken: first.fencingToken }, `/api/tasks/${enc(first.taskId)}/heartbeat`],
      ['claim', undefined, { taskId: 'pipe/app#404' }, '/api/claim'],
      ['claim', undefined, { task_id: 'pipe/app#1' }, '/api/claim'],
      ['claim', undefined, { workerId: 'w2' }, '/api/claim'],
      ['fail', 'pipe/app#12', { fencingToken: 1 }, `/api/tasks/${enc('pipe/app#12')}/fail`],
      ['cancel', 'pipe/app#12', {}, `/api/tasks/${enc('pipe/app#12')}/cancel`],
    ];
    const viaWs = await Promise.all(refused.map(([op, task, body]) => s.request(op as never, task, body)));
    for (const [i, [op, , body, path]] of refused.entries()) {
      const h = await r.api(t.w1, 'POST', path, body);
      expect(viaWs[i]!.status, op).toBe(h.status);
      expect(sansIds(viaWs[i]!.body), `${op} ${JSON.stringify(body)}`).toEqual(sansIds(h.body));
      expect(h.status).toBeGreaterThanOrEqual(400);
    }
    expect(viaWs.map((a) => (a.body as any).error.code)).toEqual(['lease-lost', 'lease-lost', 'unknown-task', 'invalid-field', 'not-authorized', 'invalid-intent', 'not-authorized']);
    s.close();
  });

  it('a worker never sees another worker’s outcomes: its id is refused conflict, and each socket gets only its own answers', async () => {
    const a = Raw.open(r.url, t.w1);
    const b = Raw.open(r.url, t.w2);
    await Promise.all([a.hello(), b.hello()]);
    const mine = await a.ask({ id: 1, op: 'claim', body: { intentId: 'scoped-1' } });
    expect(mine.status).toBe(200);
    const theirs = await b.ask({ id: 1, op: 'claim', body: { intentId: 'scoped-1' } });
    expect(theirs.status).toBe(409);
    expect((theirs.body as any).error.code).toBe('conflict');
    expect(JSON.stringify(theirs.body)).not.toContain((mine.body as any).outcome.taskId);
    expect(a.got).toHaveLength(2);
    expect(b.got).toHaveLength(2);
    a.ws.close();
    b.ws.close();
  });

  it('messages that cannot be read are refused with the stable codes, and the socket stays usable', async () => {
    const s = Raw.open(r.url, t.w1);
    await s.hello();
    s.send('{"id": 1, "op": ');
    expect(await s.answer(null)).toMatchObject({ status: 400, body: { error: { code: 'invalid-json' } } });
    expect(await s.ask({ id: 'x', op: 'claim', body: {}, extra: 1 } as never)).toMatchObject({ status: 400, body: { error: { code: 'invalid-field', field: 'extra' } } });
    expect(await s.ask({ id: 'y', op: 'claim-next' })).toMatchObject({ status: 400, body: { error: { code: 'invalid-field', field: 'op' } } });
    expect(await s.ask({ id: 'z', op: 'complete', body: { fencingToken: 1 } })).toMatchObject({ status: 400, body: { error: { code: 'invalid-field', field: 'task' } } });
    expect(await s.ask({ id: 'b', op: 'claim', body: [] as never })).toMatchObject({ status: 400, body: { error: { code: 'invalid-field', field: 'body' } } });
    const unknown = await s.ask({ id: 'u', op: 'claim', body: { task_id: 'pipe/app#1' } });
    expect((unknown.body as any).error.message).toBe('task_id is not a field of a claim (POST /api/claim) (did you mean taskId?); its fields are taskId, intentId, workerId.');
    s.send({ op: 'claim' });
    expect(await s.answer(null)).toMatchObject({ status: 400, body: { error: { code: 'invalid-field', field: 'id' } } });
    expect((await s.ask({ id: 'ok', op: 'heartbeat', task: 'pipe/app#1', body: { fencingToken: 99 } })).status).toBe(409);
    s.ws.close();
  });

  it('roles are HTTP’s: a viewer may open the channel but not claim (403, the router’s sentence)', async () => {
    const viewer = await r.token('viewer');
    const s = Raw.open(r.url, viewer);
    await s.hello();
    const a = await s.ask({ id: 1, op: 'claim', body: {} });
    const h = await r.api(viewer, 'POST', '/api/claim', {});
    expect(a.status).toBe(403);
    expect(a.body).toEqual(h.body);
    s.ws.close();
  });

  it('admission is HTTP’s: no or unknown token 4401, another major version 4400, a revoked token’s socket closes 4410', async () => {
    for (const token of [undefined, 'owp_not-a-token']) {
      const s = Raw.open(r.url, token);
      const c = await s.closed;
      expect(c.code).toBe(4401);
      expect(c.reason).toMatch(/^unauthorized: /);
      expect(s.got).toEqual([]);
    }
    const other = Raw.open(r.url, t.w1, { 'OWP-Protocol': '1.0' });
    expect(await other.closed).toMatchObject({ code: 4400, reason: `unsupported-protocol: this relay speaks protocol ${PROTOCOL_VERSION}, not 1.0` });
    const query = Raw.open(r.url, t.w1, {}, '?protocol=latest');
    expect((await query.closed).reason).toMatch(/^invalid-field: OWP-Protocol must be a version/);
    const minor = Raw.open(r.url, t.w1, { 'OWP-Protocol': '0.999' });
    expect((await minor.hello()).protocol).toBe(PROTOCOL_VERSION);
    minor.ws.close();

    const doomed = await r.relay.tokens.create({ role: 'worker', workerId: 'w9', name: 'w9' });
    const s = Raw.open(r.url, doomed.token);
    await s.hello();
    await r.relay.tokens.revoke(doomed.id);
    expect((await s.closed).code).toBe(4410);
    expect((await Raw.open(r.url, doomed.token).closed).code).toBe(4410);
  });
});

/** What `p` resolves to, arbitrating the held relay's queue until it does. */
async function held<T>(r: TestRelay, p: Promise<T>): Promise<T> {
  let out: { v: T } | undefined;
  void p.then((v) => (out = { v }));
  await waitFor(async () => {
    await r.relay.engine.flush();
    return out;
  }, 10_000, 'an answer from the held relay');
  return out!.v;
}

describe('the intent channel, arbitration held until the test flushes', () => {
  let r: TestRelay;
  let t: Record<string, string>;
  beforeAll(async () => {
    r = await startTestRelay({ tickMs: 3_600_000, limits: { intentsInFlight: 4 } });
    t = await pool(r, 'held/app', 10, ['h1', 'h2']);
  });
  afterAll(async () => r?.close());

  it('a socket dropped mid-intent: the intent still gets its one outcome, which its id retrieves over HTTP or a new socket', async () => {
    const s = Raw.open(r.url, t.h1);
    await s.hello();
    s.send({ id: 1, op: 'claim', body: { intentId: 'dropped-1' } });
    await waitFor(() => r.relay.engine.queued() === 1, 10_000, 'the claim to be queued');
    s.ws.terminate();
    await s.closed;
    await r.relay.engine.flush();
    expect(s.got.filter((m) => (m as IntentAnswer).type === 'answer')).toEqual([]);
    const h = await r.api(t.h1, 'POST', '/api/claim', { intentId: 'dropped-1' });
    expect(h.status).toBe(200);
    expect(h.body.outcome).toMatchObject({ intentId: 'dropped-1', status: 'granted', workerId: 'h1' });
    const again = Raw.open(r.url, t.h1);
    await again.hello();
    const viaWs = await again.ask({ id: 2, op: 'claim', body: { intentId: 'dropped-1' } });
    expect(viaWs.body).toEqual(h.body);
    // One grant, not two.
    const leases = (await r.api(t.maint, 'GET', '/api/status')).body.leases as { workerId: string }[];
    expect(leases.filter((l) => l.workerId === 'h1')).toHaveLength(1);
    again.ws.close();
  });

  it('past the in-flight cap a message is refused 429 at once and never reaches the engine; the client queues instead of crossing it', async () => {
    const s = Raw.open(r.url, t.h2);
    expect((await s.hello()).maxInFlight).toBe(4);
    const before = r.relay.engine.queued();
    for (let i = 1; i <= 4; i++) s.send({ id: i, op: 'claim', body: { intentId: `cap-${i}` } });
    await waitFor(() => r.relay.engine.queued() === before + 4, 10_000, 'four claims queued');
    const over = await s.ask({ id: 5, op: 'claim', body: { intentId: 'cap-5' } });
    expect(over).toEqual({ type: 'answer', id: 5, status: 429, body: { error: { code: 'rate-limited', message: "This socket has 4 intents in flight (the hello's maxInFlight); wait for answers before sending more." } } });
    expect(r.relay.engine.queued()).toBe(before + 4);
    await r.relay.engine.flush();
    const answers = await Promise.all([1, 2, 3, 4].map((i) => s.answer(i)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    // cap-5 never ran: sent now, it is a fresh claim (granted once arbitrated).
    expect((await held(r, r.api(t.h2, 'POST', '/api/claim', { intentId: 'cap-5' }))).status).toBe(200);
    s.ws.close();

    // The client holds back what the cap would refuse.
    const c = await IntentSocket.connect(r.url, t.h2);
    const base = r.relay.engine.queued();
    const pending = Array.from({ length: 6 }, (_, i) => c.request('heartbeat', 'held/app#404', { fencingToken: i + 1 }));
    await waitFor(() => r.relay.engine.queued() === base + 4, 10_000, 'four heartbeats queued');
    expect(c.inFlight).toBe(4);
    await r.relay.engine.flush();
    await waitFor(() => r.relay.engine.queued() === base + 2, 10_000, 'the other two sent');
    await r.relay.engine.flush();
    expect((await Promise.all(pending)).map((a) => a.status)).toEqual([404, 404, 404, 404, 404, 404]);
    c.close();
  });
});

describe('the intent channel shares the token’s HTTP request budget', () => {
  it('a token that spent its budget over HTTP gets 429 with retryAfter on the channel, and the intent is not carried out', async () => {
    const r = await startTestRelay({ rateLimit: { ratePerSec: 0.01, burst: 2 } });
    try {
      const w = await r.token('worker', 'rl1');
      expect((await r.api(w, 'POST', '/api/workers/register', { skills: ['ts'] })).status).toBe(200);
      expect((await r.api(w, 'GET', '/api/me')).status).toBe(200);
      expect((await r.api(w, 'GET', '/api/me')).status).toBe(429);
      const s = Raw.open(r.url, w);
      await s.hello();
      const a = await s.ask({ id: 1, op: 'claim', body: { intentId: 'rl-1' } });
      expect(a).toMatchObject({ status: 429, body: { error: { code: 'rate-limited' } } });
      expect(a.retryAfter).toBeGreaterThanOrEqual(1);
      expect(r.relay.engine.ledger().outcomes['rl-1']).toBeUndefined();
      s.ws.close();
    } finally {
      await r.close();
    }
  });
});

describe('the CLI client falls back to HTTP', () => {
  let plain: Server;
  let url: string;
  beforeAll(async () => {
    // A relay of before the channel: HTTP only, upgrades are cut.
    plain = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ outcome: { status: 'granted', via: 'http', path: req.url } }));
    });
    plain.on('upgrade', (_req, socket) => socket.destroy());
    await new Promise<void>((ok) => plain.listen(0, '127.0.0.1', ok));
    url = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
  });
  afterAll(async () => new Promise<void>((ok) => plain.close(() => ok())));

  it('when the relay does not offer the channel, the intent goes over HTTP and the channel is not retried at once', async () => {
    const sw = new ChannelSwitch(url, 'owp_x');
    expect(await sw.send('POST', '/api/claim', {})).toBeUndefined();
    expect(sw.lastFailure).toMatch(/cannot open/);
    const c = new RelayClient({ url, token: 'owp_x', intents: true });
    const a = await c.post<{ outcome: { via: string; path: string } }>(`/api/tasks/${enc('a/b#1')}/complete`, { fencingToken: 1 });
    expect(a.outcome).toMatchObject({ via: 'http', path: `/api/tasks/${enc('a/b#1')}/complete` });
    c.close();
  });

  it('a socket that drops mid-intent is resent over HTTP under the same intentId: one grant, its outcome', async () => {
    const r = await startTestRelay({ tickMs: 3_600_000 });
    // A TCP proxy in front of the relay, whose connections the test cuts (a proxy restart).
    const conns = new Set<Socket>();
    const proxy = createNetServer((client) => {
      const up = connect((r.relay as { port: number }).port, '127.0.0.1');
      conns.add(client);
      client.pipe(up).pipe(client);
      const cut = () => (client.destroy(), up.destroy(), conns.delete(client));
      client.on('error', cut).on('close', cut);
      up.on('error', cut).on('close', cut);
    });
    await new Promise<void>((ok) => proxy.listen(0, '127.0.0.1', ok));
    try {
      const tk = await pool(r, 'drop/app', 2, ['d1']);
      const c = new RelayClient({ url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, token: tk.d1, intents: true });
      const body: Record<string, unknown> = {};
      let settled: { outcome: { intentId: string; status: string } } | undefined;
      const answer = c.post<{ outcome: { intentId: string; status: string } }>('/api/claim', body).then((a) => (settled = a));
      await waitFor(() => r.relay.engine.queued() === 1, 10_000, 'the claim queued over the channel');
      expect(typeof body.intentId).toBe('string');
      for (const s of conns) s.destroy();
      await waitFor(async () => {
        await r.relay.engine.flush();
        return settled;
      }, 10_000, 'the claim answered over HTTP');
      await answer;
      expect(settled!.outcome).toMatchObject({ intentId: body.intentId, status: 'granted', workerId: 'd1' });
      const leases = (await r.api(tk.maint, 'GET', '/api/status')).body.leases as { workerId: string }[];
      expect(leases.filter((l) => l.workerId === 'd1')).toHaveLength(1);
      c.close();
    } finally {
      for (const s of conns) s.destroy();
      await new Promise<void>((ok) => proxy.close(() => ok()));
      await r.close();
    }
  });
});

describe('owp worker run', () => {
  let r: TestRelay;
  let home: string;
  beforeAll(async () => {
    r = await startTestRelay();
    home = mkdtempSync(join(tmpdir(), 'owp-intents-cli-'));
  });
  afterAll(async () => {
    await r?.close();
    rmSync(home, { recursive: true, force: true });
  });

  /** Channel messages the relay answered, by route and status (its metrics). */
  const wsAnswers = async (): Promise<Record<string, number>> => {
    const text = (await r.api(r.adminToken, 'GET', '/metrics')).body as string;
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^owp_http_requests_total\{method="WS",route="([^"]+)",status="(\d+)"\} (\d+)$/gm)) out[`${m[1]} ${m[2]}`] = Number(m[3]);
    return out;
  };

  it('claims and submits over the intent channel by default, over HTTP with --transport http', async () => {
    const maint = await r.token('maintainer');
    await r.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks: [1, 2].map((n) => ({ id: `cli/app#${n}`, repo: 'cli/app', title: `Task ${n}`, skills: ['ts'] })) });
    const node = JSON.stringify(process.execPath);
    const run = async (n: number, extra: string[]) => {
      const o = { url: r.url, token: await r.token('worker', `cli${n}`), home: join(home, `h${n}`) };
      const tool = `${node} -e "console.log('PR: https://github.com/cli/app/pull/${n}')"`;
      return owp(['worker', 'run', '--skills', 'ts', '--once', '--workdir', join(home, `w${n}`), '--no-workspace', '--exec', tool, ...extra], o);
    };
    const first = await run(1, []);
    expect(first.code, first.stderr).toBe(0);
    expect(await wsAnswers()).toMatchObject({ '/api/claim 200': 1, '/api/tasks/:id/submit 200': 1 });
    const second = await run(2, ['--transport', 'http']);
    expect(second.code, second.stderr).toBe(0);
    expect(await wsAnswers()).toMatchObject({ '/api/claim 200': 1, '/api/tasks/:id/submit 200': 1 });
    expect((await r.api(maint, 'GET', `/api/tasks/${enc('cli/app#2')}`)).body.runtime.state).toBe('pr_open');
    const bad = await run(3, ['--transport', 'ws']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--transport must be auto or http');
  });
});
