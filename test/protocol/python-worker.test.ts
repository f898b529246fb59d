/**
 * The second client: examples/python-worker (Python standard library only) runs the
 * contributor journey against the reference relay: register, claim-next, heartbeat, submit,
 * and a lease lost mid-work (a maintainer cancels the task) handled by moving on; long work
 * keeps its lease by heartbeats every third of the ttl.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

const WORKER = join(import.meta.dirname, '..', '..', 'examples', 'python-worker', 'owp_worker.py');
const PYTHON = process.env.OWP_PYTHON ?? 'python3';
const hasPython = spawnSync(PYTHON, ['--version']).status === 0;

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; events: Record<string, unknown>[]; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, [WORKER, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('close', (code) => resolve({ code, events: out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>), stderr: err }));
  });
}

let r: TestRelay;
beforeAll(async () => {
  r = await startTestRelay();
});
afterAll(() => r.close());

describe('examples/python-worker', () => {
  it(`needs ${PYTHON} on PATH (set OWP_PYTHON to another interpreter)`, () => {
    expect(hasPython, `${PYTHON} was not found: the Python worker cannot be checked; install Python 3 or set OWP_PYTHON`).toBe(true);
  });

  it.runIf(hasPython)('registers, claims the next task, heartbeats, submits, and moves on after lease-lost', async () => {
    const maint = await r.token('maintainer');
    const worker = await r.token('worker', 'py-1');
    await r.api(maint, 'PUT', '/api/repos/octo/py', { allowedTiers: [0] });
    const tasks = [
      { id: 'octo/py#1', repo: 'octo/py', issueNumber: 1, title: 'first', priority: 10 },
      { id: 'octo/py#2', repo: 'octo/py', issueNumber: 2, title: 'second', priority: 0 },
    ];
    expect((await r.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks })).status).toBe(200);
    // The work on task 1 is interrupted: a maintainer cancels it (its lease ends).
    const cancelFirst = `if [ "$OWP_TASK_ID" = "octo/py#1" ]; then ${PYTHON} -c "import os,urllib.request as u; u.urlopen(u.Request(os.environ['RELAY']+'/api/tasks/octo%2Fpy%231/cancel', data=b'{}', method='POST', headers={'Authorization':'Bearer '+os.environ['MAINT'],'Content-Type':'application/json'}))"; fi`;
    const res = await run(['--url', r.url, '--skills', 'docs', '--work-cmd', cancelFirst], { OWP_TOKEN: worker, RELAY: r.url, MAINT: maint });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.events.map((e) => `${String(e.event)} ${String(e.taskId ?? '')}`.trim())).toEqual([
      'relay',
      'registered',
      'claimed octo/py#1',
      'heartbeat octo/py#1',
      'lease-lost octo/py#1',
      'claimed octo/py#2',
      'heartbeat octo/py#2',
      'submitted octo/py#2',
      'idle',
    ]);
    expect(res.events[0]).toMatchObject({ protocol: '0.1' });
    const t2 = (await r.api(maint, 'GET', '/api/tasks/octo%2Fpy%232')).body;
    expect(t2.runtime).toMatchObject({ state: 'pr_open', prUrl: 'https://github.com/octo/py/pull/2' });
    expect((await r.api(maint, 'GET', '/api/tasks/octo%2Fpy%231')).body.runtime.state).toBe('cancelled');
  });

  it.runIf(hasPython)('heartbeats every third of the ttl while the work runs (OWP-LEASE-8), so long work keeps its lease', async () => {
    const maint = await r.token('maintainer');
    const worker = await r.token('worker', 'py-2');
    // 30 s leases: a heartbeat every 10 s. The work waits for the relay to show one (a state, not a sleep).
    await r.api(maint, 'PUT', '/api/repos/octo/pyttl', { allowedTiers: [0], leaseTtlMs: 30_000 });
    expect((await r.api(maint, 'POST', '/api/tasks', { tasks: [{ id: 'octo/pyttl#1', repo: 'octo/pyttl', issueNumber: 1, title: 'long work' }] })).status).toBe(200);
    const dir = await mkdtemp(join(tmpdir(), 'owp-py-'));
    const waiter = join(dir, 'wait_for_heartbeat.py');
    await writeFile(
      waiter,
      [
        'import json, os, sys, time, urllib.parse, urllib.request',
        'url = os.environ["RELAY"] + "/api/tasks/" + urllib.parse.quote(os.environ["OWP_TASK_ID"], safe="")',
        'start = int(os.environ["OWP_LEASE_EXPIRES_AT"])',
        'deadline = time.time() + 90',
        'while time.time() < deadline:',
        '    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + os.environ["MAINT"]})',
        '    lease = json.load(urllib.request.urlopen(req))["runtime"].get("lease") or {}',
        '    if lease.get("expiresAt", 0) > start:',
        '        sys.exit(0)',
        '    time.sleep(0.2)',
        'sys.exit("no heartbeat moved the lease while the work ran")',
      ].join('\n'),
    );
    try {
      const res = await run(['--url', r.url, '--max-tasks', '1', '--work-cmd', `${PYTHON} ${waiter}`], { OWP_TOKEN: worker, RELAY: r.url, MAINT: maint });
      expect(res.stderr).toBe('');
      expect(res.code).toBe(0);
      const steps = res.events.map((e) => String(e.event));
      expect(steps[0]).toBe('relay');
      expect(steps.filter((e) => e === 'heartbeat').length).toBeGreaterThanOrEqual(2);
      expect(steps.at(-1)).toBe('submitted');
      expect((await r.api(maint, 'GET', `/api/tasks/${encodeURIComponent('octo/pyttl#1')}`)).body.runtime.state).toBe('pr_open');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.runIf(hasPython)('a refused token ends it with the code on stderr and exit 1', async () => {
    const res = await run(['--url', r.url], { OWP_TOKEN: 'owp_not-a-token' });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/^owp_worker: unauthorized: /);
  });
});
