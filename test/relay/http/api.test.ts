/**
 * The relay's HTTP API against a real relay (real LevelDB in a temp folder): status codes,
 * error bodies, auth, idempotency, fencing, upsert.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../../helpers/relay.js';

const enc = encodeURIComponent;

describe('HTTP API', () => {
  let r: TestRelay;
  let maint: string;
  let w1: string;
  let w2: string;
  let viewer: string;

  beforeAll(async () => {
    r = await startTestRelay({ tickMs: 2, rateLimit: { ratePerSec: 5, burst: 1000 } });
    maint = await r.token('maintainer');
    w1 = await r.token('worker', 'w1');
    w2 = await r.token('worker', 'w2');
    viewer = await r.token('viewer');
    for (const [t, skills] of [
      [w1, ['ts']],
      [w2, ['ts']],
    ] as const) {
      const reg = await r.api(t, 'POST', '/api/workers/register', { skills, capacity: 5, maxConcurrent: 3 });
      expect(reg.status).toBe(200);
    }
  });
  afterAll(async () => r?.close());

  it('answers /healthz without a token', async () => {
    const h = await r.api(undefined, 'GET', '/healthz');
    expect(h.status).toBe(200);
    expect(h.body.ok).toBe(true);
  });

  it('401 without or with a bad token, 403 for the wrong role, with stable codes', async () => {
    const none = await r.api(undefined, 'GET', '/api/status');
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthorized');
    const bad = await r.api('owp_nope', 'GET', '/api/status');
    expect(bad.status).toBe(401);
    const forbidden = await r.api(viewer, 'POST', '/api/tasks', { createRepo: true, tasks: [] });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('not-authorized');
    expect(forbidden.body.error.message).toMatch(/maintainer/);
    const workerOnMaintainerRoute = await r.api(w1, 'POST', `/api/tasks/${enc('x/y#1')}/cancel`, {});
    expect(workerOnMaintainerRoute.status).toBe(403);
  });

  it('400 on malformed JSON and on invalid tasks, naming the field', async () => {
    const bad = await r.api(maint, 'POST', '/api/tasks', '{"createRepo":true,"tasks": [');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid-json');
    const invalid = await r.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id: 'a/b#9', repo: 'not a repo', title: 'x' }] });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.code).toBe('invalid-field');
    expect(invalid.body.error.message).toMatch(/repo/);
    const noTask = await r.api(maint, 'GET', `/api/tasks/${enc('none/such#1')}`);
    expect(noTask.status).toBe(404);
    expect(noTask.body.error.code).toBe('unknown-task');
  });

  it('413 on a body over 1 MiB', async () => {
    const big = JSON.stringify({ tasks: [{ id: 'big/x#1', repo: 'big/x', title: 'x', body: 'y'.repeat(1024 * 1024 + 10) }] });
    const res = await r.api(maint, 'POST', '/api/tasks', big);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload-too-large');
  });

  it('413 also when a chunked body without Content-Length grows over the limit', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent++ < 20) c.enqueue(chunk);
        else c.close();
      },
    });
    const res = await fetch(`${r.url}/api/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${maint}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect((await res.json()).error.code).toBe('payload-too-large');
  });

  it('upsert is idempotent: the same import twice changes nothing', async () => {
    const tasks = [
      { id: 'o/r#1', repo: 'o/r', title: 'One', skills: ['ts'], points: 1 },
      { id: 'o/r#2', repo: 'o/r', title: 'Two', skills: ['ts'], points: 1 },
      { id: 'o/r#3', repo: 'o/r', title: 'Three', skills: ['ts'], points: 1 },
    ];
    const first = await r.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks });
    expect(first.body).toEqual({ added: ['o/r#1', 'o/r#2', 'o/r#3'], updated: [], unchanged: [], createdRepos: ['o/r'] });
    const again = await r.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks });
    expect(again.body).toEqual({ added: [], updated: [], unchanged: ['o/r#1', 'o/r#2', 'o/r#3'] });
    const changed = await r.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks: [{ ...tasks[0], title: 'One!' }] });
    expect(changed.body.updated).toEqual(['o/r#1']);
    const got = await r.api(viewer, 'GET', `/api/tasks/${enc('o/r#1')}`);
    expect(got.body.task.title).toBe('One!');
  });

  it('claims over HTTP: grant, then 409 with the filter code; the same intent id gives the same outcome', async () => {
    const c = await r.api(w1, 'POST', '/api/claim', { taskId: 'o/r#1', intentId: 'i-claim-1' });
    expect(c.status).toBe(200);
    expect(c.body.outcome.status).toBe('granted');
    expect(c.body.lease.workerId).toBe('w1');
    expect(c.body.task.id).toBe('o/r#1');
    const again = await r.api(w1, 'POST', '/api/claim', { taskId: 'o/r#1', intentId: 'i-claim-1' });
    expect(again.status).toBe(200);
    expect(again.body.outcome).toEqual(c.body.outcome);
    const other = await r.api(w2, 'POST', '/api/claim', { taskId: 'o/r#1' });
    expect(other.status).toBe(409);
    expect(other.body.outcome.status).toBe('rejected');
    expect(typeof other.body.error.code).toBe('string');
    const rt = (await r.api(viewer, 'GET', `/api/tasks/${enc('o/r#1')}`)).body.runtime;
    expect(rt.fencingToken).toBe(1);
    expect(rt.attempt).toBe(1);
  });

  it('workers act only for their own worker id', async () => {
    const res = await r.api(w2, 'POST', '/api/claim', { taskId: 'o/r#2', workerId: 'w1' });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('not-authorized');
    const hb = await r.api(w2, 'POST', `/api/tasks/${enc('o/r#1')}/heartbeat`, { fencingToken: 1 });
    expect(hb.status).toBe(409);
    expect(hb.body.error.code).toBe('lease-lost');
  });

  it('a stale fencing token gets 409 lease-lost; the current one works', async () => {
    const stale = await r.api(w1, 'POST', `/api/tasks/${enc('o/r#1')}/complete`, { fencingToken: 7 });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe('lease-lost');
    const bad = await r.api(w1, 'POST', `/api/tasks/${enc('o/r#1')}/complete`, { fencingToken: 'x' });
    expect(bad.status).toBe(400);
    const rel = await r.api(w1, 'POST', `/api/tasks/${enc('o/r#1')}/release`, { fencingToken: 1 });
    expect(rel.status).toBe(200);
    expect(rel.body.runtime.state).toBe('queued');
    const c2 = await r.api(w2, 'POST', '/api/claim', { taskId: 'o/r#1' });
    expect(c2.status).toBe(200);
    expect(c2.body.lease.fencingToken).toBe(2);
    const old = await r.api(w1, 'POST', `/api/tasks/${enc('o/r#1')}/heartbeat`, { fencingToken: 1 });
    expect(old.body.error.code).toBe('lease-lost');
  });

  it('every transition is in the audit log, filterable, and the chain verifies', async () => {
    const a = await r.api(viewer, 'GET', `/api/audit?task=${enc('o/r#1')}`);
    expect(a.status).toBe(200);
    const kinds = a.body.entries.map((e: { kind: string }) => e.kind);
    expect(kinds).toContain('lease-granted');
    expect(kinds).toContain('lease-released');
    expect(a.body.entries.every((e: { taskId: string }) => e.taskId === 'o/r#1')).toBe(true);
    const byWorker = await r.api(viewer, 'GET', '/api/audit?worker=w2');
    expect(byWorker.body.entries.length).toBeGreaterThan(0);
    const since = await r.api(viewer, 'GET', `/api/audit?since=${a.body.entries[0].seq}`);
    expect(since.body.entries.every((e: { seq: number }) => e.seq > a.body.entries[0].seq)).toBe(true);
    const v = await r.api(viewer, 'GET', '/api/audit/verify');
    expect(v.body.ok).toBe(true);
  });

  it('status summarises queue, leases, capacity, budgets and invalid tasks', async () => {
    const s = await r.api(viewer, 'GET', '/api/status');
    expect(s.status).toBe(200);
    expect(s.body.queue['o/r'].leased).toBe(1);
    expect(s.body.leases).toHaveLength(1);
    expect(s.body.capacity.workers).toBe(2);
    expect(s.body.budgets['o/r'].inUse).toBe(1);
    expect(Array.isArray(s.body.invalidTasks)).toBe(true);
  });

  it('repos, freeze, trust and tokens', async () => {
    const put = await r.api(maint, 'PUT', '/api/repos/o/r', { reviewBudget: 3 });
    expect(put.status).toBe(200);
    expect(put.body.repo.reviewBudget).toBe(3);
    const fr = await r.api(maint, 'POST', '/api/repos/o/r/freeze', { area: 'docs/' });
    expect(fr.body.repo.frozenAreas).toEqual(['docs/']);
    const un = await r.api(maint, 'POST', '/api/repos/o/r/unfreeze', { area: 'docs/' });
    expect(un.body.repo.frozenAreas).toEqual([]);
    const tr = await r.api(maint, 'PUT', '/api/trust/w1', { tier: 2 });
    expect(tr.body).toEqual({ workerId: 'w1', tier: 2 });
    const badTier = await r.api(maint, 'PUT', '/api/trust/w1', { tier: 9 });
    expect(badTier.status).toBe(400);
    const created = await r.api(r.adminToken, 'POST', '/api/tokens', { role: 'viewer', name: 'dash' });
    expect(created.status).toBe(201);
    const me = await r.api(created.body.token, 'GET', '/api/me');
    expect(me.body.role).toBe('viewer');
    const list = await r.api(r.adminToken, 'GET', '/api/tokens');
    expect(JSON.stringify(list.body)).not.toContain(created.body.token);
    const del = await r.api(r.adminToken, 'DELETE', `/api/tokens/${created.body.id}`);
    expect(del.status).toBe(200);
    const after = await r.api(created.body.token, 'GET', '/api/me');
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('token-revoked');
  });

  it('429 with Retry-After once a token spends its burst', async () => {
    const r2 = await startTestRelay({ rateLimit: { ratePerSec: 1, burst: 3 } });
    try {
      const t = await r2.token('viewer');
      const codes: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 5; i++) {
        const res = await r2.api(t, 'GET', '/api/me');
        codes.push(res.status);
        if (res.status === 429) {
          retryAfter = res.headers.get('retry-after');
          expect(res.body.error.code).toBe('rate-limited');
        }
      }
      expect(codes.slice(0, 3)).toEqual([200, 200, 200]);
      expect(codes).toContain(429);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    } finally {
      await r2.close();
    }
  });

  it('404 JSON for unknown endpoints', async () => {
    const res = await r.api(viewer, 'GET', '/api/nothing-here');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not-found');
  });
});
