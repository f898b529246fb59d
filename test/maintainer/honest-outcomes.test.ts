/**
 * Honest outcomes (issue 12, item 5), each refusal with its own test, against a real relay
 * (real LevelDB, real HTTP), the real CLI as a child process, and the local fake GitHub.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGithubFeature, type GithubFeature } from '../../server/github/index.js';
import { closestName, editDistance } from '../../shared/did-you-mean.js';
import { startFakeGithub, type FakeGithub } from '../fake-github/server.js';
import { owp, owpJson, type OwpOptions } from '../helpers/cli-run.js';
import { startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';

const enc = encodeURIComponent;
let r: TestRelay;
let dir: string;
let maint: string;
let maintCli: OwpOptions;

beforeAll(async () => {
  r = await startTestRelay();
  dir = mkdtempSync(join(tmpdir(), 'owp-honest-'));
  maint = await r.token('maintainer');
  maintCli = { url: r.url, token: maint, home: join(dir, 'maint') };
});

afterAll(async () => {
  await r?.close();
});

async function worker(id: string, skills: string[] = ['docs']): Promise<string> {
  const t = await r.token('worker', id);
  expect((await r.api(t, 'POST', '/api/workers/register', { skills, capacity: 10, maxConcurrent: 5 })).status).toBe(200);
  return t;
}

describe('did-you-mean', () => {
  it('finds the field meant by snake case, a typo or a transposition, and nothing for an unrelated word', () => {
    expect(closestName('task_id', ['taskId', 'intentId', 'workerId'])).toBe('taskId');
    expect(closestName('fencingTokn', ['fencingToken', 'workerId'])).toBe('fencingToken');
    expect(closestName('reviewBudegt', ['reviewBudget', 'repo'])).toBe('reviewBudget');
    expect(closestName('colour', ['taskId', 'intentId'])).toBeUndefined();
    expect(editDistance('ab', 'ba')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
  });
});

describe('unknown fields in HTTP bodies are refused with invalid-field and a did-you-mean', () => {
  it('POST /api/claim with task_id is refused and leases nothing (it used to become a claim-next)', async () => {
    const w = await worker('typo-w');
    await r.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id: 'o/typo:a', repo: 'o/typo', title: 'A', skills: ['docs'] }, { id: 'o/typo:b', repo: 'o/typo', title: 'B', skills: ['docs'] }] });
    const res = await r.api(w, 'POST', '/api/claim', { task_id: 'o/typo:a' });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid-field', field: 'task_id' });
    expect(res.body.error.message).toContain('did you mean taskId?');
    expect(res.body.error.message).toContain('its fields are taskId, intentId, workerId');
    const status = await r.api(maint, 'GET', '/api/status');
    expect(status.body.leases.filter((l: { workerId: string }) => l.workerId === 'typo-w')).toEqual([]);
  });

  it('every route with a body refuses an unknown field', async () => {
    const w = await worker('fields-w');
    const admin = r.adminToken;
    const t = enc('o/typo:a');
    const cases: [string, string, string, unknown, string][] = [
      [w, 'POST', `/api/tasks/${t}/heartbeat`, { fencingToken: 1, fencing_token: 1 }, 'fencing_token'],
      [w, 'POST', `/api/tasks/${t}/release`, { fencingToken: 1, intentID: 'x' }, 'intentID'],
      [w, 'POST', `/api/tasks/${t}/submit`, { fencingToken: 1, pr: 'https://x.invalid/pull/1' }, 'pr'],
      [w, 'POST', `/api/tasks/${t}/complete`, { fencingToken: 1, done: true }, 'done'],
      [w, 'POST', `/api/tasks/${t}/fail`, { fencingToken: 1, reasn: 'x' }, 'reasn'],
      [maint, 'POST', `/api/tasks/${t}/review`, { reslt: 'merged' }, 'reslt'],
      [maint, 'POST', `/api/tasks/${t}/requeue`, { force: true }, 'force'],
      [maint, 'POST', `/api/tasks/${t}/cancel`, { reson: 'x' }, 'reson'],
      [maint, 'POST', '/api/tasks', { tasks: [], create_repo: true }, 'create_repo'],
      [maint, 'PATCH', `/api/tasks/${t}`, { pointz: 3 }, 'pointz'],
      [w, 'POST', '/api/workers/register', { skills: ['docs'], capacty: 3 }, 'capacty'],
      [maint, 'PUT', '/api/repos/o/typo', { reviewBudegt: 3 }, 'reviewBudegt'],
      [maint, 'PATCH', '/api/repos/o/typo', { reviewBudegt: 3 }, 'reviewBudegt'],
      [maint, 'POST', '/api/repos', { repo: 'o/new', reviewBudegt: 3 }, 'reviewBudegt'],
      [maint, 'POST', '/api/repos/o/typo/freeze', { area: 'docs/', areas: ['x/'] }, 'areas'],
      [maint, 'PUT', '/api/trust/fields-w', { teir: 2 }, 'teir'],
      [admin, 'POST', '/api/tokens', { role: 'viewer', nmae: 'x' }, 'nmae'],
    ];
    await r.api(maint, 'PUT', '/api/repos/o/typo', { repo: 'o/typo' });
    for (const [token, method, path, b, field] of cases) {
      const res = await r.api(token, method, path, b);
      expect(res.status, `${method} ${path}`).toBe(400);
      expect(res.body.error.code, `${method} ${path}`).toBe('invalid-field');
      expect(res.body.error.message, `${method} ${path}`).toContain(field);
    }
    // A typo close to a known field names it.
    const tr = await r.api(maint, 'PUT', '/api/trust/fields-w', { teir: 2 });
    expect(tr.body.error.message).toContain('did you mean tier?');
    const pol = await r.api(maint, 'PATCH', '/api/repos/o/typo', { reviewBudegt: 3 });
    expect(pol.body.error.message).toContain('did you mean reviewBudget?');
  });
});

describe('intent ids are scoped to their sender', () => {
  it("reusing another worker's intent id is refused and never returns its outcome", async () => {
    await r.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id: 'o/ids:a', repo: 'o/ids', title: 'A', skills: ['docs'] }, { id: 'o/ids:b', repo: 'o/ids', title: 'B', skills: ['docs'] }] });
    const a = await worker('ids-a');
    const b = await worker('ids-b');
    const first = await r.api(a, 'POST', '/api/claim', { taskId: 'o/ids:a', intentId: 'shared-id-1' });
    expect(first.status).toBe(200);
    const token = first.body.outcome.fencingToken as number;
    const second = await r.api(b, 'POST', '/api/claim', { taskId: 'o/ids:b', intentId: 'shared-id-1' });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('conflict');
    expect(second.body.error.message).toContain('fresh id');
    expect(JSON.stringify(second.body)).not.toContain('ids-a');
    expect(second.body.outcome).toBeUndefined();
    // The owner still gets its own outcome back for the same id.
    const again = await r.api(a, 'POST', '/api/claim', { taskId: 'o/ids:a', intentId: 'shared-id-1' });
    expect(again.body.outcome).toMatchObject({ workerId: 'ids-a', fencingToken: token });
    // With a fresh id the second worker's claim is arbitrated.
    expect((await r.api(b, 'POST', '/api/claim', { taskId: 'o/ids:b', intentId: 'fresh-b' })).status).toBe(200);
  });

  it('a maintainer reusing a worker intent id is refused too', async () => {
    const res = await r.api(maint, 'POST', `/api/tasks/${enc('o/ids:b')}/requeue`, { intentId: 'shared-id-1' });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('conflict');
  });
});

describe('idle polling does not grow the audit log', () => {
  it('a claim-next refused for lack of a fitting task is counted, not chained', async () => {
    const w = await worker('idle-w', ['cobol']);
    const headBefore = (await r.api(maint, 'GET', '/api/audit/verify')).body.entries as number;
    const idleBefore = (await r.api(maint, 'GET', '/api/status')).body.engine.idlePolls as number;
    for (let i = 0; i < 5; i++) {
      const res = await r.api(w, 'POST', '/api/claim', {});
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('no-matching-task');
    }
    const verify = (await r.api(maint, 'GET', '/api/audit/verify')).body;
    expect(verify).toMatchObject({ ok: true, entries: headBefore });
    expect((await r.api(maint, 'GET', '/api/status')).body.engine.idlePolls).toBe(idleBefore + 5);
    // A named claim that is refused is still history.
    await r.api(w, 'POST', '/api/claim', { taskId: 'o/ids:b' });
    expect((await r.api(maint, 'GET', '/api/audit/verify')).body.entries).toBe(headBefore + 1);
  });

  it('a claim-next refused at the worker’s own limit (owp worker run polling with its PRs in review) is counted, not chained', async () => {
    expect((await r.api(maint, 'PUT', '/api/repos/o/limits', {})).status).toBe(200);
    expect((await r.api(maint, 'POST', '/api/tasks', { tasks: ['a', 'b'].map((n) => ({ id: `o/limits:${n}`, repo: 'o/limits', title: n, skills: ['limits'] })) })).status).toBe(200);
    const t = await r.token('worker', 'busy-w');
    expect((await r.api(t, 'POST', '/api/workers/register', { skills: ['limits'], capacity: 10, maxConcurrent: 1 })).status).toBe(200);
    expect((await r.api(t, 'POST', '/api/claim', {})).status).toBe(200);
    const headBefore = (await r.api(maint, 'GET', '/api/audit/verify')).body.entries as number;
    const idleBefore = (await r.api(maint, 'GET', '/api/status')).body.engine.idlePolls as number;
    for (let i = 0; i < 3; i++) {
      const res = await r.api(t, 'POST', '/api/claim', {});
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('max-concurrent');
    }
    expect((await r.api(maint, 'GET', '/api/audit/verify')).body).toMatchObject({ ok: true, entries: headBefore });
    expect((await r.api(maint, 'GET', '/api/status')).body.engine.idlePolls).toBe(idleBefore + 3);
  });
});

describe('imports and repo policies (CLI as a child process)', () => {
  it('importing into a repo with no policy is refused with a hint; --create-repo creates it', async () => {
    const f = join(dir, 'typo.yaml');
    writeFileSync(f, 'repo: acme/widgtes\ntasks:\n  - id: one\n    title: One\n');
    const refused = await owp(['import', 'yaml', f], maintCli);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^owp: unknown-repo: nothing imported: no policy for acme\/widgtes/);
    expect(refused.stderr).toContain('owp repo add acme/widgtes');
    expect(refused.stderr).toContain('hint: Add the repository and its policy first');
    expect((await r.api(maint, 'GET', `/api/tasks/${enc('acme/widgtes:one')}`)).status).toBe(404);
    const created = await owp(['import', 'yaml', f, '--create-repo'], maintCli);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toContain('Created acme/widgtes with the default policy');
    const repos = await owpJson<{ repos: { repo: string }[] }>(['repo', 'list'], maintCli);
    expect(repos.repos.map((x) => x.repo)).toContain('acme/widgtes');
  });

  it('the API refuses tasks of a repo without a policy unless createRepo: true, and imports nothing', async () => {
    const tasks = [
      { id: 'x/has-policy:a', repo: 'x/has-policy', title: 'A' },
      { id: 'x/nopolicy-b:a', repo: 'x/nopolicy-b', title: 'A' },
    ];
    expect((await r.api(maint, 'PUT', '/api/repos/x/has-policy', {})).status).toBe(200);
    for (const body of [{ tasks }, tasks]) {
      const res = await r.api(maint, 'POST', '/api/tasks', body);
      expect(res.status).toBe(404);
      expect(res.body.error).toMatchObject({ code: 'unknown-repo', field: 'repo' });
      expect(res.body.error.message).toContain('No policy for x/nopolicy-b, so nothing was imported');
      expect(res.body.error.message).toContain('owp repo add x/nopolicy-b');
      expect(res.body.error.message).toContain('createRepo: true');
    }
    for (const id of ['x/has-policy:a', 'x/nopolicy-b:a']) expect((await r.api(maint, 'GET', `/api/tasks/${enc(id)}`)).status).toBe(404);
    expect((await r.api(maint, 'GET', '/api/repos')).body.repos.map((x: { repo: string }) => x.repo)).not.toContain('x/nopolicy-b');
    const created = await r.api(maint, 'POST', '/api/tasks', { tasks, createRepo: true });
    expect(created.status).toBe(200);
    expect(created.body).toEqual({ added: ['x/has-policy:a', 'x/nopolicy-b:a'], updated: [], unchanged: [], createdRepos: ['x/nopolicy-b'] });
    expect((await r.api(maint, 'GET', '/api/repos')).body.repos.find((x: { repo: string }) => x.repo === 'x/nopolicy-b')).toMatchObject({ reviewBudget: 5, allowedTiers: [0, 1] });
  });

  it('the API refuses createRepo: false for a repo without a policy and imports nothing', async () => {
    const res = await r.api(maint, 'POST', '/api/tasks', { tasks: [{ id: 'x/nopolicy:a', repo: 'x/nopolicy', title: 'A' }], createRepo: false });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('unknown-repo');
    expect((await r.api(maint, 'GET', `/api/tasks/${enc('x/nopolicy:a')}`)).status).toBe(404);
  });

  it('`owp repo add` on an existing repo refuses, keeps its policy and points to `owp repo set`', async () => {
    expect((await owp(['repo', 'add', 'acme/twice', '--budget', '7'], maintCli)).code).toBe(0);
    const again = await owp(['repo', 'add', 'acme/twice', '--github'], maintCli);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^owp: conflict: acme\/twice is already in the pool/);
    expect(again.stderr).toContain('owp repo set acme/twice');
    expect(again.stdout).not.toContain('Added:');
    const repos = await owpJson<{ repos: { repo: string; reviewBudget: number; github?: { enabled: boolean } }[] }>(['repo', 'list'], maintCli);
    expect(repos.repos.find((x) => x.repo === 'acme/twice')).toMatchObject({ reviewBudget: 7 });
    expect(repos.repos.find((x) => x.repo === 'acme/twice')?.github?.enabled ?? false).toBe(false);
  });
});

describe('GitHub sync outcomes', () => {
  const REPO = 'acme/honest';
  let gh: FakeGithub;
  let g: TestRelay;
  let feature!: GithubFeature;
  let gm: string;

  beforeAll(async () => {
    gh = await startFakeGithub();
    gh.createRepo(REPO);
    g = await startTestRelay({
      features: (port) => [(feature = createGithubFeature(port, { token: gh.token, apiUrl: gh.url, intervalMs: 0, syncOnStart: false, retryAfterBaseValue: 5, writeMinTimeMs: 0, debounceMs: 5 }))],
    });
    gm = await g.token('maintainer');
    expect((await g.api(gm, 'PUT', `/api/repos/${REPO}`, { repo: REPO, github: { enabled: true } })).status).toBe(200);
  });

  afterAll(async () => {
    await g?.close();
    await gh?.close();
  });

  it('the sync summary counts a merged PR (CLI shows it), and a task whose issue closed says so', async () => {
    gh.addIssue(REPO, { title: 'Merge me', labels: ['owp'] });
    gh.addIssue(REPO, { title: 'Close me', labels: ['owp'] });
    await g.api(gm, 'POST', '/api/github/sync', {});
    const w = await g.token('worker', 'gw');
    await g.api(w, 'POST', '/api/workers/register', { skills: [], capacity: 5, maxConcurrent: 2 });
    const claim = await waitFor(async () => {
      const res = await g.api(w, 'POST', '/api/claim', { taskId: `${REPO}#1` });
      return res.status === 200 ? res.body : undefined;
    });
    const pr = gh.openPr(REPO, { title: 'fix', body: 'Fixes #1' });
    await g.api(w, 'POST', `/api/tasks/${enc(`${REPO}#1`)}/submit`, { fencingToken: claim.outcome.fencingToken, prUrl: `https://github.com/${REPO}/pull/${pr}` });
    await feature.idle();
    gh.mergePr(REPO, pr);
    gh.closeIssue(REPO, 1);
    gh.closeIssue(REPO, 2);
    const cli = await owp(['github', 'sync', REPO], { url: g.url, token: gm, home: join(dir, 'gh') });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/PR TRANSITIONS/);
    expect(cli.stdout).toMatch(/acme\/honest\s+0\s+0\s+1\s+0\s+1 merged\s/);
    const done = await waitFor(async () => {
      const res = await g.api(gm, 'GET', `/api/tasks/${enc(`${REPO}#1`)}`);
      return res.body?.runtime?.state === 'done' ? res.body : undefined;
    });
    expect(done.runtime.creditedTo).toBe('gw');
    const closed = await waitFor(async () => {
      const res = await g.api(gm, 'GET', `/api/tasks/${enc(`${REPO}#2`)}`);
      return res.body?.runtime?.state === 'cancelled' ? res.body.runtime : undefined;
    });
    expect(closed.note).toContain('GitHub issue #2 was closed');
    expect(closed.note).not.toContain('by a maintainer');
  });
});
