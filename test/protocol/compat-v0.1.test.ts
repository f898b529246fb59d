/**
 * Compatibility: what a client written for protocol 0.1 sends and reads, pinned. These exact
 * requests (field names, paths, encodings) must keep working and these answer fields must
 * keep their meaning for as long as the relay speaks 0.x (docs/PROTOCOL-CHANGELOG.md). A
 * change that breaks one of them is a new major protocol version, not an edit of this file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

let r: TestRelay;
beforeAll(async () => {
  r = await startTestRelay();
});
afterAll(() => r.close());

const T = encodeURIComponent('octo/compat#1');

describe('a protocol 0.1 client', () => {
  it('speaks the 0.1 journey with the 0.1 field names and reads the 0.1 answer fields', async () => {
    const maint = await r.token('maintainer');
    const w = await r.token('worker', 'compat-1');
    const health = await r.api(undefined, 'GET', '/healthz');
    expect(health.body).toMatchObject({ ok: true, protocol: '0.1' });
    expect(health.headers.get('owp-protocol')).toBe('0.1');

    expect((await r.api(maint, 'PUT', '/api/repos/octo/compat', { allowedTiers: [0] })).status).toBe(200);
    const imp = await r.api(maint, 'POST', '/api/tasks', { tasks: [{ id: 'octo/compat#1', repo: 'octo/compat', title: 'pinned', issueNumber: 1 }] });
    expect(imp.body).toEqual({ added: ['octo/compat#1'], updated: [], unchanged: [] });

    const reg = await r.api(w, 'POST', '/api/workers/register', { name: 'Compat', skills: ['docs'], capacity: 3, maxConcurrent: 1 });
    expect(reg.body.worker).toMatchObject({ id: 'compat-1', skills: ['docs'], capacity: 3, maxConcurrent: 1 });

    const claim = await r.api(w, 'POST', '/api/claim', { intentId: 'compat-claim-1' });
    expect(claim.status).toBe(200);
    expect(claim.body.outcome).toMatchObject({ intentId: 'compat-claim-1', kind: 'claim-next', status: 'granted', taskId: 'octo/compat#1', fencingToken: 1 });
    expect(claim.body.lease).toMatchObject({ taskId: 'octo/compat#1', workerId: 'compat-1', fencingToken: 1 });
    expect(typeof claim.body.lease.expiresAt).toBe('number');
    expect(claim.body.task).toMatchObject({ id: 'octo/compat#1', repo: 'octo/compat', title: 'pinned' });

    const again = await r.api(w, 'POST', '/api/claim', { intentId: 'compat-claim-1' });
    expect(again.body.outcome).toEqual(claim.body.outcome);

    const hb = await r.api(w, 'POST', `/api/tasks/${T}/heartbeat`, { fencingToken: 1 });
    expect(hb.status).toBe(200);
    expect(hb.body.outcome.status).toBe('applied');
    expect(hb.body.lease.fencingToken).toBe(1);

    const stale = await r.api(w, 'POST', `/api/tasks/${T}/heartbeat`, { fencingToken: 2 });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe('lease-lost');
    expect(typeof stale.body.error.message).toBe('string');
    expect(stale.body.outcome.status).toBe('rejected');

    const sub = await r.api(w, 'POST', `/api/tasks/${T}/submit`, { fencingToken: 1, prUrl: 'https://github.com/octo/compat/pull/1', intentId: 'compat-submit-1' });
    expect(sub.status).toBe(200);
    expect(sub.body.runtime).toMatchObject({ state: 'pr_open', prUrl: 'https://github.com/octo/compat/pull/1' });

    const review = await r.api(maint, 'POST', `/api/tasks/${T}/review`, { result: 'merged', intentId: 'compat-review-1' });
    expect(review.body.runtime).toMatchObject({ state: 'done', creditedTo: 'compat-1' });

    const none = await r.api(w, 'POST', '/api/claim', {});
    expect(none.status).toBe(409);
    expect(none.body.error.code).toBe('no-matching-task');
  });

  it('reads refusals as { error: { code, message } } with the 0.1 status codes', async () => {
    expect((await r.api(undefined, 'GET', '/api/me')).body.error.code).toBe('unauthorized');
    const bad = await r.api(await r.token('worker', 'compat-2'), 'POST', '/api/claim', '{"intentId":');
    expect([bad.status, bad.body.error.code]).toEqual([400, 'invalid-json']);
    const missing = await r.api(await r.token('viewer'), 'GET', '/api/tasks/nothing');
    expect([missing.status, missing.body.error.code]).toEqual([404, 'unknown-task']);
  });
});
