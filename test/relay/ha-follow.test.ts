/**
 * A follower relay reads only what the arbiter changed (server/store/postgres-ledger-log.ts):
 * over many batches (claims, releases and completions through both relays) its ledger is the
 * arbiter's after each one, its reads are of the changed entries (not the pool), and after
 * its listening connection is cut (notes missed) it catches up from the change log, again
 * without reading the whole ledger. Real relays, real PostgreSQL; waits poll for states.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ledger } from '../../shared/model.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';

const TASKS = 150;
const ROUNDS = 30;
const enc = encodeURIComponent;

let pgc: TestPostgres;
beforeAll(async () => {
  pgc = await startPostgres();
});
afterAll(async () => {
  await pgc?.stop();
});

type Follow = { wholeReads: number; changeReads: number; entriesRead: number; fanoutConnections: number };
const followOf = async (r: TestRelay): Promise<Follow> => (await r.api(undefined, 'GET', '/api/cluster')).body.follow as Follow;
const plain = (l: Ledger) => JSON.stringify({ batch: l.batch, tasks: l.tasks, workers: l.workers, outcomes: l.outcomes });
const same = (a: TestRelay, b: TestRelay) => plain(a.relay.engine.ledger()) === plain(b.relay.engine.ledger());

describe('a follower reads only what changed', () => {
  it('stays the arbiter’s ledger across many batches and after missed notes, reading changed entries only', async () => {
    const url = await pgc.database();
    const relays: TestRelay[] = [];
    try {
      // A long lease: no failover here, even on a busy machine (ha.test.ts and ha-crash.test.ts test failover).
      for (const relayId of ['a', 'b']) relays.push(await startTestRelay({ databaseUrl: url, relayId, electionLeaseMs: 15_000, tickMs: 2 }));
      const [a, b] = relays as [TestRelay, TestRelay];
      await waitFor(async () => (await a.api(undefined, 'GET', '/api/cluster')).body.role === 'arbiter' && (await b.api(undefined, 'GET', '/api/cluster')).body.arbiter === 'a', 10_000, 'a arbitrates, b follows');
      const maint = await a.token('maintainer');
      expect((await a.api(maint, 'PUT', '/api/repos/o/r', { reviewBudget: 1000 })).status).toBe(200);
      const tasks = Array.from({ length: TASKS }, (_, i) => ({ id: `o/r#${i + 1}`, repo: 'o/r', title: `Task ${i + 1}` }));
      expect((await a.api(maint, 'POST', '/api/tasks', { tasks })).status).toBe(200);
      const workers: { id: string; token: string; held: { taskId: string; fencingToken: number }[] }[] = [];
      for (let i = 0; i < 4; i++) {
        const token = await a.token('worker', `w${i}`);
        workers.push({ id: `w${i}`, token, held: [] });
      }
      // Tokens made on a reach b (a `tokens` note), then every worker registers through one relay or the other.
      for (const [i, w] of workers.entries()) {
        const via = i % 2 ? b : a;
        await waitFor(async () => (await via.api(w.token, 'POST', '/api/workers/register', { skills: [], capacity: 1000, maxConcurrent: 50, maxOpenPrs: 50 })).status === 200, 10_000, `${w.id} registers`);
      }
      await waitFor(() => Object.keys(a.relay.engine.ledger().tasks).length === TASKS && same(a, b), 10_000, 'b has the tasks');
      const start = await followOf(b);
      const firstBatch = a.relay.engine.ledger().batch;

      // Many batches, each through one relay or the other; after each, b holds a's ledger.
      for (let round = 0; round < ROUNDS; round++) {
        const w = workers[round % workers.length]!;
        const via = round % 3 === 0 ? a : b;
        const c = await via.api(w.token, 'POST', '/api/claim', { intentId: `round-${round}` });
        expect(c.body.outcome?.status, JSON.stringify(c.body)).toBe('granted');
        w.held.push({ taskId: c.body.outcome.taskId, fencingToken: c.body.outcome.fencingToken });
        if (round % 4 === 3) {
          const l = w.held.shift()!;
          const action = round % 8 === 3 ? 'complete' : 'release';
          expect((await via.api(w.token, 'POST', `/api/tasks/${enc(l.taskId)}/${action}`, { fencingToken: l.fencingToken })).status).toBe(200);
        }
        await waitFor(() => same(a, b), 10_000, `b follows round ${round}`);
      }
      const after = await followOf(b);
      // No whole read since start; the reads were of changed entries, a few per batch, not the pool.
      expect(after.wholeReads).toBe(start.wholeReads);
      expect(after.changeReads).toBeGreaterThan(start.changeReads);
      // A batch here changes a task, a worker and an outcome (and ledger/meta; the first claim every
      // worker's runtime): what was read is a few entries per batch, whatever the pool's size
      // (a whole read is 150 tasks and more, each time).
      const batches = a.relay.engine.ledger().batch - firstBatch;
      expect(after.entriesRead - start.entriesRead).toBeLessThan(5 * batches);

      // Cut b's listening connection: notes sent meanwhile are lost; b reconnects and catches up from the log.
      const cut = (await pgc.query(`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'owp-fanout-b'`, [], url)) as { ok: boolean }[];
      expect(cut).toEqual([{ ok: true }]);
      for (const w of workers) {
        const c = await a.api(w.token, 'POST', '/api/claim', { intentId: `missed-${w.id}` });
        expect(c.body.outcome.status).toBe('granted');
      }
      await waitFor(async () => (await followOf(b)).fanoutConnections === after.fanoutConnections + 1, 10_000, 'b listens again');
      await waitFor(() => same(a, b), 10_000, 'b caught up after missed notes');
      const missed = await followOf(b);
      expect(missed.wholeReads).toBe(start.wholeReads);
      for (const w of workers) expect(b.relay.engine.ledger().outcomes[`missed-${w.id}`]).toMatchObject({ status: 'granted' });
    } finally {
      for (const r of relays.reverse()) await r.close();
      await pgc.drop(url);
    }
  });
});
