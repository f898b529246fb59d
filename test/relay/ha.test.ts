/**
 * Two relays on one PostgreSQL database (OWP_RELAY_ID mode, server/store/postgres-cluster.ts):
 * one arbitrates; the other serves reads, forwards intents and answers only with the
 * arbiter's committed outcome; tokens, documents and ledger reach both; when the arbiter
 * stops, the other takes over under the next epoch and the leases carry on. Real relays, real
 * PostgreSQL; waits poll for states.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

const enc = encodeURIComponent;
let cluster: TestPostgres;
beforeAll(async () => {
  cluster = await startPostgres();
});
afterAll(async () => {
  await cluster?.stop();
});

type Role = { relayId: string; role: string; epoch: number; arbiter: string | null };
const roleOf = async (r: TestRelay): Promise<Role> => (await r.api(undefined, 'GET', '/api/cluster')).body as Role;

describe('several relays on one database', () => {
  it('one arbitrates; the other forwards, reads what was committed, and takes over when the arbiter stops', async () => {
    const url = await cluster.database();
    const relays: TestRelay[] = [];
    try {
      for (const relayId of ['a', 'b']) relays.push(await startTestRelay({ databaseUrl: url, relayId, electionLeaseMs: 1000, tickMs: 2 }));
      const [a, b] = relays;
      await waitFor(async () => (await roleOf(a)).arbiter === 'a' && (await roleOf(b)).arbiter === 'a', 10_000, 'b sees a as arbiter');
      expect((await roleOf(a)).role).toBe('arbiter');
      expect((await roleOf(b)).role).toBe('follower');

      // Tokens made on one relay are known to the other.
      const maint = await a.token('maintainer');
      const w1 = await a.token('worker', 'w1');
      const viewer = await b.token('viewer');
      await waitFor(async () => (await b.api(w1, 'GET', '/api/status')).status === 200 && (await a.api(viewer, 'GET', '/api/status')).status === 200, 10_000, 'tokens on both');

      // Everything below goes through the follower.
      expect((await b.api(maint, 'PUT', '/api/repos/o/r', { reviewBudget: 3 })).status).toBe(200);
      const up = await b.api(maint, 'POST', '/api/tasks', { tasks: [{ id: 'o/r#1', repo: 'o/r', title: 'One', skills: ['ts'], points: 1 }] });
      expect(up.status).toBe(200);
      expect((await b.api(w1, 'POST', '/api/workers/register', { skills: ['ts'], capacity: 5, maxConcurrent: 3 })).status).toBe(200);
      // The arbiter sees the board and the profile through the shared documents.
      await waitFor(async () => (await a.api(viewer, 'GET', `/api/tasks/${enc('o/r#1')}`)).body?.runtime?.state === 'queued', 10_000, 'task queued at the arbiter');
      const claim = await waitFor(async () => {
        const c = await b.api(w1, 'POST', '/api/claim', { taskId: 'o/r#1', intentId: 'ha-claim-1' });
        return c.status === 200 ? c : undefined;
      }, 10_000, 'a claim through the follower');
      expect(claim.body.outcome).toMatchObject({ status: 'granted', taskId: 'o/r#1' });
      const token = claim.body.outcome.fencingToken as number;
      // Answered only after the arbiter committed it: the arbiter shows the lease already.
      expect((await a.api(viewer, 'GET', `/api/tasks/${enc('o/r#1')}`)).body.runtime.lease).toMatchObject({ workerId: 'w1', fencingToken: token });
      // Read your writes on the follower: the answer and the next read show the batch that answered.
      expect(claim.body.lease).toMatchObject({ workerId: 'w1', fencingToken: token });
      expect((await b.api(viewer, 'GET', `/api/tasks/${enc('o/r#1')}`)).body.runtime.lease).toMatchObject({ workerId: 'w1', fencingToken: token });
      // The same intent id again: the stored outcome, not a second grant.
      const again = await b.api(w1, 'POST', '/api/claim', { taskId: 'o/r#1', intentId: 'ha-claim-1' });
      expect(again.body.outcome).toEqual(claim.body.outcome);

      // The arbiter stops; b takes over under the next epoch and the lease carries on.
      const epoch = (await roleOf(b)).epoch;
      await a.close();
      relays.shift();
      await waitFor(async () => (await roleOf(b)).role === 'arbiter', 10_000, 'b arbitrates');
      expect((await roleOf(b)).epoch).toBe(epoch + 1);
      const hb = await b.api(w1, 'POST', `/api/tasks/${enc('o/r#1')}/heartbeat`, { fencingToken: token });
      expect(hb.status).toBe(200);
      const done = await b.api(w1, 'POST', `/api/tasks/${enc('o/r#1')}/complete`, { fencingToken: token });
      expect(done.status).toBe(200);
      expect(done.body.runtime.state).toBe('done');
      const verify = await b.api(viewer, 'GET', '/api/audit/verify');
      expect(verify.body).toMatchObject({ ok: true });
    } finally {
      for (const r of relays) await r.close();
      await cluster.drop(url);
    }
  });
});
