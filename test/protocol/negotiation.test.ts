/**
 * Version negotiation (docs/PROTOCOL.md, Versioning; OWP-VER-3) against a real relay: a
 * client names its version in the OWP-Protocol header; the same major (any minor) is served,
 * another major is refused before anything changes, a malformed one is invalid-field, and
 * /healthz answers whatever the header says; sockets follow the same rule (OWP-VER-5). Plus
 * the pure rules themselves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CLOSE, clientProtocol, PROTOCOL_VERSION, socketProtocolRefusal } from '../../shared/protocol.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

let r: TestRelay;
beforeAll(async () => {
  r = await startTestRelay({ tickMs: 2 });
});
afterAll(async () => r?.close());

const call = (path: string, token: string | undefined, version: string, init: RequestInit = {}) =>
  fetch(`${r.url}${path}`, { ...init, headers: { 'owp-protocol': version, 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } }).then(async (res) => ({
    status: res.status,
    header: res.headers.get('owp-protocol'),
    body: (await res.json()) as { error?: { code: string; message: string; field?: string } },
  }));

describe('the OWP-Protocol request header', () => {
  it('is a pure rule: none or the same major is ok, another major unsupported, anything else malformed', () => {
    expect(clientProtocol(undefined)).toBe('ok');
    expect(clientProtocol(PROTOCOL_VERSION)).toBe('ok');
    expect(clientProtocol('0.7')).toBe('ok');
    expect(clientProtocol(' 0.1 ')).toBe('ok');
    expect(clientProtocol('1.0')).toBe('unsupported');
    expect(clientProtocol('10.1')).toBe('unsupported');
    for (const bad of ['', '0', 'v0.1', '0.1.2', 'zero', '0.x']) expect(clientProtocol(bad), bad).toBe('malformed');
  });

  it('the same major with any minor is served; another major is 400 unsupported-protocol naming both versions, and nothing is written', async () => {
    const viewer = await r.token('viewer');
    const maint = await r.token('maintainer');
    expect((await call('/api/me', viewer, '0.999')).status).toBe(200);
    const other = await call('/api/me', viewer, '1.0');
    expect(other.status).toBe(400);
    expect(other.header).toBe(PROTOCOL_VERSION);
    expect(other.body.error).toMatchObject({ code: 'unsupported-protocol', field: 'OWP-Protocol' });
    expect(other.body.error!.message).toBe(
      `This relay speaks protocol ${PROTOCOL_VERSION}; a client of protocol 1.0 cannot use it. Use a client for protocol 0.x (or a relay for 1.0).`,
    );
    const write = await call('/api/repos/neg/other', maint, '2.3', { method: 'PUT', body: '{}' });
    expect(write.body.error?.code).toBe('unsupported-protocol');
    const repos = (await r.api(maint, 'GET', '/api/repos')).body.repos as { repo: string }[];
    expect(repos.map((x) => x.repo)).not.toContain('neg/other');
  });

  it('a header that is not MAJOR.MINOR is 400 invalid-field naming it; /healthz answers whatever the header says', async () => {
    const viewer = await r.token('viewer');
    const bad = await call('/api/me', viewer, 'latest');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'invalid-field', field: 'OWP-Protocol' });
    expect(bad.body.error!.message).toBe(`The OWP-Protocol header must be a version such as ${PROTOCOL_VERSION} (MAJOR.MINOR), not "latest".`);
    for (const v of ['9.9', 'latest']) {
      const h = await call('/healthz', undefined, v);
      expect(h.status, v).toBe(200);
      expect(h.header).toBe(PROTOCOL_VERSION);
    }
  });
});

/** Open a board socket naming `version` as asked; resolves with the 101's OWP-Protocol and how the socket ended. */
function socketNaming(version: { header?: string; query?: string }, token: string) {
  const q = new URLSearchParams({ token, ...(version.query !== undefined ? { protocol: version.query } : {}) });
  const ws = new WebSocket(`${r.wsUrl}/owp/board?${q}`, version.header !== undefined ? { headers: { 'OWP-Protocol': version.header } } : {});
  const answered = new Promise<string | undefined>((resolve) => ws.once('upgrade', (res) => resolve(res.headers['owp-protocol'] as string | undefined)));
  const firstMessage = new Promise<'message'>((resolve) => ws.once('message', () => resolve('message')));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('error', () => undefined);
  return { ws, answered, firstMessage, closed };
}

describe('the protocol version on a socket (OWP-VER-5)', () => {
  it('is a pure rule: none or the same major is served; another major or a malformed one is closed 4400 with its code', () => {
    expect(socketProtocolRefusal(undefined)).toBeUndefined();
    expect(socketProtocolRefusal('0.42')).toBeUndefined();
    expect(socketProtocolRefusal('1.0')).toEqual({ code: CLOSE.malformed, reason: `unsupported-protocol: this relay speaks protocol ${PROTOCOL_VERSION}, not 1.0` });
    expect(socketProtocolRefusal('v1')).toEqual({ code: CLOSE.malformed, reason: `invalid-field: OWP-Protocol must be a version such as ${PROTOCOL_VERSION} (MAJOR.MINOR)` });
  });

  it('the same major (header or ?protocol=) is served and the 101 names the relay version; another major is closed before any document byte', async () => {
    const viewer = await r.token('viewer');
    for (const version of [{}, { header: '0.999' }, { query: '0.999' }]) {
      const s = socketNaming(version, viewer);
      expect(await s.answered, JSON.stringify(version)).toBe(PROTOCOL_VERSION);
      expect(await s.firstMessage).toBe('message');
      s.ws.close();
      await s.closed;
    }
    for (const version of [{ header: '1.0' }, { query: '1.0' }, { query: 'latest' }]) {
      const s = socketNaming(version, viewer);
      let messages = 0;
      s.ws.on('message', () => messages++);
      const closed = await s.closed;
      expect(closed.code, JSON.stringify(version)).toBe(CLOSE.malformed);
      expect(closed.reason).toMatch(version.query === 'latest' ? /^invalid-field: OWP-Protocol/ : /^unsupported-protocol: this relay speaks protocol 0\.1, not 1\.0$/);
      expect(messages).toBe(0);
    }
  });
});
