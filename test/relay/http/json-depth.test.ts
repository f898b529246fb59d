/**
 * Input hardening (issue 14, item 10): a JSON body nested deeper than the limit (64 by
 * default, limits.jsonDepth) is answered 400 invalid-json before it is parsed, never a 500
 * or a stack overflow; brackets inside strings do not count. Over real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonDepth } from '../../../server/http/router.js';
import { startTestRelay, type TestRelay } from '../../helpers/relay.js';

const nested = (n: number) => `{"workerId":${'['.repeat(n)}${']'.repeat(n)}}`;

describe('JSON nesting limit', () => {
  let relay: TestRelay;
  let worker: string;
  let maint: string;
  beforeAll(async () => {
    relay = await startTestRelay();
    worker = await relay.token('worker', 'w1');
    maint = await relay.token('maintainer');
  });
  afterAll(() => relay.close());

  it('counts nesting without parsing; strings and escapes do not count', () => {
    expect(jsonDepth('{}')).toBe(1);
    expect(jsonDepth('{"a":[1,{"b":[]}]}')).toBe(4);
    expect(jsonDepth('{"a":"[[[[{{{{"}')).toBe(1);
    expect(jsonDepth('{"a":"\\\\\\"[[["}')).toBe(1);
    expect(jsonDepth(nested(5000), 64)).toBe(65);
  });

  it('5000 levels deep: 400 invalid-json with a sentence, and the relay keeps serving', async () => {
    for (const path of ['/api/workers/register', '/api/claim', '/api/tasks']) {
      const token = path === '/api/tasks' ? maint : worker;
      const r = await relay.api(token, 'POST', path, nested(5000));
      expect(r.status, path).toBe(400);
      expect(r.body.error).toEqual({ code: 'invalid-json', message: 'The request body nests JSON deeper than 64 levels; no request of the protocol needs more than a few.' });
    }
    expect((await relay.api(undefined, 'GET', '/healthz')).status).toBe(200);
  });

  it('64 levels pass the limit (and meet the ordinary validation); brackets in text are fine', async () => {
    const r = await relay.api(worker, 'POST', '/api/workers/register', nested(63));
    expect(r.status).toBe(400);
    expect(r.body.error.code).not.toBe('invalid-json');
    const t = await relay.api(maint, 'POST', '/api/tasks', { tasks: [{ id: 'o/r#1', repo: 'o/r', title: '['.repeat(500) + '{'.repeat(500) }] });
    // Refused or not for its own reasons (here: no policy for o/r yet), never as invalid JSON.
    expect(t.body.error?.code).not.toBe('invalid-json');
    expect(t.status).toBeLessThan(500);
  });

  it('the limit is a setting (limits.jsonDepth)', async () => {
    const small = await startTestRelay({ limits: { jsonDepth: 8 } });
    try {
      const w = await small.token('worker', 'w1');
      const r = await small.api(w, 'POST', '/api/workers/register', nested(8));
      expect(r.status).toBe(400);
      expect(r.body.error.message).toContain('deeper than 8 levels');
    } finally {
      await small.close();
    }
  });
});
