/**
 * The crash test against three relays on one PostgreSQL database (issue 15, item 4): relay
 * processes r1..r3 elect one arbiter; workers claim through one relay and complete through
 * another; the arbiter gets `kill -9`, again and again (it comes back as a follower). After
 * every kill another relay is elected within twice the election lease (measured on the
 * database's clock). At the end the history checker finds: every grant a client saw is in the
 * audit log and the ledger, no task held twice, fencing tokens strictly increasing per task,
 * the audit chain intact. Waits poll for states; a time figure is asserted only for the
 * election, whose bound is the feature's promise.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskRuntime, WorkerRuntime } from '../../shared/model.js';
import { startRelayProcess, type RelayProcess } from '../helpers/child.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { api, waitFor } from '../helpers/relay.js';

const ADMIN = 'owp_ha_crash_admin_token_0123456789';
const LEASE_MS = 2500;
const CYCLES = 3;
const WORKERS = 6;
const TASKS = 600;
const enc = encodeURIComponent;

interface Grant {
  taskId: string;
  workerId: string;
  fencingToken: number;
}

let pg: TestPostgres;
const dirs: string[] = [];
const procs: RelayProcess[] = [];
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(async () => {
  for (const p of procs) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
  await Promise.all(procs.map((p) => p.exited));
  for (const d of dirs) await rm(d, { recursive: true, force: true });
  await pg?.stop();
});

type Leader = { holder: string; epoch: string; now: Date; expires_at: Date };
let dbUrl = '';
const leader = async (): Promise<Leader | undefined> => (await pg.query('SELECT holder, epoch, expires_at, now() AS now FROM owp_leader WHERE id = 1', [], dbUrl))[0] as Leader | undefined;

describe('three relays on one database, the arbiter killed again and again', () => {
  it('elects another arbiter within the bound each time, and loses or doubles no acknowledged grant', async () => {
    const url = await pg.database();
    dbUrl = url;
    const live = new Map<string, RelayProcess>();
    const start = async (relayId: string) => {
      const dir = await mkdtemp(join(tmpdir(), 'owp-ha-'));
      dirs.push(dir);
      const p = await startRelayProcess(dir, { OWP_DATABASE_URL: url, OWP_RELAY_ID: relayId, OWP_ELECTION_LEASE: `${LEASE_MS}ms`, OWP_ADMIN_TOKEN: ADMIN });
      procs.push(p);
      live.set(relayId, p);
      return p;
    };
    await Promise.all(['r1', 'r2', 'r3'].map(start));
    const urls = () => [...live.values()].map((p) => p.url);
    const role = async (u: string) => (await api(u, undefined, 'GET', '/api/cluster')).body as { relayId: string; role: string; epoch: number };
    await waitFor(async () => (await Promise.all(urls().map(role))).filter((r) => r.role === 'arbiter').length === 1, 30_000, 'one arbiter');

    const first = urls()[0];
    const maint = (await api(first, ADMIN, 'POST', '/api/tokens', { role: 'maintainer' })).body.token as string;
    const repo = await api(first, maint, 'PUT', '/api/repos/o/r', { reviewBudget: 1000, dailyQuota: 10000 });
    expect(repo.status, JSON.stringify(repo.body)).toBe(200);
    const tasks = Array.from({ length: TASKS }, (_, i) => ({ id: `o/r#${i + 1}`, repo: 'o/r', title: `Task ${i + 1}` }));
    expect((await api(first, maint, 'POST', '/api/tasks', { tasks })).status).toBe(200);
    const workers: { id: string; token: string }[] = [];
    for (let i = 0; i < WORKERS; i++) {
      const id = `w${i}`;
      const token = (await api(first, ADMIN, 'POST', '/api/tokens', { role: 'worker', workerId: id })).body.token as string;
      workers.push({ id, token });
    }
    // Every relay knows every token before the workers start.
    await waitFor(async () => (await Promise.all(urls().flatMap((u) => workers.map((w) => api(u, w.token, 'GET', '/api/status'))))).every((r) => r.status === 200), 30_000, 'tokens on every relay');
    for (const w of workers) expect((await api(urls()[1], w.token, 'POST', '/api/workers/register', { skills: [], capacity: 1000, maxConcurrent: 100, maxOpenPrs: 100 })).status).toBe(200);

    const seen: Grant[] = [];
    const completed = new Set<string>();
    let stop = false;
    const loops = workers.map(async (w, i) => {
      let n = i;
      while (!stop) {
        n += 1;
        const relays = urls();
        const via = relays[n % relays.length];
        const other = relays[(n + 1) % relays.length];
        try {
          const res = await api(via, w.token, 'POST', '/api/claim', {});
          if (res.status === 429) await new Promise((r) => setTimeout(r, 100));
          if (res.status !== 200 || res.body.outcome.status !== 'granted') continue;
          const g: Grant = { taskId: res.body.outcome.taskId, workerId: w.id, fencingToken: res.body.outcome.fencingToken };
          seen.push(g);
          const done = await api(other, w.token, 'POST', `/api/tasks/${enc(g.taskId)}/complete`, { fencingToken: g.fencingToken });
          if (done.status === 200) completed.add(g.taskId);
        } catch {
          // that relay died under this request: its answer was never seen; go on elsewhere
        }
      }
    });

    const failovers: number[] = [];
    try {
      for (let cycle = 0; cycle < CYCLES; cycle++) {
        const before = seen.length;
        await waitFor(() => seen.length >= before + 15, 60_000, `grants in cycle ${cycle + 1}`);
        const old = (await leader())!;
        const victim = live.get(old.holder)!;
        // The database's clock just before the kill: the figure can only come out longer.
        const killedAt = old.now.getTime();
        victim.proc.kill('SIGKILL');
        live.delete(old.holder);
        expect((await victim.exited).signal).toBe('SIGKILL');
        const next = await waitFor(async () => {
          const l = await leader();
          return l && l.holder !== old.holder ? l : undefined;
        }, 30_000, 'another arbiter');
        // Elected at most at expires_at - lease (set on acquiring, moved only later by renewals):
        // the figure holds the election alone, not how late this poll ran on a busy machine.
        failovers.push(Math.min(next.now.getTime(), next.expires_at.getTime() - LEASE_MS) - killedAt);
        expect(Number(next.epoch)).toBe(Number(old.epoch) + 1);
        // Clients carry on through the survivors; the killed relay comes back as a follower (not after the last kill).
        const after = seen.length;
        await waitFor(() => seen.length > after, 60_000, 'a grant under the new arbiter');
        if (cycle < CYCLES - 1) await start(old.holder);
      }
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    console.log(`failover (kill -9 to another relay elected, database clock): ${failovers.map((ms) => `${ms} ms`).join(', ')}; lease ${LEASE_MS} ms`);
    for (const ms of failovers) expect(ms).toBeLessThanOrEqual(2 * LEASE_MS);

    // Every relay comes to show the arbiter's ledger (followers follow the store after each batch).
    const arbiter = await waitFor(async () => {
      for (const u of urls()) if ((await role(u)).role === 'arbiter') return u;
      return undefined;
    }, 30_000, 'the arbiter');
    type Row = { task: { id: string }; runtime: TaskRuntime | null };
    const tasksOf = async (at: string) => (await api(at, maint, 'GET', '/api/tasks')).body.tasks as Row[];
    await waitFor(async () => {
      const [truth, ...others] = await Promise.all([arbiter, ...urls().filter((x) => x !== arbiter)].map(tasksOf));
      return others.every((o) => JSON.stringify(o) === JSON.stringify(truth));
    }, 30_000, 'every relay showing the same ledger');
    // The history checker, on the arbiter.
    const u = arbiter;
    const all = await tasksOf(u);
    const rt = new Map(all.map((t) => [t.task.id, t.runtime]));
    const entries: { seq: number; kind: string; taskId?: string; workerId?: string; fencingToken?: number }[] = [];
    for (let since = 0; ; ) {
      const page = (await api(u, maint, 'GET', `/api/audit?since=${since}&limit=1000`)).body.entries as typeof entries;
      entries.push(...page);
      if (page.length < 1000) break;
      since = page[page.length - 1].seq;
    }
    const granted = entries.filter((e) => e.kind === 'lease-granted');
    // Every grant a client saw is recorded once, and the ledger still shows it (held, or done by its worker).
    for (const g of seen) {
      expect(granted.filter((e) => e.taskId === g.taskId && e.fencingToken === g.fencingToken && e.workerId === g.workerId), g.taskId).toHaveLength(1);
      const r = rt.get(g.taskId)!;
      if (completed.has(g.taskId)) expect(r.state, g.taskId).toBe('done');
      else if (r.state === 'leased') expect(r.lease).toMatchObject({ workerId: g.workerId, fencingToken: g.fencingToken });
      else expect(r.state, g.taskId).toBe('done');
    }
    // No task granted twice by clients, fencing tokens strictly increasing per task in the log.
    expect(new Set(seen.map((g) => g.taskId)).size).toBe(seen.length);
    const lastToken = new Map<string, number>();
    for (const e of granted) {
      expect(e.fencingToken!, e.taskId).toBeGreaterThan(lastToken.get(e.taskId!) ?? 0);
      lastToken.set(e.taskId!, e.fencingToken!);
    }
    // No task held by two workers.
    const workersNow = (await api(u, maint, 'GET', '/api/workers')).body.workers as { runtime: WorkerRuntime | null }[];
    const holders = new Map<string, number>();
    for (const w of workersNow) for (const t of w.runtime?.activeLeases ?? []) holders.set(t, (holders.get(t) ?? 0) + 1);
    for (const [t, n] of holders) expect(n, t).toBe(1);
    expect((await api(u, maint, 'GET', '/api/audit/verify')).body.ok).toBe(true);
    // A CPU budget, not a speed claim: five relay processes over the test on a busy 2-core box.
  }, 300_000);
});
