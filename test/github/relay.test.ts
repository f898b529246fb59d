/**
 * The GitHub feature inside the real relay (real LevelDB, real HTTP API) against the local
 * fake GitHub: sync route, webhooks with HMAC signatures, PR tracking, write-back, and the
 * token staying inside the relay.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import type { GithubFeature } from '../../server/github/index.js';
import { signBody } from '../../server/github/webhook.js';
import { filesUnder, startGithubRelay } from '../helpers/github-relay.js';
import { waitFor, type TestRelay } from '../helpers/relay.js';
import { startFakeGithub, type FakeGithub, type RecordedRequest } from '../fake-github/server.js';

const REPO = 'acme/widgets';
const SECRET = 'webhook-secret-for-tests';

interface Env { gh: FakeGithub; relay: TestRelay; feature: GithubFeature; logs: string[]; maint: string }
const envs: Env[] = [];

async function setup(opts: { webhookSecret?: string } = { webhookSecret: SECRET }): Promise<Env> {
  const gh = await startFakeGithub();
  gh.createRepo(REPO);
  const env = { gh, ...(await startGithubRelay(gh, REPO, { token: gh.token, webhookSecret: opts.webhookSecret })) };
  envs.push(env);
  return env;
}

afterEach(async () => {
  for (const e of envs.splice(0)) {
    await e.relay.close();
    await e.gh.close();
  }
});

function hook(e: Env, event: string, payload: unknown, signature?: string) {
  const body = JSON.stringify(payload);
  return fetch(`${e.relay.url}/api/github/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-github-event': event, 'x-hub-signature-256': signature ?? signBody(SECRET, body) },
    body,
  });
}

describe('github feature in the relay', () => {
  it('syncs through POST /api/github/sync and refuses workers and unknown repos', async () => {
    const e = await setup();
    e.gh.addIssue(REPO, { title: 'First', labels: ['owp', 'points:2'] });
    e.gh.addIssue(REPO, { title: 'Second', labels: ['owp', 'points:abc'] });
    const res = await e.relay.api(e.maint, 'POST', '/api/github/sync', {});
    expect(res.status).toBe(200);
    expect(res.body.repos).toEqual([
      expect.objectContaining({ repo: REPO, added: 2, updated: 0, cancelled: 0, flagged: 0, unchanged: 0, requests: expect.any(Number), rateLimitRemaining: expect.any(Number) }),
    ]);
    expect(res.body.repos[0].problems[0]).toMatchObject({ taskId: `${REPO}#2`, label: 'points:abc' });
    const t = await waitFor(async () => {
      const r = await e.relay.api(e.maint, 'GET', `/api/tasks/${encodeURIComponent(`${REPO}#1`)}`);
      return r.body?.task ? r.body : undefined;
    });
    expect(t.task).toMatchObject({ title: 'First', points: 2, source: 'github', issueNumber: 1 });

    const worker = await e.relay.token('worker', 'w1');
    expect((await e.relay.api(worker, 'POST', '/api/github/sync', {})).status).toBe(403);
    const unknown = await e.relay.api(e.maint, 'POST', '/api/github/sync', { repo: 'acme/other' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('unknown-repo');
    const bad = await e.relay.api(e.maint, 'POST', '/api/github/sync', '{nope');
    expect(bad.status).toBe(400);

    // The latest summary stays readable, e.g. for flagged tasks found by a background sync.
    const viewer = await e.relay.token('viewer');
    const status = await e.relay.api(viewer, 'GET', '/api/github/status');
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ webhooks: true, intervalMs: 0, repos: [expect.objectContaining({ repo: REPO, added: 2, trigger: 'request', at: expect.any(Number) })] });
    expect((await e.relay.api(worker, 'GET', '/api/github/status')).status).toBe(403);
  });

  it('webhook: a good signature triggers a sync, a bad or missing one gets 401 and changes nothing', async () => {
    const e = await setup();
    e.gh.addIssue(REPO, { title: 'From webhook', labels: ['owp'] });
    const payload = { action: 'labeled', repository: { full_name: REPO }, issue: { number: 1 } };

    const before = e.gh.requests.length;
    const wrong = await hook(e, 'issues', payload, signBody('not-the-secret', JSON.stringify(payload)));
    expect(wrong.status).toBe(401);
    expect((await wrong.json()).error.code).toBe('unauthorized');
    const missing = await fetch(`${e.relay.url}/api/github/webhook`, { method: 'POST', headers: { 'x-github-event': 'issues' }, body: JSON.stringify(payload) });
    expect(missing.status).toBe(401);
    await e.feature.idle();
    expect(e.gh.requests.length).toBe(before);
    expect((await e.relay.api(e.maint, 'GET', '/api/tasks')).body.tasks).toEqual([]);

    const ok = await hook(e, 'issues', payload);
    expect(ok.status).toBe(202);
    expect(await ok.json()).toMatchObject({ accepted: true, repo: REPO });
    await waitFor(async () => (await e.relay.api(e.maint, 'GET', `/api/tasks/${encodeURIComponent(`${REPO}#1`)}`)).body?.task?.title === 'From webhook');
    const ping = await hook(e, 'ping', { zen: 'hi' });
    expect(ping.status).toBe(202);
    expect((await ping.json()).accepted).toBe(false);
  });

  it('webhook without a configured secret: 403 not-authorized saying what to set', async () => {
    const e = await setup({});
    const res = await hook(e, 'issues', { repository: { full_name: REPO } }, 'sha256=' + '0'.repeat(64));
    expect(res.status).toBe(403);
    const body = await res.json();
    expect(body.error.code).toBe('not-authorized');
    expect(body.error.message).toMatch(/OWP_GITHUB_WEBHOOK_SECRET/);
  });

  it('claim -> issue comment and label; submitted PR merged (via webhook) -> done and credited; token stays inside', async () => {
    const e = await setup();
    e.gh.addIssue(REPO, { title: 'Fix the widget', labels: ['owp', 'points:3'] });
    await e.relay.api(e.maint, 'POST', '/api/github/sync', {});
    const taskId = `${REPO}#1`;
    // (The engine gives the new task its runtime at its next tick; the claim below is one.)
    expect((await e.relay.api(e.maint, 'GET', `/api/tasks/${encodeURIComponent(taskId)}`)).body.task.title).toBe('Fix the widget');

    const worker = await e.relay.token('worker', 'w1');
    expect((await e.relay.api(worker, 'POST', '/api/workers/register', { skills: [], capacity: 5, maxConcurrent: 2 })).status).toBe(200);
    const claim = await waitFor(async () => {
      const r = await e.relay.api(worker, 'POST', '/api/claim', { taskId, intentId: 'claim-1' });
      return r.status === 200 ? r.body : undefined;
    });
    const token = claim.outcome.fencingToken as number;
    await waitFor(() => e.gh.issue(REPO, 1).labels.includes('owp:claimed'), 10_000, 'claimed label');
    await e.feature.idle();
    expect(e.gh.comments(REPO, 1)).toHaveLength(1);
    expect(e.gh.comments(REPO, 1)[0]!.body).toContain(`<!-- owp:claim:${taskId}:${token} -->`);

    const pr = e.gh.openPr(REPO, { title: 'the fix', body: 'Fixes #1' });
    const prUrl = `https://github.com/${REPO}/pull/${pr}`;
    const sub = await e.relay.api(worker, 'POST', `/api/tasks/${encodeURIComponent(taskId)}/submit`, { fencingToken: token, prUrl });
    expect(sub.status).toBe(200);
    e.gh.mergePr(REPO, pr);
    e.gh.closeIssue(REPO, 1);
    const res = await hook(e, 'pull_request', { action: 'closed', repository: { full_name: REPO }, pull_request: { number: pr } });
    expect(res.status).toBe(202);
    const done = await waitFor(async () => {
      const r = await e.relay.api(e.maint, 'GET', `/api/tasks/${encodeURIComponent(taskId)}`);
      return r.body?.runtime?.state === 'done' ? r.body : undefined;
    });
    expect(done.runtime.creditedTo).toBe('w1');
    await waitFor(() => !e.gh.issue(REPO, 1).labels.includes('owp:claimed'), 10_000, 'label removed');
    const workers = await e.relay.api(e.maint, 'GET', '/api/workers');
    expect(workers.body.workers.find((w: { profile?: { id: string } }) => w.profile?.id === 'w1').runtime.credit).toBe(3);

    // A full sync afterwards neither flags nor cancels the finished task.
    const again = await e.relay.api(e.maint, 'POST', '/api/github/sync', {});
    expect(again.body.repos[0]).toMatchObject({ cancelled: 0, flagged: 0 });

    // The token never left the relay: not in logs, API answers, documents or LevelDB files.
    await e.feature.idle();
    const answers = await Promise.all(['/api/tasks', '/api/repos', '/api/status', '/api/audit', '/api/workers', '/api/github/status'].map((p) => e.relay.api(e.maint, 'GET', p)));
    const text = JSON.stringify([e.logs, answers.map((a) => a.body), again.body, e.relay.relay.relay.board(), e.relay.relay.relay.ledger()]);
    expect(text).not.toContain(e.gh.token);
    expect(e.logs.length).toBeGreaterThan(0);
    for (const f of await filesUnder(e.relay.dataDir)) {
      expect((await readFile(f)).includes(Buffer.from(e.gh.token)), f).toBe(false);
    }
  });

  it('a pull_request_review webhook with changes requested hands the task back to its holder', async () => {
    const e = await setup();
    e.gh.addIssue(REPO, { title: 'Review me', labels: ['owp'] });
    await e.relay.api(e.maint, 'POST', '/api/github/sync', {});
    const taskId = `${REPO}#1`;
    const worker = await e.relay.token('worker', 'w1');
    await e.relay.api(worker, 'POST', '/api/workers/register', { skills: [], capacity: 5, maxConcurrent: 2 });
    const claim = await waitFor(async () => {
      const r = await e.relay.api(worker, 'POST', '/api/claim', { taskId, intentId: 'claim-1' });
      return r.status === 200 ? r.body : undefined;
    });
    const pr = e.gh.openPr(REPO, { title: 'attempt' });
    const prUrl = `https://github.com/${REPO}/pull/${pr}`;
    await e.relay.api(worker, 'POST', `/api/tasks/${encodeURIComponent(taskId)}/submit`, { fencingToken: claim.outcome.fencingToken, prUrl });
    e.gh.addReview(REPO, pr, 'maintainer', 'CHANGES_REQUESTED');
    const res = await hook(e, 'pull_request_review', { action: 'submitted', repository: { full_name: REPO }, pull_request: { number: pr } });
    expect(res.status).toBe(202);
    const back = await waitFor(async () => {
      const r = await e.relay.api(e.maint, 'GET', `/api/tasks/${encodeURIComponent(taskId)}`);
      return r.body?.runtime?.state === 'leased' ? r.body.runtime : undefined;
    });
    expect(back.lease).toMatchObject({ workerId: 'w1', fencingToken: claim.outcome.fencingToken });
  });

  it('an expired lease (relay sweeper) removes the label and says so on the issue', async () => {
    const e = await setup();
    const put = await e.relay.api(e.maint, 'PUT', `/api/repos/${REPO}`, { repo: REPO, leaseTtlMs: 1000, github: { enabled: true, writeBack: true } });
    expect(put.status).toBe(200);
    e.gh.addIssue(REPO, { title: 'Will lapse', labels: ['owp'] });
    await e.relay.api(e.maint, 'POST', '/api/github/sync', {});
    const worker = await e.relay.token('worker', 'w1');
    await e.relay.api(worker, 'POST', '/api/workers/register', { skills: [], capacity: 5, maxConcurrent: 2 });
    await waitFor(async () => (await e.relay.api(worker, 'POST', '/api/claim', { taskId: `${REPO}#1`, intentId: 'claim-1' })).status === 200);
    // The label may already be gone again when a busy machine polls (1 s TTL): wait for the request that added it.
    const labelled = (r: RecordedRequest) => r.method === 'POST' && r.status < 300 && r.path.endsWith('/issues/1/labels') && String(r.body).includes('owp:claimed');
    await waitFor(() => e.gh.requests.some(labelled), 10_000, 'claimed label');
    await waitFor(() => e.gh.comments(REPO, 1).length === 2 && !e.gh.issue(REPO, 1).labels.includes('owp:claimed'), 15_000, 'expiry write-back');
    expect(e.gh.comments(REPO, 1)[1]!.body).toMatch(/expired/);
    expect(e.gh.comments(REPO, 1)[1]!.body).toContain(`<!-- owp:release:${REPO}#1:1 -->`);
  });
});
