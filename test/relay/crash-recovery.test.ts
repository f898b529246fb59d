/**
 * Write before broadcast, proven with a real crash: the relay runs as a child process,
 * workers claim over HTTP, the relay gets `kill -9` mid-stream and restarts on the same
 * LevelDB. Every grant a client saw is still there, no task has two leases, fencing tokens
 * never go back, and the audit chain verifies.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TaskRuntime, WorkerRuntime } from '../../shared/model.js';
import { startRelayProcess, type RelayProcess } from '../helpers/child.js';
import { api, waitFor } from '../helpers/relay.js';

const ADMIN = 'owp_crash_test_admin_token_0123456789';
const WORKERS = 12;
const TASKS = 400;

interface Grant {
  taskId: string;
  workerId: string;
  fencingToken: number;
}

describe('crash safety', () => {
  const dirs: string[] = [];
  const procs: RelayProcess[] = [];
  afterAll(async () => {
    for (const p of procs) if (p.proc.exitCode === null) p.proc.kill('SIGKILL');
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('kill -9 during a stream of claims loses no grant a client saw and grants nothing twice', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'owp-crash-'));
    dirs.push(dataDir);
    const env = { OWP_ADMIN_TOKEN: ADMIN };
    const first = await startRelayProcess(dataDir, env);
    procs.push(first);
    const maint = (await api(first.url, ADMIN, 'POST', '/api/tokens', { role: 'maintainer' })).body.token as string;
    const tasks = Array.from({ length: TASKS }, (_, i) => ({ id: `o/r#${i + 1}`, repo: 'o/r', title: `Task ${i + 1}` }));
    expect((await api(first.url, maint, 'PUT', '/api/repos/o/r', { reviewBudget: 1000, dailyQuota: 10000 })).status).toBe(200);
    expect((await api(first.url, maint, 'POST', '/api/tasks', { createRepo: true, tasks })).status).toBe(200);
    const workers: { id: string; token: string }[] = [];
    for (let i = 0; i < WORKERS; i++) {
      const id = `w${i}`;
      const token = (await api(first.url, ADMIN, 'POST', '/api/tokens', { role: 'worker', workerId: id })).body.token as string;
      expect((await api(first.url, token, 'POST', '/api/workers/register', { skills: [], capacity: 1000, maxConcurrent: 100, maxOpenPrs: 100 })).status).toBe(200);
      workers.push({ id, token });
    }

    const seen: Grant[] = [];
    let stop = false;
    const loops = workers.map(async (w) => {
      while (!stop) {
        try {
          const res = await api(first.url, w.token, 'POST', '/api/claim', {});
          if (res.status === 200 && res.body.outcome.status === 'granted') {
            seen.push({ taskId: res.body.outcome.taskId, workerId: w.id, fencingToken: res.body.outcome.fencingToken });
          } else if (res.status === 429) {
            await new Promise((r) => setTimeout(r, 200));
          }
        } catch {
          return; // the relay died under us: this request's answer was never seen
        }
      }
    });
    await waitFor(() => seen.length >= 60, 60_000, 'some grants before the crash');
    first.proc.kill('SIGKILL');
    const ex = await first.exited;
    expect(ex.signal).toBe('SIGKILL');
    stop = true;
    await Promise.all(loops);
    const seenAtCrash = [...seen];

    const second = await startRelayProcess(dataDir, env);
    procs.push(second);
    const all = (await api(second.url, maint, 'GET', '/api/tasks')).body.tasks as { task: { id: string }; runtime: TaskRuntime | null }[];
    const rt = new Map(all.map((t) => [t.task.id, t.runtime]));
    // Every grant a client saw is still there, held by the same worker with the same token.
    for (const g of seenAtCrash) {
      const r = rt.get(g.taskId);
      expect(r, g.taskId).toBeTruthy();
      expect(r!.state).toBe('leased');
      expect(r!.lease!.workerId).toBe(g.workerId);
      expect(r!.lease!.fencingToken).toBe(g.fencingToken);
    }
    // No task granted twice: each task id was seen once, and held by at most one worker.
    expect(new Set(seenAtCrash.map((g) => g.taskId)).size).toBe(seenAtCrash.length);
    const workersNow = (await api(second.url, maint, 'GET', '/api/workers')).body.workers as { runtime: WorkerRuntime | null }[];
    const holders = new Map<string, number>();
    for (const w of workersNow) for (const t of w.runtime?.activeLeases ?? []) holders.set(t, (holders.get(t) ?? 0) + 1);
    for (const [t, n] of holders) {
      expect(n, t).toBe(1);
      expect(rt.get(t)?.state).toBe('leased');
    }
    for (const [id, r] of rt) if (r?.state === 'leased') expect(holders.get(id), id).toBe(1);

    // Fencing tokens never go back: release one seen grant and claim it again.
    const g = seenAtCrash[0];
    const holder = workers.find((w) => w.id === g.workerId)!;
    const rel = await api(second.url, holder.token, 'POST', `/api/tasks/${encodeURIComponent(g.taskId)}/release`, { fencingToken: g.fencingToken });
    expect(rel.status).toBe(200);
    const other = workers.find((w) => w.id !== g.workerId)!;
    const again = await api(second.url, other.token, 'POST', '/api/claim', { taskId: g.taskId });
    expect(again.status).toBe(200);
    expect(again.body.lease.fencingToken).toBe(g.fencingToken + 1);

    // The audit chain survived the crash intact.
    const v = await api(second.url, maint, 'GET', '/api/audit/verify');
    expect(v.body.ok).toBe(true);
    const granted = (await api(second.url, maint, 'GET', '/api/audit?limit=1000')).body.entries.filter((e: { kind: string }) => e.kind === 'lease-granted');
    expect(granted.length).toBeGreaterThanOrEqual(seenAtCrash.length);

    second.proc.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
    // A CPU budget, not a speed claim: two relay processes and a claim stream on a busy 2-core box.
  }, 300_000);
});
