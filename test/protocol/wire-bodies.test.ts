/**
 * One source of truth for request bodies: the relay's handlers parse each body with the schema
 * docs/schemas/openapi.json is generated from (shared/api-spec.ts `API`). Against a real relay:
 * every published body route refuses a field it does not list, naming it; a value the
 * published schema refuses is refused over HTTP with a stable code, the field named and a
 * sentence (never zod's wording); and every route the spec publishes is served.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API, hasBody, type ApiName, type BodyRoute } from '../../shared/api-spec.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

let r: TestRelay;
let worker: string;
let maint: string;
const TASK = 'wire/bodies#1';

beforeAll(async () => {
  r = await startTestRelay({ tickMs: 2 });
  worker = await r.token('worker', 'wire-w');
  maint = await r.token('maintainer');
  expect((await r.api(maint, 'PUT', '/api/repos/wire/bodies', { reviewBudget: 5 })).status).toBe(200);
  expect((await r.api(maint, 'POST', '/api/tasks', { tasks: [{ id: TASK, repo: 'wire/bodies', title: 'T' }] })).status).toBe(200);
});
afterAll(async () => r?.close());

/** The route's path with real values for its parameters. */
function pathOf(name: ApiName): string {
  return API[name].path
    .replace('{id}', encodeURIComponent(TASK))
    .replace('{owner}', 'wire')
    .replace('{name}', 'bodies')
    .replace('{workerId}', 'wire-w');
}
/** A token whose role may call the route (admin for admin-only routes). */
function tokenFor(name: ApiName): string {
  const roles = API[name].roles;
  if (roles === 'none' || roles.length === 0) return r.adminToken;
  return (roles as readonly string[]).includes('worker') ? worker : maint;
}
const BODY_ROUTES = (Object.keys(API) as ApiName[]).filter((n) => hasBody(API[n]));
const bodyRoute = (name: ApiName): BodyRoute => {
  const route = API[name];
  if (!hasBody(route)) throw new Error(`${name} takes no body`);
  return route;
};

describe('request bodies are parsed with the published schemas', () => {
  it('every route the spec publishes is served by the relay (no 404 not-found)', async () => {
    for (const name of Object.keys(API) as ApiName[]) {
      const route = API[name];
      if (route.method === 'delete') continue; // revoking: checked below with a real token id
      const res = await r.api(tokenFor(name), route.method.toUpperCase(), pathOf(name), 'body' in route ? {} : undefined);
      expect(res.body?.error?.code, `${route.method} ${route.path}`).not.toBe('not-found');
    }
    const t = await r.api(r.adminToken, 'POST', '/api/tokens', { role: 'viewer' });
    expect((await r.api(r.adminToken, 'DELETE', `/api/tokens/${t.body.id}`)).status).toBe(200);
  });

  it('every published body route refuses a field its schema does not list, naming it and the fields it has', async () => {
    expect(BODY_ROUTES.length).toBeGreaterThanOrEqual(19);
    for (const name of BODY_ROUTES) {
      const route = bodyRoute(name);
      const fields = Object.keys(route.body.shape);
      const res = await r.api(tokenFor(name), route.method.toUpperCase(), pathOf(name), { owp_no_such_field: 1 });
      const what = `${route.method} ${route.path}`;
      expect(res.status, what).toBe(400);
      expect(res.body.error, what).toMatchObject({ code: 'invalid-field', field: 'owp_no_such_field' });
      expect(res.body.error.message, what).toBe(`owp_no_such_field is not a field of ${route.noun}; its fields are ${fields.join(', ')}.`);
    }
  });

  // [route, body, the field named, the code] — each body is refused by the published schema.
  const refused: [ApiName, Record<string, unknown>, string, string][] = [
    ['claim', { taskId: '' }, 'taskId', 'invalid-field'],
    ['claim', { intentId: 'x'.repeat(201) }, 'intentId', 'invalid-field'],
    ['claim', { workerId: 7 }, 'workerId', 'invalid-field'],
    ['heartbeat', {}, 'fencingToken', 'invalid-field'],
    ['heartbeat', { fencingToken: 0 }, 'fencingToken', 'invalid-field'],
    ['heartbeat', { fencingToken: 1.5 }, 'fencingToken', 'invalid-field'],
    ['release', { fencingToken: '1' }, 'fencingToken', 'invalid-field'],
    ['submit', { fencingToken: 1, prUrl: 'not a url' }, 'prUrl', 'invalid-intent'],
    ['submit', { fencingToken: 1 }, 'prUrl', 'invalid-intent'],
    ['fail', { fencingToken: 1, reason: '' }, 'reason', 'invalid-intent'],
    ['review', { result: 'approved' }, 'result', 'invalid-intent'],
    ['cancel', { reason: 5 }, 'reason', 'invalid-intent'],
    ['importTasks', { tasks: 'all of them' }, 'tasks', 'invalid-field'],
    ['importTasks', { tasks: [], createRepo: 'yes' }, 'createRepo', 'invalid-field'],
    ['importTasks', { tasks: [{ id: 'wire/bodies#2', repo: 'wire/bodies', title: 'T', points: 0 }] }, 'tasks.0.points', 'invalid-field'],
    ['patchTask', { points: 'three' }, 'points', 'invalid-field'],
    ['register', { skills: ['docs'], capacity: 0 }, 'capacity', 'invalid-field'],
    ['putRepo', { reviewBudget: -1 }, 'reviewBudget', 'invalid-field'],
    ['putRepo', { repo: 'other/repo' }, 'repo', 'invalid-field'],
    ['patchRepo', { allowedTiers: [7] }, 'allowedTiers.0', 'invalid-field'],
    ['createRepo', { repo: 'not-a-repo' }, 'repo', 'invalid-field'],
    ['freeze', { area: '' }, 'area', 'invalid-field'],
    ['trust', { tier: 4 }, 'tier', 'invalid-field'],
    ['createToken', { role: 'root' }, 'role', 'invalid-field'],
  ];

  it.each(refused)('%s %j: the published schema refuses it, and so does the relay (400, field named, a sentence)', async (name, body, field, code) => {
    const route = bodyRoute(name);
    // putRepo's `repo` must match the path: a rule of the route, beyond the schema.
    if (!(name === 'putRepo' && field === 'repo')) expect(route.body.safeParse(body).success).toBe(false);
    const res = await r.api(tokenFor(name), route.method.toUpperCase(), pathOf(name), body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code, field });
    expect(res.body.error.message).toMatch(/^[A-Z`a-z].*[.)]$/);
    expect(res.body.error.message).not.toMatch(/expected|received|Invalid input/);
  });

  it('a body the published schema accepts is not refused for its shape', async () => {
    expect(API.register.body.safeParse({ skills: ['docs'] }).success).toBe(true);
    expect((await r.api(worker, 'POST', '/api/workers/register', { skills: ['docs'] })).status).toBe(200);
    // A fresh task: the first test's empty bodies cancelled the other one.
    const fresh = 'wire/bodies#3';
    expect((await r.api(maint, 'POST', '/api/tasks', [{ id: fresh, repo: 'wire/bodies', title: 'T3' }])).status).toBe(200);
    expect(API.claim.body.safeParse({ taskId: fresh, intentId: 'wire-claim-2' }).success).toBe(true);
    const granted = await r.api(worker, 'POST', '/api/claim', { taskId: fresh, intentId: 'wire-claim-2' });
    expect(granted.status).toBe(200);
    const beat = { fencingToken: granted.body.lease.fencingToken as number };
    expect(API.heartbeat.body.safeParse(beat).success).toBe(true);
    const at = `/api/tasks/${encodeURIComponent(fresh)}`;
    expect((await r.api(worker, 'POST', `${at}/heartbeat`, beat)).status).toBe(200);
    const note = { result: 'changes-requested', note: 'please add a test' };
    expect(API.review.body.safeParse(note).success).toBe(true);
    const review = await r.api(maint, 'POST', `${at}/review`, note);
    expect(review.status).not.toBe(400);
  });
});
