import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RefusedError } from '../../server/cli/args.js';
import { RelayClient, ensureAccepted } from '../../server/cli/client.js';
import { PROTOCOL_VERSION } from '../../shared/protocol.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

async function refusal(p: Promise<unknown>): Promise<RefusedError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RefusedError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('RelayClient', () => {
  it('sends the token only as a bearer header, names its protocol version, and maps { error } answers to their code', async () => {
    let seen: { auth?: string; url?: string; protocol?: string | string[] } = {};
    const url = await serve((req, res) => {
      seen = { auth: req.headers.authorization, url: req.url, protocol: req.headers['owp-protocol'] };
      res.writeHead(409, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'capacity-exceeded', message: 'too much' } }));
    });
    const e = await refusal(new RelayClient({ url, token: 'owp_secret' }).post('/api/claim', {}));
    expect(e).toMatchObject({ code: 'capacity-exceeded', message: 'too much', status: 409 });
    expect(seen.auth).toBe('Bearer owp_secret');
    expect(seen.url).toBe('/api/claim');
    expect(seen.protocol).toBe(PROTOCOL_VERSION);
  });

  it('drops a code the relay repeats at the start of its message', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'unauthorized', message: 'unauthorized: this token is not known to the relay' } }));
    });
    const e = await refusal(new RelayClient({ url, token: 't' }).get('/api/me'));
    expect(e).toMatchObject({ code: 'unauthorized', message: 'This token is not known to the relay', status: 401 });
  });

  it('retries a 429 after Retry-After, then succeeds', async () => {
    let calls = 0;
    const url = await serve((_req, res) => {
      calls++;
      if (calls < 3) {
        res.writeHead(429, { 'retry-after': '2', 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'rate-limited', message: 'slow down' } }));
      } else res.end(JSON.stringify({ ok: true }));
    });
    const waits: number[] = [];
    const c = new RelayClient({ url, token: 't', sleep: async (ms) => void waits.push(ms) });
    expect(await c.get('/x')).toEqual({ ok: true });
    expect(waits).toEqual([2000, 2000]);
  });

  it('a relay that never answers is upstream-error after the timeout; a non-JSON answer too', async () => {
    const url = await serve(() => {
      /* never answers */
    });
    const e = await refusal(new RelayClient({ url, token: 't' }).request('GET', '/api/tasks', undefined, 200));
    expect(e.code).toBe('upstream-error');
    expect(e.message).toContain('did not answer GET /api/tasks');
    const html = await serve((_req, res) => res.end('<html>proxy</html>'));
    expect((await refusal(new RelayClient({ url: html, token: 't' }).get('/api/me'))).code).toBe('upstream-error');
  });

  it('a rejected outcome inside a 200 answer is still a refusal', () => {
    expect(() => ensureAccepted({ outcome: { status: 'rejected', code: 'lease-lost', message: 'stale' } })).toThrow(RefusedError);
    expect(ensureAccepted({ outcome: { status: 'applied' } })).toEqual({ outcome: { status: 'applied' } });
  });
});
