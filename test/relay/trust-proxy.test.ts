/**
 * OWP_TRUST_PROXY against real relays: two clients behind one "proxy" (both connect from
 * 127.0.0.1 with different X-Forwarded-For) get separate brakes and rate limits when the
 * proxy is trusted, and share the socket address's when it is not; a forged header from an
 * untrusted peer is ignored. The clock is frozen, so no bucket refills during a test.
 */
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parse as parseYaml } from 'yaml';
import { parseTrustProxy } from '../../server/http/client-address.js';
import { createLogger } from '../../server/log/index.js';
import { parseServeArgs } from '../../server/main.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

const A = '203.0.113.10';
const B = '198.51.100.20';
const BAD = 'owp_neverIssuedTokenForTheBrakeTest000000000';

const relays: TestRelay[] = [];
afterEach(async () => {
  for (const r of relays.splice(0)) await r.close();
});

async function relay(trustProxy: string | undefined, lines: string[] = []): Promise<TestRelay> {
  const clock = Date.parse('2026-03-02T10:00:00Z');
  const r = await startTestRelay({
    trustProxy,
    now: () => clock,
    authFailureLimit: { ratePerSec: 1, burst: 2 },
    rateLimit: { ratePerSec: 1, burst: 4 },
    log: createLogger({ destination: { write: (l: string) => void lines.push(l) } }),
  });
  relays.push(r);
  return r;
}

/** A request as the proxy would pass it on: from 127.0.0.1, naming the client in X-Forwarded-For. */
async function via(r: TestRelay, client: string, path: string, token?: string): Promise<{ status: number; code?: string }> {
  const headers: Record<string, string> = { 'x-forwarded-for': client };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(r.url + path, { headers });
  const body = (await res.json()) as { error?: { code: string } };
  return { status: res.status, code: body.error?.code };
}

/** A socket through the proxy: resolves 'open' once the relay sends a first message, else the close code. */
function socketVia(r: TestRelay, client: string, token: string): Promise<number | 'open'> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${r.wsUrl}/owp/board?token=${encodeURIComponent(token)}`, { headers: { 'x-forwarded-for': client } });
    ws.once('message', () => (resolve('open'), ws.close()));
    ws.once('close', (code) => resolve(code));
    ws.once('error', () => undefined);
  });
}

describe('OWP_TRUST_PROXY', () => {
  it('trusted: each forwarded client has its own refused-token brake, rate limit and log address', async () => {
    const lines: string[] = [];
    const r = await relay('1', lines);
    const good = await r.token('viewer');
    // Client A spends its two refused tokens; the third try is braked, even with a good token.
    expect(await via(r, A, '/api/me', BAD)).toEqual({ status: 401, code: 'unauthorized' });
    expect(await via(r, A, '/api/me', BAD)).toEqual({ status: 401, code: 'unauthorized' });
    expect(await via(r, A, '/api/me', BAD)).toEqual({ status: 429, code: 'rate-limited' });
    expect(await via(r, A, '/api/me', good)).toEqual({ status: 429, code: 'rate-limited' });
    expect(await socketVia(r, A, good)).toBe(4429);
    // Client B, behind the same proxy, is not touched by A's guessing.
    expect(await via(r, B, '/api/me', BAD)).toEqual({ status: 401, code: 'unauthorized' });
    expect((await via(r, B, '/api/me', good)).status).toBe(200);
    expect(await socketVia(r, B, good)).toBe('open');
    // Requests without a token are rate limited per client address too (burst 4).
    for (let i = 0; i < 4; i++) expect((await via(r, A, '/healthz')).status).toBe(200);
    expect(await via(r, A, '/healthz')).toEqual({ status: 429, code: 'rate-limited' });
    expect((await via(r, B, '/healthz')).status).toBe(200);
    // The access log names the forwarded client, not the proxy.
    const ips = lines.map((l) => JSON.parse(l) as { msg: string; ip?: string }).filter((l) => l.msg === 'request' || l.msg === 'socket refused').map((l) => l.ip);
    expect(new Set(ips)).toEqual(new Set([A, B]));
  });

  it('not trusted (the default): every client behind the proxy shares the socket address brake', async () => {
    const lines: string[] = [];
    const r = await relay(undefined, lines);
    const good = await r.token('viewer');
    expect((await via(r, A, '/api/me', BAD)).status).toBe(401);
    expect((await via(r, A, '/api/me', BAD)).status).toBe(401);
    expect(await via(r, B, '/api/me', BAD)).toEqual({ status: 429, code: 'rate-limited' });
    expect(await via(r, B, '/api/me', good)).toEqual({ status: 429, code: 'rate-limited' });
    expect(await socketVia(r, B, good)).toBe(4429);
    const ips = new Set(lines.map((l) => (JSON.parse(l) as { ip?: string }).ip).filter(Boolean));
    expect(ips).toEqual(new Set(['127.0.0.1']));
  });

  it('ignores a forged header from a peer outside the trusted ranges', async () => {
    const r = await relay('10.0.0.0/8,192.168.0.0/16');
    expect((await via(r, A, '/api/me', BAD)).status).toBe(401);
    expect((await via(r, B, '/api/me', BAD)).status).toBe(401);
    // A third "client" is the same 127.0.0.1 peer: braked.
    expect(await via(r, '192.0.2.30', '/api/me', BAD)).toEqual({ status: 429, code: 'rate-limited' });
  });

  it('falls back to the socket address when the forwarded value is not an address', async () => {
    const r = await relay('loopback');
    expect((await via(r, 'not-an-ip', '/api/me', BAD)).status).toBe(401);
    expect((await via(r, 'still not one', '/api/me', BAD)).status).toBe(401);
    expect(await via(r, 'x'.repeat(300), '/api/me', BAD)).toEqual({ status: 429, code: 'rate-limited' });
  });

  it('parses hop counts and ranges, and refuses anything else with a sentence', () => {
    expect(parseTrustProxy(undefined)).toBeUndefined();
    expect(parseTrustProxy('')).toBeUndefined();
    expect(parseTrustProxy('0')).toBeUndefined();
    const two = parseTrustProxy('2')!;
    expect([two('x', 0), two('x', 1), two('x', 2)]).toEqual([true, true, false]);
    const ranges = parseTrustProxy(' 10.0.0.0/8 , loopback ')!;
    expect([ranges('10.1.2.3', 0), ranges('127.0.0.1', 0), ranges('8.8.8.8', 0)]).toEqual([true, true, false]);
    expect(() => parseTrustProxy('true')).toThrow(/must not trust every peer/);
    expect(() => parseTrustProxy('proxy.example.org')).toThrow(/hop count .* or addresses and ranges/);
    expect(() => parseTrustProxy('99')).toThrow(/at most 32/);
    expect(() => parseServeArgs([], { OWP_TRUST_PROXY: '10.0.0.0/99' })).toThrow();
    expect(parseServeArgs([], { OWP_TRUST_PROXY: '1' }).trustProxy).toBe('1');
  });
});

describe('docker-compose.yml with the Caddy profile', () => {
  it('gives Caddy the fixed address the docs tell operators to trust, and Caddy proxies to the relay with /readyz', async () => {
    const compose = parseYaml(await readFile(new URL('../../docker-compose.yml', import.meta.url), 'utf8')) as {
      services: Record<string, { profiles?: string[]; environment?: Record<string, string>; networks?: Record<string, { ipv4_address?: string } | null> }>;
      networks: Record<string, { ipam: { config: { subnet: string }[] } }>;
    };
    const caddy = compose.services.caddy!;
    expect(caddy.profiles).toEqual(['tls']);
    const address = caddy.networks!.owp!.ipv4_address!;
    const trust = parseTrustProxy(address)!;
    expect(trust(address, 0)).toBe(true);
    // The compose network's gateway (what a direct connection to the published port looks like) is not trusted.
    expect(trust(compose.networks.owp!.ipam.config[0]!.subnet.replace(/0\/\d+$/, '1'), 0)).toBe(false);
    expect(compose.services.relay!.environment!.OWP_TRUST_PROXY).toBe('${OWP_TRUST_PROXY:-}');
    const deploy = await readFile(new URL('../../docs/DEPLOY.md', import.meta.url), 'utf8');
    expect(deploy).toContain(`OWP_TRUST_PROXY=${address}`);
    const caddyfile = await readFile(new URL('../../Caddyfile', import.meta.url), 'utf8');
    expect(caddyfile).toMatch(/reverse_proxy relay:8787/);
    expect(caddyfile).toMatch(/health_uri \/readyz/);
  });
});
