/**
 * HTTP error messages a person can act on, against a real relay: the JSON message is a plain
 * sentence (the code lives in `code`), an unencoded task id gets told how to encode it, and
 * the article in front of a role reads right.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aOrAn, plainSentence } from '../../../server/http/router.js';
import { startTestRelay, type TestRelay } from '../../helpers/relay.js';

describe('HTTP error messages', () => {
  let r: TestRelay;
  let w1: string;
  let viewer: string;
  let maint: string;

  beforeAll(async () => {
    r = await startTestRelay({ tickMs: 2 });
    w1 = await r.token('worker', 'w1');
    viewer = await r.token('viewer');
    maint = await r.token('maintainer');
  });
  afterAll(async () => r?.close());

  const codeFirst = (code: string) => new RegExp(`^${code}\\b`, 'i');

  it('401 without a token: the message is a sentence, not the code again', async () => {
    const res = await r.api(undefined, 'GET', '/api/status');
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
    expect(res.body.error.message).not.toMatch(codeFirst('unauthorized'));
    expect(res.body.error.message).toBe('No token; pass one as ?token= or Authorization: Bearer.');
  });

  it('401 for an unknown token, 401 token-revoked for a revoked one: plain sentences', async () => {
    const unknown = await r.api('owp_not_a_real_token', 'GET', '/api/status');
    expect(unknown.body.error.code).toBe('unauthorized');
    expect(unknown.body.error.message).toBe('This token is not known to the relay; ask an admin for one.');
    const t = await r.relay.tokens.create({ role: 'viewer', name: 'soon-revoked' });
    await r.relay.tokens.revoke(t.id);
    const revoked = await r.api(t.token, 'GET', '/api/status');
    expect(revoked.status).toBe(401);
    expect(revoked.body.error.code).toBe('token-revoked');
    expect(revoked.body.error.message).toBe('This token was revoked; ask an admin for a new one.');
  });

  it('403 for the wrong role: the sentence names the role with the right article and the roles it needs', async () => {
    const res = await r.api(viewer, 'POST', '/api/tasks', { createRepo: true, tasks: [] });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('not-authorized');
    expect(res.body.error.message).not.toMatch(codeFirst('not-authorized'));
    expect(res.body.error.message).toMatch(/^A viewer token may not call POST \/api\/tasks; it needs .*maintainer/);
  });

  it('an admin acting without a worker id is told "An admin token", not "A admin token"', async () => {
    const res = await r.api(r.adminToken, 'POST', '/api/workers/register', { skills: ['docs'], capacity: 5 });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('not-authorized');
    expect(res.body.error.message).toMatch(/^An admin token has no worker id/);
    const m = await r.api(maint, 'POST', '/api/workers/register', { skills: ['docs'], capacity: 5 });
    expect(m.status).toBe(403);
    expect(m.body.error.message).toBe('A maintainer token may not call POST /api/workers/register; it needs worker.');
  });

  it('a task id sent unencoded (octo/app#12) is told to use encodeURIComponent, with an example', async () => {
    // fetch drops everything from the # on, as browsers and curl do: the relay sees /api/tasks/octo/app.
    const res = await r.api(w1, 'POST', '/api/tasks/octo/app#12/heartbeat', { fencingToken: 1 });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not-found');
    expect(res.body.error.message).toContain('/api/tasks/octo/app');
    expect(res.body.error.message).toContain('encodeURIComponent');
    expect(res.body.error.message).toContain(`/api/tasks/${encodeURIComponent('octo/app#12')}/heartbeat`);
    // `#` encoded, `/` not: still more segments than any task route.
    const half = await r.api(w1, 'POST', '/api/tasks/octo/app%2312/heartbeat', { fencingToken: 1 });
    expect(half.status).toBe(404);
    expect(half.body.error.message).toContain('encodeURIComponent');
  });

  it('a bad task field over HTTP says what the field must be, not zod\'s wording', async () => {
    const res = await r.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id: 'octo/app#3', repo: 'octo/app', title: 'T', points: '3' }] });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid-field');
    expect(res.body.error.message).toContain('points: must be a whole number from 1 to 100');
    expect(res.body.error.message).not.toMatch(/expected number, received string/);
    expect(res.body.error.message).toBe('Invalid task tasks.0 (octo/app#3): points: must be a whole number from 1 to 100.');
    expect(res.body.error.field).toBe('tasks.0.points');
    const reg = await r.api(w1, 'POST', '/api/workers/register', { skills: ['docs'], capacity: 'lots' });
    expect(reg.status).toBe(400);
    expect(reg.body.error.message).toContain('capacity: must be a whole number from 1 to 1000');
  });

  it('other unknown paths keep the plain "No endpoint" message', async () => {
    const res = await r.api(viewer, 'GET', '/api/nothing-here');
    expect(res.status).toBe(404);
    expect(res.body.error.message).toBe('No endpoint at /api/nothing-here; see docs/PROTOCOL.md.');
    expect(res.body.error.message).not.toContain('encodeURIComponent');
  });
});

describe('plainSentence and aOrAn', () => {
  it('drops the code in front, capitalises and ends with a full stop; leaves other messages alone', () => {
    expect(plainSentence('rate-limited', 'rate-limited: too many refused tokens; wait 2 s')).toBe('Too many refused tokens; wait 2 s.');
    expect(plainSentence('unauthorized', 'Already a sentence.')).toBe('Already a sentence.');
    expect(plainSentence('unauthorized', 'unauthorized: ')).toBe('unauthorized: ');
    expect(plainSentence('unauthorized', 'token-revoked: other code')).toBe('token-revoked: other code');
  });

  it('picks the article by the first letter', () => {
    expect(aOrAn('admin')).toBe('an');
    expect(aOrAn('admin', true)).toBe('An');
    expect(aOrAn('worker', true)).toBe('A');
    expect(aOrAn('viewer')).toBe('a');
  });
});
