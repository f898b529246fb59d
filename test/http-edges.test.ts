/**
 * The relay's edges against a real relay: ids that plain JavaScript objects already answer
 * to, brute force with bad tokens, caps on streams and sockets. Every refusal is a stable
 * code and a sentence, never a 500 or a crash.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from './helpers/relay.js';

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
      const res = await r.api(r.adminToken, 'POST', '/api/tasks', { tasks: [{ id, repo: 'a/b', title: 'x' }] });
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
