/**
 * The relay's edges against a real relay: ids that plain JavaScript objects already answer
 * to, brute force with bad tokens, caps on streams and sockets. Every refusal is a stable
 * code and a sentence, never a 500 or a crash.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../server/ratelimit/index.js';
import { startTestRelay, waitFor, type TestRelay } from '../../helpers/relay.js';

describe('reserved object keys as ids', () => {
  let r: TestRelay;
  beforeAll(async () => {
    r = await startTestRelay({ tickMs: 2 });
  });
  afterAll(async () => r?.close());

  it('a task that does not exist is 404 even when its id is an Object.prototype name', async () => {
    for (const id of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const res = await r.api(r.adminToken, 'GET', `/api/tasks/${encodeURIComponent(id)}`);
      expect(res.status, id).toBe(404);
      expect(res.body.error.code).toBe('unknown-task');
    }
  });

  it('refuses __proto__ and constructor as task ids instead of silently dropping them', async () => {
    for (const id of ['__proto__', 'constructor', 'valueOf']) {
      const res = await r.api(r.adminToken, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id, repo: 'a/b', title: 'x' }] });
      expect(res.status, id).toBe(400);
      expect(res.body.error.code).toBe('invalid-field');
      expect(res.body.error.message).toMatch(/reserve/);
    }
    const list = await r.api(r.adminToken, 'GET', '/api/tasks');
    expect(list.body.tasks).toEqual([]);
  });

  it('refuses reserved names as worker ids (tokens, trust, admin acting for a worker)', async () => {
    const tok = await r.api(r.adminToken, 'POST', '/api/tokens', { role: 'worker', workerId: 'constructor' });
    expect(tok.status).toBe(400);
    expect(tok.body.error.code).toBe('invalid-field');
    const trust = await r.api(r.adminToken, 'PUT', '/api/trust/toString', { tier: 2 });
    expect(trust.status).toBe(400);
    expect(trust.body.error.code).toBe('invalid-field');
    const claim = await r.api(r.adminToken, 'POST', '/api/claim', { workerId: 'valueOf' });
    expect(claim.status).toBe(403);
  });
});

describe('brake on guessing tokens, caps on streams and sockets', () => {
  let r: TestRelay;
  beforeAll(async () => {
    // A bucket that does not refill within a test: no timing in the assertions.
    r = await startTestRelay({ authFailureLimit: { ratePerSec: 0.0001, burst: 5 } });
  });
  afterAll(async () => r?.close());

  it('refused tokens are braked per address: then 429 for every token, on HTTP, SSE and sockets', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 7; i++) codes.push((await r.api(`owp_guess_${i}`, 'GET', '/api/me')).status);
    expect(codes.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(codes.slice(5)).toEqual([429, 429]);
    // The right token does not get through either: a guesser learns nothing from a hit.
    const good = await r.api(r.adminToken, 'GET', '/api/me');
    expect(good.status).toBe(429);
    expect(good.body.error.code).toBe('rate-limited');
    expect(Number(good.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const sse = await fetch(`${r.url}/api/events`, { headers: { authorization: 'Bearer owp_guess_x' } });
    expect(sse.status).toBe(429);
    expect(((await sse.json()) as { error: { code: string } }).error.code).toBe('rate-limited');
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(`${r.wsUrl}/owp/board?token=owp_guess_y`);
    const [code, reason] = await new Promise<[number, string]>((res) => ws.on('close', (c, why) => res([c, String(why)])));
    expect(code).toBe(4429);
    expect(reason).toMatch(/^rate-limited: /);
    // Health stays open (no token).
    expect((await r.api(undefined, 'GET', '/healthz')).status).toBe(200);
  });
});

describe('caps per token', () => {
  let r: TestRelay;
  beforeAll(async () => {
    r = await startTestRelay({ limits: { ssePerToken: 2, socketsPerToken: 2 } });
  });
  afterAll(async () => r?.close());

  it('a token holds at most ssePerToken event streams; closing one frees a place', async () => {
    const viewer = await r.token('viewer');
    const open = () => {
      const ac = new AbortController();
      return fetch(`${r.url}/api/events`, { headers: { authorization: `Bearer ${viewer}` }, signal: ac.signal }).then((res) => ({ res, ac }));
    };
    const a = await open();
    const b = await open();
    expect([a.res.status, b.res.status]).toEqual([200, 200]);
    const c = await open();
    expect(c.res.status).toBe(429);
    expect(((await c.res.json()) as { error: { code: string } }).error.code).toBe('rate-limited');
    a.ac.abort();
    const d = await waitFor(async () => {
      const x = await open();
      if (x.res.status === 200) return x;
      await x.res.body?.cancel();
      return undefined;
    }, 10_000, 'a freed event stream place');
    expect(d.res.status).toBe(200);
    b.ac.abort();
    d.ac.abort();
  });

  it('a token holds at most socketsPerToken sockets; one more closes with 4429', async () => {
    const { default: WebSocket } = await import('ws');
    const viewer = await r.token('viewer');
    const connect = () => new WebSocket(`${r.wsUrl}/owp/board?token=${viewer}`);
    const opened = [connect(), connect()];
    await Promise.all(opened.map((ws) => new Promise((res) => ws.on('message', res))));
    const third = connect();
    const [code, reason] = await new Promise<[number, string]>((res) => third.on('close', (c, why) => res([c, String(why)])));
    expect(code).toBe(4429);
    expect(reason).toMatch(/^rate-limited: /);
    for (const ws of opened) ws.close();
  });
});

describe('RateLimiter memory', () => {
  it('holds at most maxKeys buckets however many keys call', () => {
    let t = 0;
    const rl = new RateLimiter({ ratePerSec: 1, burst: 1, maxKeys: 100 }, () => t);
    for (let i = 0; i < 1000; i++) rl.take(`a:${i}`);
    expect(rl.size).toBeLessThanOrEqual(100);
    // A key still held keeps its state: an empty bucket waits.
    rl.take('k');
    expect(rl.take('k')).toBeGreaterThan(0);
    t += 1000;
    expect(rl.take('k')).toBe(0);
  });
});

describe('request bodies', () => {
  let r: TestRelay;
  beforeAll(async () => {
    r = await startTestRelay();
  });
  afterAll(async () => r?.close());

  it('a body that is not valid UTF-8 is refused, not stored with replacement characters', async () => {
    const prefix = Buffer.from('{"tasks":[{"id":"u1","repo":"a/b","title":"caf');
    const body = Buffer.concat([prefix, Buffer.from([0xe9]), Buffer.from('"}]}')]); // Latin-1 é
    const res = await fetch(`${r.url}/api/tasks`, { method: 'POST', headers: { authorization: `Bearer ${r.adminToken}`, 'content-type': 'application/json' }, body });
    expect(res.status).toBe(400);
    const err = ((await res.json()) as { error: { code: string; message: string } }).error;
    expect(err.code).toBe('invalid-json');
    expect(err.message).toMatch(/UTF-8/);
    expect((await r.api(r.adminToken, 'GET', '/api/tasks/u1')).status).toBe(404);
    // Valid UTF-8 (with a BOM-free é) goes through.
    const ok = await r.api(r.adminToken, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id: 'u1', repo: 'a/b', title: 'café' }] });
    expect(ok.status).toBe(200);
  });
});

describe('event stream replay buffer', () => {
  let r: TestRelay;
  beforeAll(async () => {
    r = await startTestRelay({ limits: { sseBufferBytes: 64 * 1024 } });
  });
  afterAll(async () => r?.close());

  /** Open a stream, read until `until` matches the text so far, then close it. */
  async function readStream(headers: Record<string, string>, until: RegExp): Promise<string> {
    const ac = new AbortController();
    const res = await fetch(`${r.url}/api/events`, { headers: { authorization: `Bearer ${r.adminToken}`, ...headers }, signal: ac.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let text = '';
    while (!until.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value, { stream: true });
    }
    ac.abort();
    return text;
  }

  it('holds at most sseBufferBytes of deltas: a resume from a dropped id gets a fresh snapshot', async () => {
    const first = await readStream({}, /event: snapshot[\s\S]*\n\n/);
    const startId = /id: (\S+)\nevent: snapshot/.exec(first)![1];
    const up = (i: number) => r.api(r.adminToken, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id: `big-${i}`, repo: 'a/b', title: 't', body: 'x'.repeat(30_000) }] });
    expect((await up(1)).status).toBe(200);
    // Just after one delta, the resume replays it (no snapshot).
    const resumed = await readStream({ 'last-event-id': startId }, /event: board[\s\S]*\n\n/);
    expect(resumed).not.toMatch(/event: snapshot/);
    for (let i = 2; i <= 6; i++) expect((await up(i)).status).toBe(200);
    // 6 x 30 KB is over the 64 KiB cap: the first delta was dropped, so a snapshot comes instead.
    const late = await readStream({ 'last-event-id': startId }, /event: (snapshot|board)[\s\S]*?\n\n/);
    expect(late).toMatch(/event: snapshot/);
    expect(late).toMatch(/big-6/);
  });
});

describe('ids and text the model must refuse', () => {
  let r: TestRelay;
  let w: string;
  beforeAll(async () => {
    r = await startTestRelay({ tickMs: 2 });
    w = await r.token('worker', 'w1');
    await r.api(w, 'POST', '/api/workers/register', { skills: [], capacity: 5, maxConcurrent: 3 });
    await r.api(r.adminToken, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id: 't1', repo: 'a/b', title: 'x' }] });
  });
  afterAll(async () => r?.close());

  const post = (token: string, path: string, json: string) =>
    fetch(`${r.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: json }).then(async (res) => ({
      status: res.status,
      body: (await res.json()) as { error?: { code: string; message: string }; outcome?: { status: string } },
    }));

  it('a lone surrogate in a task id or title is refused, and the engine keeps answering', async () => {
    const a = await post(r.adminToken, '/api/tasks', '{"createRepo":true,"tasks":[{"id":"bad\\ud800","repo":"a/b","title":"x"}]}');
    expect(a.status).toBe(400);
    expect(a.body.error!.message).toMatch(/lone surrogate/);
    const b = await post(r.adminToken, '/api/tasks', '{"createRepo":true,"tasks":[{"id":"ok2","repo":"a/b","title":"x\\udfff"}]}');
    expect(b.status).toBe(400);
    // A well-formed pair (an emoji) is fine.
    const c = await post(r.adminToken, '/api/tasks', '{"createRepo":true,"tasks":[{"id":"emoji-\\ud83d\\ude00","repo":"a/b","title":"\\ud83d\\ude00"}]}');
    expect(c.status).toBe(200);
    const claim = await r.api(w, 'POST', '/api/claim', { taskId: 't1' });
    expect(claim.status).toBe(200);
    expect(claim.body.outcome.status).toBe('granted');
  });

  it('an intent id that plain objects answer to is refused, not answered from Object.prototype', async () => {
    for (const id of ['constructor', 'toString', '__proto__']) {
      const res = await r.api(w, 'POST', '/api/claim', { intentId: id });
      expect(res.status, id).toBe(400);
      expect(res.body.error.code).toBe('invalid-intent');
    }
  });
});

describe('slow requests', () => {
  let r: TestRelay;
  beforeAll(async () => {
    r = await startTestRelay({ limits: { requestTimeoutMs: 300 } });
  });
  afterAll(async () => r?.close());

  it('a body that never finishes arriving gets 408 and the socket is closed', async () => {
    const { connect } = await import('node:net');
    const u = new URL(r.url);
    const sock = connect(Number(u.port), u.hostname);
    let got = '';
    let ended = false;
    sock.on('data', (d) => (got += String(d)));
    sock.on('close', () => (ended = true));
    sock.on('error', () => undefined);
    await new Promise((res) => sock.on('connect', res));
    sock.write(`POST /api/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${r.adminToken}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"tasks":`);
    await waitFor(() => ended, 20_000, 'the relay to close the trickling socket');
    expect(got).toMatch(/^HTTP\/1\.1 408/);
    expect((await r.api(undefined, 'GET', '/healthz')).status).toBe(200);
  });
});

describe('kept-alive connections', () => {
  it('are kept 65 s by default and as long as limits.keepAlive says, and the relay tells clients so', async () => {
    const { request } = await import('node:http');
    const keepAliveOf = (url: string) =>
      new Promise<string | undefined>((resolve, reject) => {
        const req = request(`${url}/healthz`, { agent: false, headers: { connection: 'keep-alive' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.headers['keep-alive'] as string | undefined));
        });
        req.on('error', reject);
        req.end();
      });
    const byDefault = await startTestRelay();
    const set = await startTestRelay({ limits: { keepAliveMs: 90_000 } });
    try {
      // A client (or a proxy with a 60 s idle timeout) must never reuse a connection the relay
      // is closing: Node's 5 s default reset requests of clients whose event loop ran late.
      expect(await keepAliveOf(byDefault.url)).toBe('timeout=65');
      expect(await keepAliveOf(set.url)).toBe('timeout=90');
    } finally {
      await byDefault.close();
      await set.close();
    }
  });
});
