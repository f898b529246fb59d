/**
 * `owp task hold`, `owp task unhold` and `owp task priority` as child processes against a
 * real relay: what changed (and that nothing did), the audit entries with the maintainer's
 * name, the scheduler honouring a hold, and the refusals: a viewer's or a worker's token, an
 * unknown task, a priority out of range or not a number, a missing argument.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { owp, owpJson, type OwpOptions } from '../helpers/cli-run.js';
import { startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';

const REPO = 'acme/edits';
const A = `${REPO}:a`;
let r: TestRelay;
let maint: OwpOptions;
let viewer: OwpOptions;
let worker: OwpOptions;

interface Entry {
  kind: string;
  actor: string;
  taskId?: string;
  before?: number | boolean;
  after?: number | boolean;
}

const edits = async (): Promise<Entry[]> =>
  ((await r.api(r.adminToken, 'GET', `/api/audit?task=${encodeURIComponent(A)}&since=0&limit=1000`)).body.entries as Entry[]).filter((e) => e.kind.startsWith('task-') && e.kind !== 'task-queued');

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'owp-task-edit-'));
  r = await startTestRelay();
  maint = { url: r.url, token: (await r.relay.tokens.create({ role: 'maintainer', name: 'ann' })).token, home: join(dir, 'maint') };
  viewer = { url: r.url, token: await r.token('viewer'), home: join(dir, 'viewer') };
  worker = { url: r.url, token: await r.token('worker', 'w1'), home: join(dir, 'w1') };
  expect((await owp(['repo', 'add', REPO], maint)).code).toBe(0);
  expect((await r.api(maint.token, 'POST', '/api/tasks', { tasks: [{ id: A, repo: REPO, title: 'A' }] })).status).toBe(200);
  const reg = await owp(['worker', 'register', '--skills', 'docs', '--capacity', '5', '--max-concurrent', '2'], worker);
  expect(reg.code, reg.stderr).toBe(0);
});

afterAll(async () => {
  await r?.close();
});

describe('owp task hold / unhold', () => {
  it('holds a task (audited with the maintainer’s name) and the scheduler offers it to nobody', async () => {
    const held = await owp(['task', 'hold', A], maint);
    expect(held.code, held.stderr).toBe(0);
    expect(held.stdout).toBe(`Held ${A}. Lift it with \`owp task unhold ${A}\`.\n`);
    expect((await r.api(maint.token, 'GET', `/api/tasks/${encodeURIComponent(A)}`)).body.task.held).toBe(true);
    const refused = await owp(['claim', A], worker);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^owp: [a-z-]+: .*hold/m);
    await waitFor(async () => (await edits()).some((e) => e.kind === 'task-held'), 30_000, 'task-held audited');
    expect((await edits()).find((e) => e.kind === 'task-held')).toMatchObject({ actor: 'maintainer-ann', before: false, after: true });
    // `owp tasks` says it is held; `owp task show` too.
    expect((await owp(['tasks', '--repo', REPO], viewer)).stdout).toMatch(new RegExp(`^${A}\\s+queued,held\\s+1\\s+0\\s+0\\s`, 'm'));
    expect((await owp(['task', 'show', A], viewer)).stdout).toMatch(/held\s+yes/);
  });

  it('says so when the task is already on hold, and adds no audit entry (counted after the unhold below)', async () => {
    const again = await owpJson<{ changed: boolean; held: boolean }>(['task', 'hold', A], maint);
    expect(again).toMatchObject({ changed: false, held: true });
    const text = await owp(['task', 'hold', A], maint);
    expect(text.stdout).toBe(`${A} is already on hold; nothing changed.\n`);
  });

  it('lifts the hold (audited) and the task can be claimed again', async () => {
    const lifted = await owp(['task', 'unhold', A], maint);
    expect(lifted.code, lifted.stderr).toBe(0);
    expect(lifted.stdout).toBe(`Lifted the hold on ${A}; the scheduler may offer it again.\n`);
    expect((await owp(['task', 'unhold', A], maint)).stdout).toBe(`${A} is not on hold; nothing changed.\n`);
    await waitFor(async () => (await edits()).some((e) => e.kind === 'task-unheld'), 30_000, 'task-unheld audited');
    expect((await edits()).filter((e) => e.kind === 'task-held' || e.kind === 'task-unheld')).toHaveLength(2);
    const claimed = await owp(['claim', A], worker);
    expect(claimed.code, claimed.stderr).toBe(0);
    // A lease already held runs on: the hold stops only the next offer, and says so.
    const onLease = await owp(['task', 'hold', A], maint);
    expect(onLease.stdout).toContain('it is leased: the current lease runs on');
    expect((await owp(['task', 'unhold', A], maint)).code).toBe(0);
  });
});

describe('owp task priority', () => {
  it('sets the priority, negative ones too, and says what it was', async () => {
    const up = await owp(['task', 'priority', A, '20'], maint);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toBe(`Priority of ${A}: 0 -> 20.\n`);
    const down = await owpJson<{ priority: number; before: number; changed: boolean }>(['task', 'priority', A, '-5'], maint);
    expect(down).toMatchObject({ priority: -5, before: 20, changed: true });
    expect((await r.api(maint.token, 'GET', `/api/tasks/${encodeURIComponent(A)}`)).body.task.priority).toBe(-5);
    expect((await owp(['task', 'priority', A, '-5'], maint)).stdout).toBe(`${A} already has priority -5; nothing changed.\n`);
    expect((await owp(['tasks', '--repo', REPO], viewer)).stdout).toMatch(new RegExp(`^${A}\\s+leased\\s+1\\s+0\\s+-5\\s`, 'm'));
    await waitFor(async () => (await edits()).filter((e) => e.kind === 'task-priority-changed').length === 2, 30_000, 'both changes audited');
    expect((await edits()).filter((e) => e.kind === 'task-priority-changed').map((e) => [e.before, e.after, e.actor])).toEqual([
      [0, 20, 'maintainer-ann'],
      [20, -5, 'maintainer-ann'],
    ]);
  });

  it('refuses a priority out of range or not a whole number before sending anything (exit 2)', async () => {
    for (const bad of ['101', '-101', '2.5', 'high']) {
      const res = await owp(['task', 'priority', A, bad], maint);
      expect(res.code, bad).toBe(2);
      expect(res.stderr, bad).toMatch(/^owp: usage: N \(the priority\) must be (a whole number|between -100 and 100)/);
      expect(res.stderr).toContain('owp task priority --help');
    }
    const missing = await owp(['task', 'priority', A], maint);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('owp: usage: missing N (the priority');
    expect((await owp(['task', 'hold'], maint)).stderr).toContain('owp: usage: missing TASK_ID');
    expect((await owp(['task', 'hold', A, 'extra'], maint)).stderr).toContain('owp: usage: unexpected argument "extra"');
    expect((await r.api(maint.token, 'GET', `/api/tasks/${encodeURIComponent(A)}`)).body.task.priority).toBe(-5);
  });
});

describe('refusals from the relay', () => {
  it('refuses a viewer and a worker (not-authorized, exit 1) and changes nothing', async () => {
    for (const who of [viewer, worker]) {
      for (const args of [['task', 'hold', A], ['task', 'unhold', A], ['task', 'priority', A, '9']]) {
        const res = await owp(args, who);
        expect(res.code, args.join(' ')).toBe(1);
        expect(res.stderr).toMatch(/^owp: not-authorized: /);
      }
    }
    const task = (await r.api(maint.token, 'GET', `/api/tasks/${encodeURIComponent(A)}`)).body.task;
    expect(task).toMatchObject({ held: false, priority: -5 });
  });

  it('refuses an unknown task with its code and a sentence (exit 1), in JSON too', async () => {
    const res = await owp(['task', 'hold', `${REPO}:nope`], maint);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^owp: unknown-task: No task acme\/edits:nope/);
    const json = await owp(['task', 'priority', `${REPO}:nope`, '3', '--json'], maint);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).error.code).toBe('unknown-task');
  });

  it('lists the three commands in `owp task --help`', async () => {
    const help = await owp(['task', '--help'], maint);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/task hold TASK_ID\s+hold a task/);
    expect(help.stdout).toMatch(/task unhold TASK_ID\s+lift the hold/);
    expect(help.stdout).toMatch(/task priority TASK_ID N\s+set a task's priority/);
  });
});
