/**
 * The GitHub feature against the local fake GitHub (a real HTTP server) and an in-memory
 * relay port that arbitrates with the real scheduler.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createGithubFeature, type GithubFeature } from '../../server/github/index.js';
import { runWriteBack } from '../../server/github/writeback.js';
import { GithubClient } from '../../server/github/client.js';
import { startFakeGithub, type FakeGithub } from '../fake-github/server.js';
import { MemoryPort } from '../fake-github/memory-port.js';
import { waitFor } from '../helpers/relay.js';

const REPO = 'acme/widgets';

interface Env { gh: FakeGithub; port: MemoryPort; feature: GithubFeature }
const envs: Env[] = [];

async function setup(opts: { writeBack?: boolean; retries?: number } = {}): Promise<Env> {
  const gh = await startFakeGithub();
  gh.createRepo(REPO);
  const port = new MemoryPort();
  port.putRepo({ repo: REPO, github: { enabled: true, label: 'owp', writeBack: !!opts.writeBack }, reviewBudget: 50, leaseTtlMs: 60_000 });
  const feature = createGithubFeature(port, {
    token: gh.token, apiUrl: gh.url, intervalMs: 0, syncOnStart: false, webhookSecret: 'whsec',
    retryAfterBaseValue: 5, retries: opts.retries ?? 3, writeMinTimeMs: 0, debounceMs: 5, writeBackRetryMs: 5,
  });
  await feature.start();
  const env = { gh, port, feature };
  envs.push(env);
  return env;
}

afterEach(async () => {
  for (const e of envs.splice(0)) {
    await e.feature.stop?.();
    await e.gh.close();
  }
});

async function syncOne(e: Env) {
  const [s] = await e.feature.sync(REPO);
  e.port.runBatch(); // let the scheduler reconcile the board changes
  return s!;
}

describe('github import', () => {
  it('imports every page of labelled open issues and skips pull requests and unlabelled issues', async () => {
    const e = await setup();
    for (let i = 0; i < 230; i++) e.gh.addIssue(REPO, { title: `Task ${i}`, body: `Body ${i}`, labels: ['owp'] });
    e.gh.addIssue(REPO, { title: 'not for us', labels: ['bug'] });
    const pr = e.gh.openPr(REPO, { title: 'a PR' });
    e.gh.setLabels(REPO, pr, ['owp']);
    const s = await syncOne(e);
    expect(s.error).toBeUndefined();
    expect(s).toMatchObject({ repo: REPO, added: 230, updated: 0, cancelled: 0, flagged: 0, unchanged: 0 });
    const tasks = Object.values(e.port.board().tasks);
    expect(tasks).toHaveLength(230);
    const t = e.port.board().tasks[`${REPO}#1`]!;
    expect(t).toMatchObject({ title: 'Task 0', body: 'Body 0', issueNumber: 1, issueUrl: 'https://github.com/acme/widgets/issues/1', source: 'github', labels: ['owp'] });
    const pages = e.gh.requests.filter((r) => r.path.startsWith(`/repos/${REPO}/issues?labels=owp`));
    expect(pages.map((r) => new URL(r.path, 'http://x').searchParams.get('page') ?? '1')).toEqual(['1', '2', '3']);
    expect(e.port.ledger().tasks[`${REPO}#1`]?.state).toBe('queued');
    expect(s.rateLimitRemaining).toBe(e.gh.rateRemaining);
  });

  it('re-imports an unchanged repo with 304s only, which cost no rate limit', async () => {
    const e = await setup();
    for (let i = 0; i < 150; i++) e.gh.addIssue(REPO, { title: `Task ${i}`, labels: ['owp'] });
    await syncOne(e);
    // 150 recently updated issues fill the PR-link window (`since`) past one page, so its
    // cursor moves once: the next sync asks that one new URL, and only that.
    e.gh.clearRequests();
    await syncOne(e);
    expect(e.gh.requests.filter((r) => r.status !== 304).map((r) => new URL(r.path, 'http://x').searchParams.get('state'))).toEqual(['all']);
    const before = e.gh.rateRemaining;
    e.gh.clearRequests();
    const s = await syncOne(e);
    expect(s).toMatchObject({ added: 0, updated: 0, unchanged: 150 });
    expect(e.gh.requests.length).toBeGreaterThan(0);
    expect(e.gh.requests.filter((r) => r.status !== 304).map((r) => r.path)).toEqual([]);
    expect(e.gh.requests.every((r) => r.status === 304)).toBe(true);
    expect(e.gh.requests.every((r) => typeof r.headers['if-none-match'] === 'string')).toBe(true);
    expect(e.gh.rateRemaining).toBe(before);
    expect(s.requests).toBe(e.gh.requests.length);
    // A 304 is the cache working, not something to log.
    expect(e.port.logs.filter((l) => /304/.test(l.msg))).toEqual([]);
  });

  it('maps labels to task fields and reports invalid values with their default', async () => {
    const e = await setup();
    e.gh.addIssue(REPO, { title: 'Typed', labels: ['owp', 'points:3', 'skill:TypeScript', 'skill:docs', 'tier:1', 'area:docs/', 'priority:4'] });
    e.gh.addIssue(REPO, { title: 'Bad', labels: ['owp', 'points:abc'] });
    const s = await syncOne(e);
    expect(e.port.board().tasks[`${REPO}#1`]).toMatchObject({ points: 3, skills: ['docs', 'typescript'], tier: 1, area: 'docs/', priority: 4 });
    expect(e.port.board().tasks[`${REPO}#2`]).toMatchObject({ points: 1, skills: [], tier: 0, area: '', priority: 0 });
    expect(s.problems).toEqual([{ taskId: `${REPO}#2`, label: 'points:abc', message: expect.stringMatching(/points:abc.*default 1/) }]);
  });

  it('updates edited issues and leaves the others unchanged', async () => {
    const e = await setup();
    e.gh.addIssue(REPO, { title: 'One', labels: ['owp'] });
    e.gh.addIssue(REPO, { title: 'Two', labels: ['owp'] });
    await syncOne(e);
    e.gh.editIssue(REPO, 2, { title: 'Two, edited', body: 'more detail' });
    e.gh.setLabels(REPO, 1, ['owp', 'points:5']);
    const s = await syncOne(e);
    expect(s).toMatchObject({ added: 0, updated: 2, unchanged: 0 });
    expect(e.port.board().tasks[`${REPO}#2`]).toMatchObject({ title: 'Two, edited', body: 'more detail' });
    expect(e.port.board().tasks[`${REPO}#1`]!.points).toBe(5);
  });

  it('keeps a maintainer edit on the board until the issue itself changes', async () => {
    const e = await setup();
    e.gh.addIssue(REPO, { title: 'From GitHub', labels: ['owp', 'points:2'] });
    await syncOne(e);
    e.port.patchTask(`${REPO}#1`, { points: 8, held: true });
    const s = await syncOne(e);
    expect(s).toMatchObject({ updated: 0, unchanged: 1 });
    expect(e.port.board().tasks[`${REPO}#1`]).toMatchObject({ points: 8, held: true, title: 'From GitHub' });
    e.gh.editIssue(REPO, 1, { title: 'Edited on GitHub' });
    await syncOne(e);
    // The issue wins for the fields it carries; `held` stays the maintainer's.
    expect(e.port.board().tasks[`${REPO}#1`]).toMatchObject({ points: 2, held: true, title: 'Edited on GitHub' });
  });

  it('closed or unlabelled issue: cancels the queued task, flags the leased one', async () => {
    const e = await setup();
    e.gh.addIssue(REPO, { title: 'queued one', labels: ['owp'] });
    e.gh.addIssue(REPO, { title: 'leased one', labels: ['owp'] });
    e.gh.addIssue(REPO, { title: 'label lost', labels: ['owp'] });
    await syncOne(e);
    e.port.addWorker({ id: 'w1' });
    const claim = await e.port.act({ kind: 'claim', id: 'c1', workerId: 'w1', taskId: `${REPO}#2` });
    expect(claim.status).toBe('granted');
    e.gh.closeIssue(REPO, 1);
    e.gh.closeIssue(REPO, 2);
    e.gh.setLabels(REPO, 3, ['bug']);
    const s = await syncOne(e);
    expect(s).toMatchObject({ cancelled: 2, flagged: 1, flaggedTasks: [`${REPO}#2`] });
    const l = e.port.ledger().tasks;
    expect(l[`${REPO}#1`]!.state).toBe('cancelled');
    expect(l[`${REPO}#3`]!.state).toBe('cancelled');
    expect(l[`${REPO}#2`]).toMatchObject({ state: 'leased', cancelPending: true });
    // A second sync does not count them again.
    const again = await syncOne(e);
    expect(again).toMatchObject({ cancelled: 0, flagged: 0 });
  });

  it('a 5xx in the middle of pagination leaves the board as it was and reports upstream-error', async () => {
    const e = await setup({ retries: 1 });
    for (let i = 0; i < 210; i++) e.gh.addIssue(REPO, { title: `Task ${i}`, labels: ['owp'] });
    await syncOne(e);
    e.gh.editIssue(REPO, 1, { title: 'changed on page 1' });
    e.gh.closeIssue(REPO, 2);
    e.gh.addIssue(REPO, { title: 'new on page 3', labels: ['owp'] });
    const board = JSON.stringify(e.port.board());
    const ledger = JSON.stringify(e.port.ledger().tasks);
    e.gh.failNext(2, 502, { match: (m, p) => m === 'GET' && p.includes('labels=owp') && p.includes('page=2') });
    const s = await syncOne(e);
    expect(s.error).toMatchObject({ code: 'upstream-error' });
    expect(s.error!.message).toMatch(/502/);
    expect(JSON.stringify(e.port.board())).toBe(board);
    expect(JSON.stringify(e.port.ledger().tasks)).toBe(ledger);
    // Once GitHub is back, the same sync applies everything.
    const ok = await syncOne(e);
    expect(ok.error).toBeUndefined();
    expect(ok).toMatchObject({ added: 1, updated: 1, cancelled: 1 });
  });

  it('an exhausted rate limit fails the sync at once, changes nothing, and the next sync recovers', async () => {
    const e = await setup();
    e.gh.addIssue(REPO, { title: 'One', labels: ['owp'] });
    e.gh.setRateLimitRemaining(0);
    const s = await syncOne(e);
    expect(s.error).toMatchObject({ code: 'upstream-error', message: expect.stringMatching(/rate limit/i) });
    expect(s.rateLimitRemaining).toBe(0);
    expect(e.port.board().tasks).toEqual({});
    expect(e.port.logs.some((l) => /giving up until the next sync/.test(l.msg))).toBe(true);
    e.gh.setRateLimitRemaining(100);
    const ok = await syncOne(e);
    expect(ok).toMatchObject({ added: 1 });
  });

  it('backs off on a secondary rate limit (403 + Retry-After) and then succeeds', async () => {
    const e = await setup();
    e.gh.addIssue(REPO, { title: 'One', labels: ['owp'] });
    e.gh.secondaryRateLimitNext(1);
    const s = await syncOne(e);
    expect(s.error).toBeUndefined();
    expect(s.added).toBe(1);
    expect(e.gh.requests[0]!.status).toBe(403);
    expect(e.gh.requests.some((r) => r.status === 200)).toBe(true);
    expect(e.port.logs.some((l) => /secondary rate limit/.test(l.msg))).toBe(true);
  });
});

describe('github PR tracking', () => {
  async function leasedTask(e: Env): Promise<{ taskId: string; token: number }> {
    e.gh.addIssue(REPO, { title: 'Fix it', labels: ['owp', 'points:3'] });
    await syncOne(e);
    e.port.addWorker({ id: 'w1' });
    const o = await e.port.act({ kind: 'claim', id: 'c1', workerId: 'w1', taskId: `${REPO}#1` });
    expect(o.status).toBe('granted');
    return { taskId: `${REPO}#1`, token: o.fencingToken! };
  }

  it('submitted PR merged -> done and credited', async () => {
    const e = await setup();
    const { taskId, token } = await leasedTask(e);
    const pr = e.gh.openPr(REPO, { title: 'the fix' });
    const sub = await e.port.act({ kind: 'submit', id: 's1', workerId: 'w1', taskId, fencingToken: token, prUrl: `https://github.com/${REPO}/pull/${pr}` });
    expect(sub.status).toBe('applied');
    e.gh.mergePr(REPO, pr);
    e.gh.closeIssue(REPO, 1); // GitHub closes the issue when the PR merges
    const s = await syncOne(e);
    expect(s.reviewIntents).toBe(1);
    expect(s.flagged).toBe(0);
    expect(e.port.ledger().tasks[taskId]).toMatchObject({ state: 'done', creditedTo: 'w1' });
    expect(e.port.ledger().workers.w1!.credit).toBe(3);
    expect(e.port.ledger().outcomes[`gh:${taskId}:${pr}:merged`]?.status).toBe('applied');
  });

  it('PR closed unmerged -> back to the queue', async () => {
    const e = await setup();
    const { taskId, token } = await leasedTask(e);
    const pr = e.gh.openPr(REPO, { title: 'attempt' });
    await e.port.act({ kind: 'submit', id: 's1', workerId: 'w1', taskId, fencingToken: token, prUrl: `https://github.com/${REPO}/pull/${pr}` });
    e.gh.closePr(REPO, pr);
    await syncOne(e);
    expect(e.port.ledger().tasks[taskId]!.state).toBe('queued');
    expect(e.port.ledger().tasks[taskId]!.lease).toBeUndefined();
  });

  it('changes requested -> back to the holder, once per review', async () => {
    const e = await setup();
    const { taskId, token } = await leasedTask(e);
    const pr = e.gh.openPr(REPO, { title: 'attempt' });
    await e.port.act({ kind: 'submit', id: 's1', workerId: 'w1', taskId, fencingToken: token, prUrl: `https://github.com/${REPO}/pull/${pr}` });
    e.gh.addReview(REPO, pr, 'maintainer', 'CHANGES_REQUESTED');
    const s = await syncOne(e);
    expect(s.reviewIntents).toBe(1);
    expect(e.port.ledger().tasks[taskId]).toMatchObject({ state: 'leased', lease: { workerId: 'w1', fencingToken: token } });
    // The holder pushes and submits again; the same review does not bounce it twice.
    await e.port.act({ kind: 'submit', id: 's2', workerId: 'w1', taskId, fencingToken: token, prUrl: `https://github.com/${REPO}/pull/${pr}` });
    const again = await syncOne(e);
    expect(again.reviewIntents).toBe(0);
    expect(e.port.ledger().tasks[taskId]!.state).toBe('pr_open');
  });

  it('links a PR whose body says "Fixes #N" and moves the task to pr_open', async () => {
    const e = await setup();
    const { taskId } = await leasedTask(e);
    const pr = e.gh.openPr(REPO, { title: 'fix', body: 'This FIXES #1, finally.' });
    const s = await syncOne(e);
    expect(s.prLinks).toBe(1);
    expect(e.port.ledger().tasks[taskId]).toMatchObject({ state: 'pr_open', prUrl: `https://github.com/${REPO}/pull/${pr}` });
    e.gh.mergePr(REPO, pr);
    await syncOne(e);
    expect(e.port.ledger().tasks[taskId]!.state).toBe('done');
  });
});

describe('github write-back', () => {
  async function claimed(e: Env) {
    e.gh.addIssue(REPO, { title: 'Fix it', labels: ['owp'] });
    await syncOne(e);
    e.port.addWorker({ id: 'w1' });
    const o = await e.port.act({ kind: 'claim', id: 'c1', workerId: 'w1', taskId: `${REPO}#1` });
    await e.feature.idle();
    return o;
  }

  it('comments once and labels the issue on a grant; unlabels and comments on release', async () => {
    const e = await setup({ writeBack: true });
    const o = await claimed(e);
    const comments = e.gh.comments(REPO, 1);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toContain('`w1`');
    expect(comments[0]!.body).toContain(new Date(o.expiresAt!).toISOString().replace(/\.\d{3}Z$/, 'Z'));
    expect(comments[0]!.body).toContain(`<!-- owp:claim:${REPO}#1:${o.fencingToken} -->`);
    expect(e.gh.issue(REPO, 1).labels).toContain('owp:claimed');
    await e.port.act({ kind: 'release', id: 'r1', workerId: 'w1', taskId: `${REPO}#1`, fencingToken: o.fencingToken! });
    await e.feature.idle();
    expect(e.gh.issue(REPO, 1).labels).not.toContain('owp:claimed');
    expect(e.gh.comments(REPO, 1)).toHaveLength(2);
    expect(e.gh.comments(REPO, 1)[1]!.body).toMatch(/released/);
  });

  it('does not post twice when the comment POST fails after GitHub stored it', async () => {
    const e = await setup({ writeBack: true });
    e.gh.failNext(1, 500, { afterHandle: true, match: (m, p) => m === 'POST' && p.endsWith('/comments') });
    await claimed(e);
    expect(e.gh.comments(REPO, 1)).toHaveLength(1);
    expect(e.gh.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/comments'))).toHaveLength(1);
    expect(e.gh.issue(REPO, 1).labels).toContain('owp:claimed');
  });

  it('running the grant job again (e.g. after a restart) posts nothing new', async () => {
    const e = await setup({ writeBack: true });
    const o = await claimed(e);
    const job = { kind: 'claim' as const, taskId: `${REPO}#1`, repo: REPO, issueNumber: 1, fencingToken: o.fencingToken!, workerId: 'w1' };
    // Same kv: the receipt says done.
    const client = new GithubClient({ token: e.gh.token, apiUrl: e.gh.url, log: e.port.log, kv: e.port.kv('github'), writeMinTimeMs: 0 });
    const ctx = { port: e.port, client, kv: e.port.kv('github'), log: e.port.log };
    expect(await runWriteBack(ctx, job)).toBe('skipped');
    // Lost kv (fresh relay data): the marker on GitHub still prevents a second comment.
    e.port.kvData.clear();
    expect(await runWriteBack(ctx, job)).toBe('done');
    expect(e.gh.comments(REPO, 1)).toHaveLength(1);
  });

  it('writes nothing when the policy has writeBack off', async () => {
    const e = await setup({ writeBack: false });
    await claimed(e);
    expect(e.gh.comments(REPO, 1)).toHaveLength(0);
    expect(e.gh.requests.filter((r) => r.method !== 'GET')).toHaveLength(0);
  });
});

describe('github token hygiene', () => {
  it('never puts the token in logs, board, ledger, kv or summaries, even on failures', async () => {
    const e = await setup({ writeBack: true, retries: 0 });
    e.gh.addIssue(REPO, { title: 'One', labels: ['owp'] });
    const summaries = [await syncOne(e)];
    e.gh.failNext(3, 503);
    summaries.push(await syncOne(e));
    expect(summaries[1]!.error?.code).toBe('upstream-error');
    e.port.addWorker({ id: 'w1' });
    e.gh.failNext(1, 500, { match: (m) => m === 'POST' });
    await e.port.act({ kind: 'claim', id: 'c1', workerId: 'w1', taskId: `${REPO}#1` });
    await e.feature.idle();
    const everything = JSON.stringify([e.port.logs, e.port.board(), e.port.ledger(), [...e.port.kvData], summaries, e.gh.comments(REPO, 1)]);
    expect(everything).not.toContain(e.gh.token);
    expect(e.port.logs.length).toBeGreaterThan(0);
    // The token did reach GitHub, as the Authorization header.
    expect(e.gh.requests[0]!.headers.authorization).toBe(`token ${e.gh.token}`);
  });

  it('a rejected token is reported as upstream-error without the token in it', async () => {
    const e = await setup();
    const wrong = 'ghp_wrong_token_that_must_not_leak_42';
    const feature = createGithubFeature(e.port, { token: wrong, apiUrl: e.gh.url, intervalMs: 0, syncOnStart: false, retries: 0 });
    feature.start();
    const [s] = await feature.sync(REPO);
    await feature.stop();
    expect(s!.error).toMatchObject({ code: 'upstream-error', message: expect.stringMatching(/401/) });
    expect(JSON.stringify([s, e.port.logs])).not.toContain(wrong);
  });
});

describe('github polling', () => {
  it('syncs every enabled repo on its own at the interval', async () => {
    const e = await setup();
    e.gh.addIssue(REPO, { title: 'Polled', labels: ['owp'] });
    const feature = createGithubFeature(e.port, { token: e.gh.token, apiUrl: e.gh.url, intervalMs: 20, syncOnStart: false });
    feature.start();
    try {
      await waitFor(() => e.port.board().tasks[`${REPO}#1`], 10_000, 'the polled task');
    } finally {
      await feature.stop();
    }
    expect(e.port.board().tasks[`${REPO}#1`]!.title).toBe('Polled');
  });
});
