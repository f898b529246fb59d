/**
 * A relay on PostgreSQL (OWP_DATABASE_URL) instead of LevelDB: the claim path works, every
 * byte outlives the relay (a new relay with an empty data folder carries on), the audit chain
 * verifies, and a second relay on the same database is refused while the first runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

let cluster: TestPostgres;
beforeAll(async () => {
  cluster = await startPostgres();
});
afterAll(async () => {
  await cluster?.stop();
});

const enc = encodeURIComponent;

describe('relay on PostgreSQL', () => {
  it('claims, survives a restart on another machine’s empty folder, and refuses a second relay', async () => {
    const databaseUrl = await cluster.database();
    let r: TestRelay | undefined = await startTestRelay({ databaseUrl, tickMs: 2 });
    try {
      const maint = await r.token('maintainer');
      const w1 = await r.token('worker', 'w1');
      expect((await r.api(w1, 'POST', '/api/workers/register', { skills: ['ts'], capacity: 5, maxConcurrent: 3 })).status).toBe(200);
      const up = await r.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id: 'o/r#1', repo: 'o/r', title: 'One', skills: ['ts'], points: 1 }] });
      expect(up.body.added).toEqual(['o/r#1']);
      const claim = await r.api(w1, 'POST', '/api/claim', { taskId: 'o/r#1', intentId: 'pg-1' });
      expect(claim.status).toBe(200);
      expect(claim.body.outcome.status).toBe('granted');

      await expect(startTestRelay({ databaseUrl })).rejects.toMatchObject({ code: 'locked' });

      await r.close();
      r = await startTestRelay({ databaseUrl, tickMs: 2 });
      const rt = (await r.api(w1, 'GET', `/api/tasks/${enc('o/r#1')}`)).body.runtime;
      expect(rt.state).toBe('leased');
      expect(rt.lease.workerId).toBe('w1');
      expect(rt.fencingToken).toBe(1);
      const again = await r.api(w1, 'POST', '/api/claim', { taskId: 'o/r#1', intentId: 'pg-1' });
      expect(again.body.outcome).toEqual(claim.body.outcome);
      const verify = await r.api(maint, 'GET', '/api/audit/verify');
      expect(verify.body.ok).toBe(true);
      expect(verify.body.entries).toBeGreaterThan(0);
    } finally {
      await r?.close();
      await cluster.drop(databaseUrl);
    }
  });
});
