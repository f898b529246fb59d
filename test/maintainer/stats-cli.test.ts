/**
 * The success figures and credits end to end: a real relay (real LevelDB, audit log), the
 * real `owp` CLI as a child process, a merged PR and an expired lease; the figures read by
 * every dashboard role, refused inputs, and the index rebuilt from the audit log after a
 * restart.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { owp, owpJson, type OwpOptions } from '../helpers/cli-run.js';
import { startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';

const REPO = 'acme/stats';
let r: TestRelay;
let dir: string;
let dataDir: string;
let maint: OwpOptions;
let w1: OwpOptions;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'owp-stats-'));
  dataDir = join(dir, 'data');
  r = await startTestRelay({ dataDir, sweepMs: 50 });
  maint = { url: r.url, token: await r.token('maintainer'), home: join(dir, 'maint') };
  w1 = { url: r.url, token: await r.token('worker', 'w1'), home: join(dir, 'w1') };
  expect((await owp(['repo', 'add', REPO, '--budget', '3'], maint)).code).toBe(0);
  const f = join(dir, 'tasks.yaml');
  writeFileSync(f, `repo: ${REPO}\ntasks:\n  - id: a\n    title: A\n    points: 3\n  - id: b\n    title: B\n  - id: c\n    title: C\n`);
  expect((await owp(['import', 'yaml', f], maint)).code).toBe(0);
  expect((await owp(['worker', 'register', '--skills', 'docs', '--name', 'Wanda W', '--capacity', '10', '--max-concurrent', '3'], w1)).code).toBe(0);
  // a: claimed, PR, merged. b: claimed and left to expire (no heartbeats).
  expect((await owp(['claim', `${REPO}:a`], w1)).code).toBe(0);
  expect((await owp(['submit', `${REPO}:a`, '--pr', 'https://github.com/acme/stats/pull/1'], w1)).code).toBe(0);
  expect((await owp(['review', `${REPO}:a`, '--merged'], maint)).code).toBe(0);
  // A 1 s TTL from now on, so b's lease expires (set after a's PR, which must not lapse).
  expect((await owp(['repo', 'set', REPO, '--lease-ttl', '1s'], maint)).code).toBe(0);
  expect((await owp(['claim', `${REPO}:b`], w1)).code).toBe(0);
  await waitFor(async () => (await r.api(maint.token, 'GET', `/api/tasks/${encodeURIComponent(`${REPO}:b`)}`)).body.runtime.state === 'queued', 20_000, 'b expired');
}, 180_000);

afterAll(async () => {
  await r?.relay.close();
  await rm(dir, { recursive: true, force: true });
});

const expected = { granted: 2, tasksGranted: 2, done: 1, merged: 1, completed: 0, expired: 1, completionRate: 0.5, expiryRate: 0.5, requeueRate: 0, prsOpened: 1 };

describe('GET /api/stats', () => {
  it('computes the figures per repo and for the pool, readable by viewer, worker and maintainer', async () => {
    const viewer = await r.token('viewer');
    for (const token of [viewer, w1.token!, maint.token!]) {
      const res = await r.api(token, 'GET', `/api/stats?repo=${REPO}&since=24h`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ window: '24h', repo: REPO });
      expect(res.body.repos[REPO]).toMatchObject(expected);
      expect(res.body.repos[REPO].reviews).toEqual({ prOpen: 0, leased: 0, reviewBudget: 3, inUse: 0, full: false });
      expect(res.body.repos[REPO].workers).toEqual([{ workerId: 'w1', done: 1, merged: 1, points: 3 }]);
      expect(res.body.repos[REPO].medianMs.toMerge).toBeGreaterThanOrEqual(0);
    }
    const pool = await r.api(viewer, 'GET', '/api/stats');
    expect(pool.body.window).toBe('7d');
    expect(pool.body.pool).toMatchObject(expected);
  });

  it('refuses a bad since, a window past the 30 days kept, a bad repo and an unknown parameter', async () => {
    const viewer = await r.token('viewer');
    for (const [q, field] of [['since=yesterday', 'since'], ['since=60d', 'since'], ['repo=nope', 'repo'], ['sinse=7d', 'sinse']] as const) {
      const res = await r.api(viewer, 'GET', `/api/stats?${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'invalid-field', field });
    }
    expect((await r.api(viewer, 'GET', '/api/stats?sinse=7d')).body.error.message).toContain('did you mean since?');
    expect((await r.api(undefined, 'GET', '/api/stats')).status).toBe(401);
  });
});

describe('owp stats', () => {
  it('--json is the API answer; the human view shows the rates, times, review queue and throughput', async () => {
    const j = await owpJson(['stats', '--repo', REPO, '--since', '24h'], maint);
    expect(j.repos[REPO]).toMatchObject(expected);
    const h = await owp(['stats', '--repo', REPO], maint);
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toContain(`${REPO}, last 7d:`);
    expect(h.stdout).toMatch(/completion rate\s+50% \(1 done of 2 task\(s\) granted; 1 merged, 0 completed\)/);
    expect(h.stdout).toMatch(/expiry rate\s+50% \(1 of 2 lease\(s\) expired\)/);
    expect(h.stdout).toMatch(/review queue\s+0 PR\(s\) awaiting review \+ 0 lease\(s\) = 0\/3/);
    expect(h.stdout).toMatch(/w1\s+1\s+1\s+3/);
    const pool = await owp(['stats', '--since', new Date(Date.now() - 3_600_000).toISOString()], maint);
    expect(pool.code, pool.stderr).toBe(0);
    expect(pool.stdout).toMatch(/^Pool, since /);
    expect(pool.stdout).toMatch(/acme\/stats\s+2\s+1\s+50%\s+50%\s+0%/);
  });

  it('refuses bad usage and a window the relay does not keep', async () => {
    const bad = await owp(['stats', '--repo', 'nope'], maint);
    expect(bad.code).toBe(2);
    const far = await owp(['stats', '--since', '90d'], maint);
    expect(far.code).toBe(1);
    expect(far.stderr).toMatch(/^owp: invalid-field: since reaches back further than the 30 days/);
  });
});

describe('owp credits', () => {
  it('prints a table, CSV, Markdown and JSON with points, merged PRs and tasks per worker', async () => {
    const h = await owp(['credits'], maint);
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toMatch(/w1\s+Wanda W\s+3\s+1\s+1/);
    const csv = await owp(['credits', '--csv', '--repo', REPO], maint);
    expect(csv.stdout).toBe('worker,name,points,merged_prs,tasks\nw1,Wanda W,3,1,1\n');
    const md = await owp(['credits', '--markdown'], maint);
    expect(md.stdout).toContain('| Wanda W (w1) | 3 | 1 | 1 |');
    const j = await owpJson(['credits', '--repo', REPO], maint);
    expect(j.credits).toEqual([{ workerId: 'w1', name: 'Wanda W', points: 3, mergedPrs: 1, tasks: 1 }]);
    const other = await owp(['credits', '--repo', 'acme/other'], maint);
    expect(other.stdout).toContain('Nobody finished a task in acme/other');
    const both = await owp(['credits', '--csv', '--markdown'], maint);
    expect(both.code).toBe(2);
  });
});

describe('the index after a restart', () => {
  it('is rebuilt from the audit log with the same figures', async () => {
    const before = (await r.api(maint.token, 'GET', `/api/stats?repo=${REPO}&since=24h`)).body;
    await r.relay.close();
    r = await startTestRelay({ dataDir });
    const after = (await r.api(maint.token, 'GET', `/api/stats?repo=${REPO}&since=24h`)).body;
    expect(after.repos[REPO]).toEqual(before.repos[REPO]);
  });
});
