/**
 * The relay's logs (server/log, the access log, socket lines) against a real relay whose
 * logger writes into memory: every request leaves one line with its route pattern, status
 * and code; refused tokens and sockets are logged with their codes; and no line ever holds
 * a token that was used, whether sent as a header or as `?token=`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { censorSecrets, createLogger, parseLogFormat, parseLogLevel, scrub, REDACTED } from '../../server/log/index.js';
import { openSse } from '../helpers/sse.js';
import { startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';

/** A destination that keeps every line. */
function capture(isTTY = false) {
  const lines: string[] = [];
  return { lines, isTTY, write: (line: string) => void lines.push(line) };
}

const enc = encodeURIComponent;

/** Opens a socket; resolves once the relay sends a first message (admitted) or closes it (refused, with the code). */
function connect(url: string): Promise<{ ws: WebSocket; opened: boolean; code?: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.once('message', () => resolve({ ws, opened: true }));
    ws.once('close', (code) => resolve({ ws, opened: false, code }));
    ws.once('error', () => undefined);
  });
}

describe('relay logs', () => {
  // An operator-chosen admin token with no `owp_` shape: only structure keeps it out of the logs.
  const adminToken = 'Admin-Chosen-Secret-4a7f19c2e88d';
  // Bad tokens of both shapes: one that looks like a relay token, one that does not.
  const badTokens = ['owp_thisTokenWasNeverIssuedByAnyRelay0000000', 'plain-guess-9f8e7d6c5b4a'];
  const out = capture();
  let r: TestRelay;
  let worker: string;
  let maint: string;
  let revoked: string;

  beforeAll(async () => {
    r = await startTestRelay({ adminToken, tickMs: 2, log: createLogger({ level: 'debug', destination: out }) });
    worker = await r.token('worker', 'w1');
    maint = await r.token('maintainer');
    const gone = await r.relay.tokens.create({ role: 'viewer', name: 'gone' });
    await r.relay.tokens.revoke(gone.id);
    revoked = gone.token;
  });
  afterAll(async () => r?.close());

  const parsed = () => out.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const requests = () => parsed().filter((l) => l.msg === 'request');

  it('writes one JSON access line per request, with the route pattern, status, role and code', async () => {
    expect((await r.api(maint, 'PUT', '/api/repos/o/r', { reviewBudget: 2 })).status).toBe(200);
    expect((await r.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id: 'o/r#1', repo: 'o/r', title: 'One', skills: ['ts'], points: 1 }] })).status).toBe(200);
    expect((await r.api(worker, 'POST', '/api/workers/register', { skills: ['ts'], capacity: 3, maxConcurrent: 1 })).status).toBe(200);
    const claim = await r.api(worker, 'POST', '/api/claim', { taskId: 'o/r#1', intentId: 'log-claim-1' });
    expect(claim.status).toBe(200);
    const hb = await r.api(worker, 'POST', `/api/tasks/${enc('o/r#1')}/heartbeat`, { fencingToken: claim.body.outcome.fencingToken });
    expect(hb.status).toBe(200);
    expect((await r.api(worker, 'POST', `/api/tasks/${enc('o/r#1')}/complete`, { fencingToken: 99 })).status).toBe(409);

    const lines = await waitFor(() => {
      const got = requests();
      return got.some((l) => l.status === 409) ? got : undefined;
    });
    const claimLine = lines.find((l) => l.route === '/api/claim');
    expect(claimLine).toMatchObject({ level: 'info', method: 'POST', status: 200, role: 'worker', ip: '127.0.0.1' });
    expect(typeof claimLine!.ms).toBe('number');
    expect(typeof claimLine!.time).toBe('string');
    // The pattern, not the task id; a refused outcome carries its stable code.
    expect(lines.find((l) => l.status === 409)).toMatchObject({ route: '/api/tasks/:id/complete', role: 'worker', code: 'lease-lost' });
    expect(lines.some((l) => JSON.stringify(l).includes('o/r#1') || JSON.stringify(l).includes(enc('o/r#1')))).toBe(false);
  });

  it('logs every refused token with its code, and never a token', async () => {
    for (const bad of badTokens) {
      expect((await r.api(bad, 'GET', '/api/status')).status).toBe(401);
      expect((await fetch(`${r.url}/api/me?token=${enc(bad)}`)).status).toBe(401);
    }
    expect((await r.api(revoked, 'GET', '/api/me')).status).toBe(401);
    expect((await fetch(`${r.url}/api/status?token=${enc(adminToken)}`)).status).toBe(200);
    expect((await r.api(adminToken, 'GET', '/api/tokens')).status).toBe(200);
    expect((await fetch(`${r.url}/no/such/path?token=${enc(worker)}`)).status).toBe(404);
    const sse = await openSse(`${r.url}/api/events?token=${enc(worker)}`);
    expect(sse.status).toBe(200);
    sse.close();
    expect((await openSse(`${r.url}/api/events?token=${enc(badTokens[0])}`)).status).toBe(401);

    const lines = await waitFor(() => {
      const got = requests();
      return got.filter((l) => l.route === '/api/events').length >= 2 ? got : undefined;
    });
    const refused = lines.filter((l) => l.status === 401);
    expect(refused.length).toBe(badTokens.length * 2 + 2);
    for (const l of refused) expect(l.level).toBe('warn');
    expect(refused.filter((l) => l.code === 'unauthorized').length).toBe(badTokens.length * 2 + 1);
    expect(refused.filter((l) => l.code === 'token-revoked').length).toBe(1);
    const notFound = lines.find((l) => l.status === 404)!;
    expect(notFound).toMatchObject({ route: null, path: '/no/such/path', code: 'not-found' });
  });

  it('logs socket connections and refusals with their codes', async () => {
    const ok = await connect(`${r.wsUrl}/owp/board?token=${enc(worker)}`);
    expect(ok.opened).toBe(true);
    ok.ws.close();
    const bad = await connect(`${r.wsUrl}/owp/board?token=${enc(badTokens[1])}`);
    expect(bad.code).toBe(4401);
    const gone = await connect(`${r.wsUrl}/owp/ledger?token=${enc(revoked)}`);
    expect(gone.code).toBe(4410);
    const lines = await waitFor(() => {
      const got = parsed();
      return got.filter((l) => l.msg === 'socket refused').length >= 2 && got.some((l) => l.msg === 'socket closed') ? got : undefined;
    });
    expect(lines.find((l) => l.msg === 'socket open')).toMatchObject({ level: 'info', doc: 'owp/board', role: 'worker', ip: '127.0.0.1' });
    const refusals = lines.filter((l) => l.msg === 'socket refused');
    expect(refusals.map((l) => [l.level, l.close, l.code])).toEqual([
      ['warn', 4401, 'unauthorized'],
      ['warn', 4410, 'token-revoked'],
    ]);
  });

  it('no line holds any token used (raw or percent-encoded)', () => {
    const used = [adminToken, worker, maint, revoked, ...badTokens];
    expect(out.lines.length).toBeGreaterThan(15);
    for (const line of out.lines) {
      for (const t of used) {
        expect(line.includes(t), `a log line holds a token: ${line}`).toBe(false);
        expect(line.includes(enc(t))).toBe(false);
      }
    }
  });
});

describe('createLogger', () => {
  it('censors secret fields and scrubs token shapes and configured secrets from every line', () => {
    const out = capture();
    const log = createLogger({ destination: out, secrets: ['hunter2-but-longer'] });
    log.addSecret('short');
    log.info('called with owp_AbCdEfGhIjKlMnOpQrStUvWxYz012345 and ghp_abcdefghijklmnopqrstuvwxyz0123', {
      authorization: 'Bearer abc',
      headers: { authorization: 'Bearer def', cookie: 'c=1' },
      nested: { deeper: { token: 'xyz' }, secret: 'shh' },
      note: 'the webhook secret is hunter2-but-longer',
      key: '-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----',
      short: 'short',
    });
    const line = JSON.parse(out.lines[0]) as Record<string, any>;
    expect(line.msg).toBe(`called with ${REDACTED} and ${REDACTED}`);
    expect(line.authorization).toBe(REDACTED);
    expect(line.headers).toEqual({ authorization: REDACTED, cookie: REDACTED });
    expect(line.nested).toEqual({ deeper: { token: REDACTED }, secret: REDACTED });
    expect(line.note).toBe(`the webhook secret is ${REDACTED}`);
    expect(line.key).toBe(REDACTED);
    // Secrets shorter than 8 characters are not registered (they would censor ordinary words).
    expect(line.short).toBe('short');
  });

  it('censors a copy: the caller keeps its object, arrays are walked, an object without secrets is passed as it is', () => {
    const fields = { method: 'POST', headers: { token: 't1', accept: 'x' }, list: [{ password: 'p' }, 'plain'] };
    const out = censorSecrets(fields);
    expect(out).toEqual({ method: 'POST', headers: { token: REDACTED, accept: 'x' }, list: [{ password: REDACTED }, 'plain'] });
    expect(fields.headers.token).toBe('t1');
    expect(fields.list[0]).toEqual({ password: 'p' });
    const clean = { method: 'GET', route: '/api/claim', status: 200, ms: 1.2 };
    expect(censorSecrets(clean)).toBe(clean);
  });

  it('writes JSON lines when the output is not a terminal and readable lines when it is', () => {
    const json = capture(false);
    createLogger({ destination: json }).warn('hello', { n: 1 });
    expect(JSON.parse(json.lines[0])).toMatchObject({ level: 'warn', msg: 'hello', n: 1 });
    const tty = capture(true);
    createLogger({ destination: tty }).warn('hello', { n: 1 });
    expect(tty.lines[0]).toMatch(/WARN.*hello/);
    expect(() => JSON.parse(tty.lines[0])).toThrow();
    const forced = capture(true);
    createLogger({ destination: forced, format: 'json' }).info('x');
    expect(JSON.parse(forced.lines[0])).toMatchObject({ msg: 'x' });
  });

  it('honours the level and refuses unknown levels and formats with a sentence', () => {
    const out = capture();
    const log = createLogger({ destination: out, level: 'warn' });
    log.info('dropped');
    log.debug('dropped');
    log.error('kept');
    expect(out.lines.map((l) => JSON.parse(l).msg)).toEqual(['kept']);
    expect(parseLogLevel(undefined)).toBe('info');
    expect(parseLogLevel(' DEBUG ')).toBe('debug');
    expect(() => parseLogLevel('verbose')).toThrow(/OWP_LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent/);
    expect(parseLogFormat('')).toBe('auto');
    expect(() => parseLogFormat('xml')).toThrow(/OWP_LOG_FORMAT must be one of auto, json, pretty/);
  });

  it('scrub leaves ordinary text alone', () => {
    expect(scrub('GET /api/claim 200 owp/board owp_short')).toBe('GET /api/claim 200 owp/board owp_short');
  });
});
