/**
 * The maintainer's CLI views as child processes against a real relay: `owp task show`,
 * `owp reviews`, the PR column of `owp tasks` and `owp status`, and PR-open tasks shown as
 * awaiting review with their age (never a countdown or `lapsed`).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { owp, owpJson, type OwpOptions } from '../helpers/cli-run.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';
import { leaseCell, prLabel } from '../../server/cli/commands/task-show.js';

const REPO = 'acme/views';
let r: TestRelay;
let dir: string;
let maint: OwpOptions;
let w1: OwpOptions;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'owp-views-'));
  r = await startTestRelay();
  maint = { url: r.url, token: await r.token('maintainer'), home: join(dir, 'maint') };
  w1 = { url: r.url, token: await r.token('worker', 'w1'), home: join(dir, 'w1') };
  expect((await owp(['repo', 'add', REPO], maint)).code).toBe(0);
  const f = join(dir, 'tasks.yaml');
  writeFileSync(f, `repo: ${REPO}\ntasks:\n  - id: a\n    title: Fix the parser\n    body: "Line one of the brief.\\nLine two."\n  - id: b\n    title: Second\n  - id: c\n    title: Queued one\n    skills: [cobol]\n`);
  expect((await owp(['import', 'yaml', f], maint)).code).toBe(0);
  expect((await owp(['worker', 'register', '--skills', 'docs', '--capacity', '10', '--max-concurrent', '3'], w1)).code).toBe(0);
  for (const [id, pr] of [['a', 7], ['b', 8]] as const) {
    expect((await owp(['claim', `${REPO}:${id}`], w1)).code).toBe(0);
    expect((await owp(['submit', `${REPO}:${id}`, '--pr', `https://github.com/acme/views/pull/${pr}`], w1)).code).toBe(0);
  }
});

afterAll(async () => {
  await r?.close();
});

describe('PR cells', () => {
  it('label GitHub PR URLs by number and show age, not a countdown, for a PR awaiting review', () => {
    expect(prLabel('https://github.com/o/r/pull/12')).toBe('#12');
    expect(prLabel('https://git.example/o/r/merge_requests/3')).toBe('https://git.example/o/r/merge_requests/3');
    expect(prLabel(undefined)).toBe('');
    const lease = { taskId: 't', workerId: 'w', fencingToken: 1, grantedAt: 0, expiresAt: 1_000, ttlMs: 1_000 };
    expect(leaseCell({ state: 'pr_open', lease, updatedAt: 0 }, 7_200_000, 3_600_000)).toBe('awaiting review 1h');
    expect(leaseCell({ state: 'leased', lease, updatedAt: 0 }, 500, undefined)).toBe('in 500ms');
    expect(leaseCell({ state: 'leased', lease, updatedAt: 0 }, 5_000, undefined)).toBe('lapsed');
  });
});

describe('owp tasks and owp status', () => {
  it('show the PR column and "awaiting review <age>" for PR-open tasks', async () => {
    const t = await owp(['tasks', '--repo', REPO], maint);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/TASK\s+STATE\s+PTS\s+TIER\s+PRIO\s+SKILLS\s+AREA\s+HOLDER\s+PR\s+LEASE\s+TITLE/);
    expect(t.stdout).toMatch(/acme\/views:a\s+pr_open\s+1\s+0\s+0\s+-\s+-\s+w1\s+#7\s+awaiting review (?:\d+(?:ms|[dhms]))+\s+Fix the parser/);
    expect(t.stdout).not.toMatch(/lapsed|in -/);
    const s = await owp(['status'], maint);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toMatch(/acme\/views:b\s+pr_open\s+w1\s+\d+\s+#8\s+awaiting review (?:\d+(?:ms|[dhms]))+/);
    expect(s.stdout).not.toMatch(/lapsed|in -/);
  });
});

describe('owp reviews', () => {
  it('lists PRs awaiting review oldest first with links and age; --repo filters; --json is the API answer', async () => {
    const h = await owp(['reviews'], maint);
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toContain('2 PR(s) awaiting review, oldest first:');
    const a = h.stdout.indexOf('acme/views:a');
    const b = h.stdout.indexOf('acme/views:b');
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(a);
    expect(h.stdout).toContain('https://github.com/acme/views/pull/7');
    const j = await owpJson<{ reviews: { taskId: string; ageMs: number; prUrl: string; workerId: string; title: string }[] }>(['reviews', '--repo', REPO], maint);
    expect(j.reviews.map((x) => x.taskId)).toEqual([`${REPO}:a`, `${REPO}:b`]);
    expect(j.reviews[0]).toMatchObject({ workerId: 'w1', title: 'Fix the parser', prUrl: 'https://github.com/acme/views/pull/7' });
    expect(j.reviews[0]!.ageMs).toBeGreaterThanOrEqual(0);
    const none = await owp(['reviews', '--repo', 'acme/other'], maint);
    expect(none.stdout).toContain('No PR awaits review in acme/other.');
    expect((await owp(['reviews', '--repo', 'bad'], maint)).code).toBe(2);
  });
});

describe('owp task show', () => {
  it('shows the brief, state, PR, lease and history', async () => {
    const h = await owp(['task', 'show', `${REPO}:a`], maint);
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toContain(`${REPO}:a: Fix the parser`);
    expect(h.stdout).toMatch(/state\s+pr_open/);
    expect(h.stdout).toMatch(/PR\s+#7 https:\/\/github.com\/acme\/views\/pull\/7/);
    // Any duration formatDuration prints ("0s", "850ms", "1m", "1m5s"...): under load the age can reach a whole minute.
    expect(h.stdout).toMatch(/lease\s+w1, fencing token 1, awaiting review (?:\d+(?:ms|[dhms]))+$/m);
    expect(h.stdout).toContain('  Line one of the brief.\n  Line two.');
    expect(h.stdout).toMatch(/task-queued[\s\S]*lease-granted[\s\S]*pr-submitted/);
  });

  it('says why a queued task waits, and refuses an unknown task', async () => {
    const q = await owpJson<{ why?: string; runtime: { state: string } }>(['task', 'show', `${REPO}:c`], maint);
    expect(q.runtime.state).toBe('queued');
    expect(q.why).toMatch(/cobol/);
    const none = await owp(['task', 'show', `${REPO}:zzz`], maint);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^owp: unknown-task: /);
  });
});
