/**
 * `owp migrate` (the real CLI) moves a real LevelDB relay's pool into a private PostgreSQL:
 * a relay started on the database has the same tasks and leases, the old tokens work (a
 * revoked one stays revoked), a lease carries on with its fencing token, and the audit chain
 * verifies. Refused, writing nothing: a folder a relay still runs on, a missing folder, a
 * database that holds a pool (unless --replace), a database a relay runs on (even with
 * --replace), and a folder whose audit chain is broken.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditKey } from '../../server/audit/index.js';
import { openStore } from '../../server/store/index.js';
import { owp, type OwpResult } from '../helpers/cli-run.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';

const TASKS = 40;
const WORKERS = 3;
const enc = encodeURIComponent;

let pgc: TestPostgres;
let home = '';
const dirs: string[] = [];
beforeAll(async () => {
  pgc = await startPostgres();
  home = await mkdtemp(join(tmpdir(), 'owp-migrate-home-'));
  dirs.push(home);
});
afterAll(async () => {
  await pgc?.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const migrate = (args: string[]): Promise<OwpResult> => owp(['migrate', ...args, '--json'], { home });
const refusal = (r: OwpResult) => ({ code: r.code, error: /^owp: ([a-z-]+):/m.exec(r.stderr)?.[1] });
const keysIn = async (url: string) => Number(((await pgc.query('SELECT count(*)::int AS n FROM owp_kv', [], url)) as { n: number }[])[0]!.n);

interface Lease {
  taskId: string;
  workerId: string;
  fencingToken: number;
}

describe('owp migrate', () => {
  it('copies a LevelDB pool into PostgreSQL: same tasks, leases, working tokens and an intact chain; refuses what it must', async () => {
    const data = join(await mkdtemp(join(tmpdir(), 'owp-migrate-')), 'data');
    dirs.push(join(data, '..'));
    const url = await pgc.database();

    // A real relay on LevelDB with tasks, leases, finished work, tokens and a revoked token.
    const a = await startTestRelay({ dataDir: data, tickMs: 2 });
    let onPg: TestRelay | undefined;
    try {
      const maint = await a.token('maintainer');
      expect((await a.api(maint, 'PUT', '/api/repos/o/r', { reviewBudget: 100 })).status).toBe(200);
      const tasks = Array.from({ length: TASKS }, (_, i) => ({ id: `o/r#${i + 1}`, repo: 'o/r', title: `Task ${i + 1}`, skills: ['ts'], points: 1 }));
      expect((await a.api(maint, 'POST', '/api/tasks', { tasks })).status).toBe(200);
      const workers: { id: string; token: string }[] = [];
      for (let i = 0; i < WORKERS; i++) {
        const id = `w${i}`;
        const token = await a.token('worker', id);
        expect((await a.api(token, 'POST', '/api/workers/register', { skills: ['ts'], capacity: 100, maxConcurrent: 10 })).status).toBe(200);
        workers.push({ id, token });
      }
      const leases: Lease[] = [];
      for (const w of workers) {
        for (let k = 0; k < 3; k++) {
          const c = await a.api(w.token, 'POST', '/api/claim', { intentId: `${w.id}-claim-${k}` });
          expect(c.body.outcome.status).toBe('granted');
          leases.push({ taskId: c.body.outcome.taskId, workerId: w.id, fencingToken: c.body.outcome.fencingToken });
        }
      }
      // Each worker finishes its first lease: done tasks, more audit entries.
      for (const w of workers) {
        const l = leases.find((x) => x.workerId === w.id)!;
        expect((await a.api(w.token, 'POST', `/api/tasks/${enc(l.taskId)}/complete`, { fencingToken: l.fencingToken })).status).toBe(200);
        leases.splice(leases.indexOf(l), 1);
      }
      const revoked = await a.relay.tokens.create({ role: 'viewer', name: 'gone' });
      await a.relay.tokens.revoke(revoked.id);
      const before = {
        tasks: (await a.api(maint, 'GET', '/api/tasks')).body,
        audit: (await a.api(maint, 'GET', '/api/audit/verify')).body,
        ledger: a.relay.engine.ledger(),
      };
      expect(before.audit.ok).toBe(true);

      // Refused while the relay runs on the folder, and for a folder without a pool.
      expect(refusal(await migrate(['--from', data, '--to', url]))).toEqual({ code: 1, error: 'locked' });
      expect(refusal(await migrate(['--from', join(data, 'nothing-here'), '--to', url]))).toEqual({ code: 1, error: 'not-found' });
      await a.close();

      const r = await migrate(['--from', data, '--to', url]);
      expect(r.code, r.stderr).toBe(0);
      const s = JSON.parse(r.stdout);
      const tokensLive = WORKERS + 1; // workers + maintainer (the admin token comes from the environment)
      expect(s).toMatchObject({ tasks: TASKS, leases: leases.length, workers: WORKERS, audit: { entries: before.audit.entries }, replaced: 0 });
      expect(s.tokens).toBeGreaterThanOrEqual(tokensLive);
      expect(s.keys).toBe(await keysIn(url));
      expect(s.documents).toBeGreaterThan(0);

      // A second copy into the same database is refused; the database is unchanged.
      expect(refusal(await migrate(['--from', data, '--to', url]))).toEqual({ code: 1, error: 'not-empty' });
      expect(await keysIn(url)).toBe(s.keys);

      // A relay (one of several: OWP_RELAY_ID) on the database carries the pool on.
      onPg = await startTestRelay({ databaseUrl: url, relayId: 'pg-a', electionLeaseMs: 1000, tickMs: 2 });
      const pgRelay = onPg;
      await waitFor(async () => (await pgRelay.api(undefined, 'GET', '/api/cluster')).body?.role === 'arbiter', 10_000, 'the relay on PostgreSQL arbitrates');
      expect((await onPg.api(maint, 'GET', '/api/tasks')).body).toEqual(before.tasks);
      const held = Object.values(onPg.relay.engine.ledger().tasks)
        .filter((t) => t.state === 'leased')
        .map((t) => ({ taskId: t.taskId, workerId: t.lease!.workerId, fencingToken: t.lease!.fencingToken }));
      expect(held.sort((x, y) => x.taskId.localeCompare(y.taskId))).toEqual([...leases].sort((x, y) => x.taskId.localeCompare(y.taskId)));
      expect(onPg.relay.engine.ledger().outcomes).toEqual(before.ledger.outcomes);
      for (const w of workers) expect((await onPg.api(w.token, 'GET', '/api/me')).body).toMatchObject({ role: 'worker', workerId: w.id });
      expect((await onPg.api(revoked.token, 'GET', '/api/me')).status).toBe(401);
      // A copied intent id is answered from the stored outcome, not granted again.
      const again = await onPg.api(workers[0]!.token, 'POST', '/api/claim', { intentId: 'w0-claim-1' });
      expect(again.body.outcome).toMatchObject({ status: 'granted', fencingToken: leases.find((l) => l.workerId === 'w0')!.fencingToken });
      // A lease carries on with its fencing token; new claims get the next tokens.
      const l = leases[0]!;
      const owner = workers.find((w) => w.id === l.workerId)!;
      expect((await onPg.api(owner.token, 'POST', `/api/tasks/${enc(l.taskId)}/complete`, { fencingToken: l.fencingToken })).body.runtime.state).toBe('done');
      const verify = (await onPg.api(maint, 'GET', '/api/audit/verify')).body;
      expect(verify.ok).toBe(true);
      expect(verify.entries).toBeGreaterThan(before.audit.entries);

      // --replace is refused while a relay runs on the database.
      expect(refusal(await migrate(['--from', data, '--to', url, '--replace']))).toEqual({ code: 1, error: 'locked' });
      await onPg.close();
      onPg = undefined;

      // With every relay stopped, --replace puts the folder's pool back in place of the database's.
      const rr = await migrate(['--from', data, '--to', url, '--replace']);
      expect(rr.code, rr.stderr).toBe(0);
      expect(JSON.parse(rr.stdout)).toMatchObject({ keys: s.keys, sha256: s.sha256, replaced: expect.any(Number) });
      expect(JSON.parse(rr.stdout).replaced).toBeGreaterThan(0);

      // A folder whose audit chain was edited is refused; the database keeps what it held.
      const store = await openStore(join(data, 'leveldb'));
      const entry = await store.get<Record<string, unknown>>(auditKey(2));
      await store.put(auditKey(2), { ...entry, actor: 'someone else' });
      await store.close();
      const broken = await migrate(['--from', data, '--to', url, '--replace']);
      expect(refusal(broken)).toEqual({ code: 1, error: 'audit-broken' });
      expect(broken.stderr).toContain('broken at entry 2');
      expect(await keysIn(url)).toBe(s.keys);
    } finally {
      await onPg?.close();
      await a.close().catch(() => undefined);
      await pgc.drop(url);
    }
  });

  it('needs both places, and a PostgreSQL URL', async () => {
    expect((await migrate(['--to', 'postgres://x@127.0.0.1/db'])).code).toBe(2);
    expect((await migrate(['--from', home])).code).toBe(2);
    const bad = await migrate(['--from', home, '--to', 'mysql://x@127.0.0.1/db']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('PostgreSQL URL');
  });
});
