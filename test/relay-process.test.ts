/**
 * The relay as the container runs it: the Dockerfile's CMD as a child process answers
 * /healthz, prints where it listens and the admin token once, and on SIGTERM finishes its
 * work, flushes and exits 0 with everything on disk.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dockerCmd, startRelayProcess, type RelayProcess } from './helpers/child.js';
import { api, waitFor } from './helpers/relay.js';
import { connectDoc } from './helpers/yclient.js';

describe('relay process', () => {
  const dirs: string[] = [];
  const procs: RelayProcess[] = [];
  afterAll(async () => {
    for (const p of procs) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("runs the Dockerfile's CMD: /healthz answers, the admin token is printed once and works", async () => {
    expect(dockerCmd()).toEqual(['node', '--import', 'tsx', 'server/main.ts']);
    const dataDir = await mkdtemp(join(tmpdir(), 'owp-proc-'));
    dirs.push(dataDir);
    const p = await startRelayProcess(dataDir);
    procs.push(p);
    const h = await api(p.url, undefined, 'GET', '/healthz');
    expect(h.status).toBe(200);
    expect(h.body.ok).toBe(true);
    const token = await waitFor(() => /OWP_ADMIN_TOKEN=(owp_\S+)/.exec(p.output())?.[1]);
    expect(p.output()).toMatch(/Dashboard: /);
    expect((await api(p.url, token, 'GET', '/api/me')).body.role).toBe('admin');
    p.proc.kill('SIGTERM');
    expect((await p.exited).code).toBe(0);
    // Second start on the same data: no new token is printed, the old one still works.
    const p2 = await startRelayProcess(dataDir);
    procs.push(p2);
    expect(p2.output()).not.toMatch(/OWP_ADMIN_TOKEN=/);
    expect((await api(p2.url, token, 'GET', '/api/me')).status).toBe(200);
    p2.proc.kill('SIGTERM');
    expect((await p2.exited).code).toBe(0);
  });

  it('SIGTERM exits 0 with everything flushed: board, ledger, inbox profile and outcomes survive', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'owp-proc-'));
    dirs.push(dataDir);
    const admin = 'owp_process_test_admin_token_000000';
    const p = await startRelayProcess(dataDir, { OWP_ADMIN_TOKEN: admin });
    procs.push(p);
    const maint = (await api(p.url, admin, 'POST', '/api/tokens', { role: 'maintainer' })).body.token;
    const w = (await api(p.url, admin, 'POST', '/api/tokens', { role: 'worker', workerId: 'w1' })).body.token;
    await api(p.url, maint, 'POST', '/api/tasks', { tasks: [1, 2, 3].map((n) => ({ id: `o/r#${n}`, repo: 'o/r', title: `T${n}` })) });
    await api(p.url, w, 'POST', '/api/workers/register', { skills: [], capacity: 5, maxConcurrent: 3 });
    const c = await api(p.url, w, 'POST', '/api/claim', { taskId: 'o/r#1', intentId: 'keep-me' });
    expect(c.status).toBe(200);
    // A claim sent together with SIGTERM: if it is answered, it must be on disk.
    const late = api(p.url, w, 'POST', '/api/claim', { taskId: 'o/r#2', intentId: 'late' }).catch(() => undefined);
    p.proc.kill('SIGTERM');
    const lateRes = await late;
    expect((await p.exited).code).toBe(0);
    expect(p.output()).toMatch(/relay stopped/);

    const p2 = await startRelayProcess(dataDir, { OWP_ADMIN_TOKEN: admin });
    procs.push(p2);
    const tasks = (await api(p2.url, maint, 'GET', '/api/tasks')).body.tasks;
    expect(tasks.map((t: { task: { id: string } }) => t.task.id)).toEqual(['o/r#1', 'o/r#2', 'o/r#3']);
    const rt1 = (await api(p2.url, maint, 'GET', `/api/tasks/${encodeURIComponent('o/r#1')}`)).body.runtime;
    expect(rt1.lease.fencingToken).toBe(1);
    if (lateRes?.status === 200) {
      const rt2 = (await api(p2.url, maint, 'GET', `/api/tasks/${encodeURIComponent('o/r#2')}`)).body.runtime;
      expect(rt2.lease.fencingToken).toBe(lateRes.body.lease.fencingToken);
    }
    const workers = (await api(p2.url, maint, 'GET', '/api/workers')).body.workers;
    expect(workers.find((x: { profile: { id: string } | null }) => x.profile?.id === 'w1')).toBeTruthy();
    // The same intent id after the restart: the stored outcome, not a second grant.
    const again = await api(p2.url, w, 'POST', '/api/claim', { taskId: 'o/r#1', intentId: 'keep-me' });
    expect(again.body.outcome).toEqual(c.body.outcome);
    // The ledger doc matches LevelDB.
    const ledger = await connectDoc(p2.url.replace(/^http/, 'ws') + '/yjs', 'owp/ledger', maint);
    try {
      expect((ledger.doc.getMap('outcomes').get('keep-me') as { status: string }).status).toBe('granted');
      expect((ledger.doc.getMap('tasks').get('o/r#1') as { state: string }).state).toBe('leased');
    } finally {
      ledger.destroy();
    }
    p2.proc.kill('SIGTERM');
    expect((await p2.exited).code).toBe(0);
  });

  it('bad flags exit 2 with a sentence', async () => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync('node', ['--import', 'tsx', 'server/main.ts', '--port', 'abc'], { cwd: join(import.meta.dirname, '..'), encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/port must be a number/);
  });
});
