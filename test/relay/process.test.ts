/**
 * The relay as the container runs it: the Dockerfile's CMD (the compiled build, dist/, made
 * fresh for this run by test/build-dist.ts) as a child process answers
 * /healthz, prints where it listens and the admin token once, and on SIGTERM finishes its
 * work, flushes and exits 0 with everything on disk.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startFailureMessage } from '../../server/main.js';
import { dockerCmd, startRelayProcess, type RelayProcess } from '../helpers/child.js';
import { api, waitFor } from '../helpers/relay.js';
import { connectDoc } from '../helpers/yclient.js';

describe('relay process', () => {
  const dirs: string[] = [];
  const procs: RelayProcess[] = [];
  const tempDir = async () => {
    const d = await mkdtemp(join(tmpdir(), 'owp-proc-'));
    dirs.push(d);
    return d;
  };
  /** One `owp serve` that is expected to fail at start: its exit status and stderr. */
  const serveOnce = async (dataDir: string, env: Record<string, string>) => {
    const { spawn } = await import('node:child_process');
    const [cmd, ...args] = dockerCmd();
    const child = spawn(cmd!, args, {
      cwd: join(import.meta.dirname, '../..'),
      env: { ...process.env, OWP_HOST: '127.0.0.1', OWP_DATA: dataDir, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.stdout.resume();
    // A start that should fail but listens instead is killed, and its null status fails the test.
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const status = await new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    clearTimeout(guard);
    return { status, stderr };
  };
  afterAll(async () => {
    for (const p of procs) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("runs the Dockerfile's CMD: /healthz answers, the admin token is printed once and works", async () => {
    expect(dockerCmd()).toEqual(['node', 'dist/main.js']);
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
    await api(p.url, maint, 'POST', '/api/tasks', { createRepo: true, tasks: [1, 2, 3].map((n) => ({ id: `o/r#${n}`, repo: 'o/r', title: `T${n}` })) });
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

  it('a port already in use: exit 1 with a sentence naming the port and --port / OWP_PORT, not "listen EADDRINUSE"', async () => {
    const first = await startRelayProcess(await tempDir());
    procs.push(first);
    const port = new URL(first.url).port;
    const r = await serveOnce(await tempDir(), { OWP_PORT: port });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`Port ${port} on 127.0.0.1 is already in use: another relay may be running. Stop it, or pick another port with --port or OWP_PORT.`);
    expect(r.stderr).not.toMatch(/listen EADDRINUSE/);
    first.proc.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
  });

  it('a data folder another relay holds: exit 1, "in use by another relay", the running one unharmed', async () => {
    const dataDir = await tempDir();
    const first = await startRelayProcess(dataDir);
    procs.push(first);
    const r = await serveOnce(dataDir, { OWP_PORT: '0' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`The data folder ${dataDir} is in use by another relay`);
    expect(r.stderr).toContain('--data or OWP_DATA');
    expect(r.stderr).not.toMatch(/Database failed to open|LOCK/);
    expect((await api(first.url, undefined, 'GET', '/healthz')).status).toBe(200);
    first.proc.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
  });

  it('a data folder that cannot be created: exit 1 naming the folder and --data / OWP_DATA', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'a-file'), 'not a folder');
    const dataDir = join(dir, 'a-file', 'data');
    const r = await serveOnce(dataDir, { OWP_PORT: '0' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`The data folder ${dataDir} cannot be created or written`);
    expect(r.stderr).toContain('Pick a folder this user can write with --data or OWP_DATA.');
  });

  it('bad flags exit 2 with a sentence', async () => {
    const { spawnSync } = await import('node:child_process');
    const [cmd, ...args] = dockerCmd();
    const r = spawnSync(cmd!, [...args, '--port', 'abc'], { cwd: join(import.meta.dirname, '../..'), encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('owp serve: config-invalid-value: --port is "abc": it must be a whole number from 0 to 65535.');
  });
});

describe('startFailureMessage', () => {
  const opts = { host: '0.0.0.0', port: 80, dataDir: '/srv/owp' };
  const err = (fields: Record<string, unknown>) => Object.assign(new Error(String(fields.message ?? 'boom')), fields);

  it('a port this process may not use says to pick one of 1024 or more', () => {
    expect(startFailureMessage(err({ code: 'EACCES', syscall: 'listen', message: 'listen EACCES: permission denied 0.0.0.0:80' }), opts)).toBe(
      'This process may not listen on port 80 on 0.0.0.0 (ports below 1024 usually need extra privileges). Pick a port of 1024 or more with --port or OWP_PORT.',
    );
  });

  it('an address that is not this machine\'s says which hosts to use', () => {
    expect(startFailureMessage(err({ code: 'EADDRNOTAVAIL', syscall: 'listen' }), { ...opts, host: '10.9.9.9' })).toMatch(
      /^10\.9\.9\.9 is not an address of this machine\. .*--host or OWP_HOST\.$/,
    );
  });

  it('a data folder that is not writable, and a database that does not open for another reason', () => {
    expect(startFailureMessage(err({ code: 'EACCES', syscall: 'mkdir', path: '/srv/owp', message: "EACCES: permission denied, mkdir '/srv/owp'" }), opts)).toBe(
      "The data folder /srv/owp cannot be created or written (EACCES: permission denied, mkdir '/srv/owp'). Pick a folder this user can write with --data or OWP_DATA.",
    );
    const io = err({ code: 'LEVEL_DATABASE_NOT_OPEN', message: 'Database failed to open', cause: { code: 'LEVEL_IO_ERROR', message: 'IO error: read-only file system' } });
    expect(startFailureMessage(io, opts)).toBe(
      "The data folder /srv/owp could not be opened as the relay's database (IO error: read-only file system). Check that this user can write it, or pick another folder with --data or OWP_DATA.",
    );
  });

  it('a file error outside the data folder, or anything else, keeps its own words', () => {
    expect(startFailureMessage(err({ code: 'ENOENT', syscall: 'open', path: '/app/package.json', message: 'ENOENT: no such file' }), opts)).toBe(
      'could not start the relay: ENOENT: no such file',
    );
    expect(startFailureMessage('odd', opts)).toBe('could not start the relay: odd');
  });
});
