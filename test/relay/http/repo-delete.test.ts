/**
 * DELETE /api/repos/:owner/:name against a real relay: admin only, refused (409 repo-in-use,
 * nothing changed) while the repo has a live task, and once its tasks are finished the policy
 * goes, the answer holds it, and the hash-chained audit log records who deleted it, also
 * when engine batches write the log at the same moment.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { owp } from '../../helpers/cli-run.js';
import { startTestRelay, type TestRelay } from '../../helpers/relay.js';

let r: TestRelay;
let maint: string;
const enc = encodeURIComponent;

beforeAll(async () => {
  r = await startTestRelay({ tickMs: 2 });
  maint = await r.token('maintainer');
});
afterAll(async () => r?.close());

describe('DELETE /api/repos/:owner/:name', () => {
  it('is for admins only, and an unknown repo is 404 unknown-repo', async () => {
    expect((await r.api(maint, 'PUT', '/api/repos/del/roles', { reviewBudget: 2 })).status).toBe(200);
    const denied = await r.api(maint, 'DELETE', '/api/repos/del/roles');
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('not-authorized');
    const unknown = await r.api(r.adminToken, 'DELETE', '/api/repos/del/nothing');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: 'unknown-repo' });
    expect(unknown.body.error.message).toBe('No policy for del/nothing; list the pool\'s repos with GET /api/repos.');
  });

  it('is refused with repo-in-use while a task is live, then deletes and audits once the tasks are finished', async () => {
    expect((await r.api(maint, 'PUT', '/api/repos/del/live', { reviewBudget: 3 })).status).toBe(200);
    expect((await r.api(maint, 'POST', '/api/tasks', { tasks: [{ id: 'del/live#1', repo: 'del/live', title: 'one' }] })).status).toBe(200);
    const refused = await r.api(r.adminToken, 'DELETE', '/api/repos/del/live');
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('repo-in-use');
    expect(refused.body.error.message).toBe('del/live still has 1 live task (del/live#1); cancel them (owp cancel TASK) or let them finish, then delete the policy.');
    const repos = (await r.api(maint, 'GET', '/api/repos')).body.repos as { repo: string }[];
    expect(repos.map((x) => x.repo)).toContain('del/live');

    expect((await r.api(maint, 'POST', `/api/tasks/${enc('del/live#1')}/cancel`, { reason: 'trial over' })).status).toBe(200);
    const deleted = await r.api(r.adminToken, 'DELETE', '/api/repos/del/live');
    expect(deleted.status).toBe(200);
    expect(deleted.body.repo).toMatchObject({ repo: 'del/live', reviewBudget: 3 });
    const after = (await r.api(maint, 'GET', '/api/repos')).body.repos as { repo: string }[];
    expect(after.map((x) => x.repo)).not.toContain('del/live');
    expect((await r.api(r.adminToken, 'DELETE', '/api/repos/del/live')).status).toBe(404);

    const entries = (await r.api(r.adminToken, 'GET', '/api/audit?limit=1000')).body.entries as { kind: string; repo?: string; actor: string }[];
    const audit = entries.filter((e) => e.kind === 'repo-deleted');
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ repo: 'del/live', actor: expect.stringMatching(/^admin-/) });
    expect((await r.api(r.adminToken, 'GET', '/api/audit/verify')).body.ok).toBe(true);
  });

  it('keeps the audit chain whole when deletions and engine batches write it at the same moment', async () => {
    const w = await r.token('worker', 'del-w');
    expect((await r.api(w, 'POST', '/api/workers/register', { skills: [], capacity: 50, maxConcurrent: 20, maxOpenPrs: 20 })).status).toBe(200);
    expect((await r.api(maint, 'PUT', '/api/repos/del/busy', { reviewBudget: 50 })).status).toBe(200);
    const tasks = Array.from({ length: 20 }, (_, i) => ({ id: `del/busy#${i}`, repo: 'del/busy', title: `t${i}` }));
    expect((await r.api(maint, 'POST', '/api/tasks', { tasks })).status).toBe(200);
    const names = Array.from({ length: 10 }, (_, i) => `del/idle${i}`);
    for (const n of names) expect((await r.api(maint, 'PUT', `/api/repos/${n}`, {})).status).toBe(200);
    const answers = await Promise.all([
      ...tasks.map((t) => r.api(w, 'POST', '/api/claim', { taskId: t.id })),
      ...names.map((n) => r.api(r.adminToken, 'DELETE', `/api/repos/${n}`)),
    ]);
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    const verify = (await r.api(r.adminToken, 'GET', '/api/audit/verify')).body;
    expect(verify).toMatchObject({ ok: true });
    const entries = (await r.api(r.adminToken, 'GET', '/api/audit?limit=1000')).body.entries as { kind: string; repo?: string }[];
    expect(entries.filter((e) => e.kind === 'repo-deleted' && e.repo?.startsWith('del/idle')).map((e) => e.repo).sort()).toEqual([...names].sort());
    expect(entries.filter((e) => e.kind === 'lease-granted')).toHaveLength(20);
  });

  it('`owp repo delete` (the real CLI) says repo-in-use while a task is live, then deletes and prints the policy', async () => {
    const home = await mkdtemp(join(tmpdir(), 'owp-repo-del-'));
    try {
      const o = { url: r.url, token: r.adminToken, home };
      expect((await owp(['repo', 'add', 'del/cli', '--budget', '4'], o)).code).toBe(0);
      expect((await r.api(maint, 'POST', '/api/tasks', { tasks: [{ id: 'del/cli#1', repo: 'del/cli', title: 'one' }] })).status).toBe(200);
      const busy = await owp(['repo', 'delete', 'del/cli'], o);
      expect(busy.code).toBe(1);
      expect(busy.stderr).toMatch(/^owp: repo-in-use: del\/cli still has 1 live task \(del\/cli#1\)/);
      expect((await r.api(maint, 'POST', `/api/tasks/${enc('del/cli#1')}/cancel`, {})).status).toBe(200);
      const done = await owp(['repo', 'delete', 'del/cli'], o);
      expect(done.code).toBe(0);
      expect(done.stdout).toMatch(/^Deleted:/);
      expect(done.stdout).toContain('del/cli');
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  }, 120_000);
});
