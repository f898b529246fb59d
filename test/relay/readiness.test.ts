/**
 * A starting relay over real HTTP (issue 14, item 4): the port is bound before the store is
 * opened, and until the relay serves, /readyz, /healthz, the API and WebSocket upgrades all
 * answer 503 `starting`. The test holds the relay inside its start (a store that opens when
 * the test says) and observes that state; no timing. A start that fails after binding frees
 * the port. (The stopping side is in metrics.test.ts.)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { openRelayStore } from '../../server/store/index.js';
import { api, startTestRelay, TEST_ADMIN_TOKEN } from '../helpers/relay.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const tempDir = async () => {
  const d = await mkdtemp(join(tmpdir(), 'owp-ready-'));
  dirs.push(d);
  return d;
};

function signal<T = void>() {
  let fire!: (v: T) => void;
  const fired = new Promise<T>((resolve) => (fire = resolve));
  return { fire, fired };
}

/** The HTTP status a WebSocket upgrade is answered with (101 when it opens). */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('error', (e) => reject(e));
  });
}

describe('a starting relay', () => {
  it('answers 503 starting from the moment its port is bound until its store is open and its ledger loaded', async () => {
    const dataDir = await tempDir();
    const bound = signal<string>();
    const storeAsked = signal();
    const openNow = signal();
    const starting = startTestRelay({
      dataDir,
      onListening: (url) => bound.fire(url),
      openStore: async () => {
        storeAsked.fire();
        await openNow.fired;
        return openRelayStore({ dataDir });
      },
    });
    const url = await bound.fired;
    await storeAsked.fired;
    try {
      const ready = await api(url, undefined, 'GET', '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body).toMatchObject({ ready: false, phase: 'starting', error: { code: 'starting' } });
      expect(ready.headers.get('retry-after')).toBe('1');
      expect(ready.headers.get('owp-protocol')).toMatch(/^\d+\.\d+$/);
      const health = await api(url, undefined, 'GET', '/healthz');
      expect(health.status).toBe(503);
      expect(health.body).toMatchObject({ ok: false, phase: 'starting', error: { code: 'starting' } });
      const me = await api(url, TEST_ADMIN_TOKEN, 'GET', '/api/me');
      expect(me.status).toBe(503);
      expect(me.body.error.code).toBe('starting');
      const post = await api(url, TEST_ADMIN_TOKEN, 'POST', '/api/tokens', { role: 'viewer' });
      expect(post.status).toBe(503);
      expect(await upgradeStatus(`${url.replace(/^http/, 'ws')}/yjs/board?token=${TEST_ADMIN_TOKEN}`)).toBe(503);
    } finally {
      openNow.fire();
    }
    const r = await starting;
    try {
      expect(r.url).toBe(url);
      expect((await r.api(undefined, 'GET', '/readyz')).body).toEqual({ ready: true, phase: 'serving' });
      expect((await r.api(undefined, 'GET', '/healthz')).status).toBe(200);
      expect((await r.api(TEST_ADMIN_TOKEN, 'GET', '/api/me')).body.role).toBe('admin');
      expect(await upgradeStatus(`${r.wsUrl}/board?token=${TEST_ADMIN_TOKEN}`)).toBe(101);
    } finally {
      await r.close();
    }
  });

  it('a start that fails after binding its port (the store does not open) frees the port', async () => {
    const dataDir = await tempDir();
    let port = 0;
    const failing = startTestRelay({
      dataDir,
      onListening: (url) => (port = Number(new URL(url).port)),
      openStore: () => Promise.reject(new Error('no store today')),
    });
    await expect(failing).rejects.toThrow('no store today');
    expect(port).toBeGreaterThan(0);
    // The port is free again: this process can bind it.
    const probe = createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen({ port, host: '127.0.0.1' }, () => resolve());
    });
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  });
});
