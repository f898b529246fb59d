/**
 * Test helpers: a real relay on a free port with real LevelDB in a temp folder, and a
 * polling `waitFor` (tests wait for conditions, never for fixed times).
 *
 * Invariants: the signature of `startTestRelay` and `waitFor` is stable (other engineers'
 * tests use them); `close()` stops the relay and deletes its data folder.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger, Role } from '../../server/ports.js';
import { expect } from 'vitest';
import { startRelay, type RelayConfig, type RunningRelay } from '../../server/relay.js';

export const TEST_ADMIN_TOKEN = 'owp_test_admin_token_0123456789abcdef';

export const quietLogger: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: (msg, f) => console.error(`relay error: ${msg}`, f ?? ''),
};

export interface TestRelay {
  url: string;
  wsUrl: string;
  dataDir: string;
  adminToken: string;
  relay: RunningRelay;
  token(role: Role, workerId?: string): Promise<string>;
  api(token: string | undefined, method: string, path: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

export async function api(
  baseUrl: string,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(baseUrl + path, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export async function startTestRelay(opts: Partial<RelayConfig> = {}): Promise<TestRelay> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'owp-relay-')));
  // A generous rate limit by default (tests drive many requests with one token); pass
  // `rateLimit` to test the limit itself.
  const relay = await startRelay({
    host: '127.0.0.1',
    port: 0,
    adminToken: TEST_ADMIN_TOKEN,
    log: quietLogger,
    rateLimit: { ratePerSec: 1000, burst: 2000 },
    ...opts,
    dataDir,
  });
  const adminToken = opts.adminToken ?? TEST_ADMIN_TOKEN;
  return {
    url: relay.url,
    wsUrl: relay.url.replace(/^http/, 'ws') + '/yjs',
    dataDir,
    adminToken,
    relay,
    async token(role, workerId) {
      const t = await relay.tokens.create({ role, workerId, name: workerId ?? role });
      return t.token;
    },
    api: (token, method, path, body) => api(relay.url, token, method, path, body),
    async close() {
      await relay.close();
      if (!opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** GET each path with `token`, expecting 200 from each; their bodies in order. */
export async function getBodies(r: TestRelay, token: string, paths: readonly string[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const path of paths) {
    const res = await r.api(token, 'GET', path);
    expect(res.status, path).toBe(200);
    out.push(res.body);
  }
  return out;
}

export { waitFor } from './wait.js';
