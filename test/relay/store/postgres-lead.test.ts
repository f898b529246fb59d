/**
 * One arbiter among relays on one PostgreSQL database: exactly one is elected, a lease that
 * lapses passes to another relay under a higher epoch, and a deposed arbiter's fenced write
 * is refused and writes nothing (server/store/postgres-lead.ts). Waits poll for a state,
 * never for a time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresBackend, type PostgresBackend } from '../../../server/store/postgres.js';
import { Election, fencedBackend } from '../../../server/store/postgres-lead.js';
import { createStore } from '../../../server/store/index.js';
import { waitFor } from '../../helpers/relay.js';
import { startPostgres, type TestPostgres } from '../../helpers/postgres.js';

let cluster: TestPostgres;
beforeAll(async () => {
  cluster = await startPostgres();
});
afterAll(async () => {
  await cluster?.stop();
});

async function withDatabase(fn: (open: () => Promise<PostgresBackend>) => Promise<void>): Promise<void> {
  const url = await cluster.database();
  const opened: PostgresBackend[] = [];
  try {
    await fn(async () => {
      const b = await openPostgresBackend(url, { max: 4 });
      opened.push(b);
      return b;
    });
  } finally {
    for (const b of opened) await b.close();
    await cluster.drop(url);
  }
}

describe('arbiter election on PostgreSQL', () => {
  it('elects exactly one of three relays; stopping it hands over under the next epoch', async () => {
    await withDatabase(async (open) => {
      const relays = await Promise.all(['r1', 'r2', 'r3'].map(async (relayId) => Election.open((await open()).pool, { relayId, leaseMs: 10_000 })));
      try {
        const arbiters = () => relays.filter((e) => e.current().role === 'arbiter');
        await waitFor(() => arbiters().length === 1);
        const first = arbiters()[0];
        const epoch = first.current().epoch;
        await waitFor(() => relays.every((e) => e.current().epoch === epoch));
        expect(relays.filter((e) => e.current().role === 'arbiter')).toEqual([first]);
        await first.stop();
        await waitFor(() => arbiters().length === 1 && arbiters()[0] !== first, 30_000);
        expect(arbiters()[0].current().epoch).toBe(epoch + 1);
      } finally {
        for (const e of relays) await e.stop();
      }
    });
  });

  it('relays starting at the same moment on a fresh database all open (the schema change is serialised)', async () => {
    // Unserialised, concurrent CREATE TABLE IF NOT EXISTS fails with a unique violation in
    // pg_type now and then; eight openers on five fresh databases made that show up reliably.
    for (let round = 0; round < 5; round++) {
      await withDatabase(async (open) => {
        const backends = await Promise.all(Array.from({ length: 8 }, () => open()));
        const relays = await Promise.all(backends.map((b, i) => Election.open(b.pool, { relayId: `r${i}`, leaseMs: 10_000 })));
        try {
          expect(relays.filter((e) => e.current().role === 'arbiter').length).toBeLessThanOrEqual(1);
        } finally {
          for (const e of relays) await e.stop();
        }
      });
    }
  });

  it('a deposed arbiter that still believes it leads is fenced: its batch fails and writes nothing', async () => {
    await withDatabase(async (open) => {
      const a = await open();
      const b = await open();
      // A never renews in time (a long pause); B tries often.
      const ea = await Election.open(a.pool, { relayId: 'a', leaseMs: 300, renewMs: 3_600_000 });
      expect(ea.current()).toMatchObject({ role: 'arbiter', epoch: 1 });
      const storeA = createStore(fencedBackend(a, ea));
      await storeA.put('ledger/meta', { by: 'a' });
      const eb = await Election.open(b.pool, { relayId: 'b', leaseMs: 300, renewMs: 20 });
      try {
        await waitFor(() => eb.current().role === 'arbiter', 30_000);
        expect(eb.current().epoch).toBe(2);
        expect(ea.current()).toMatchObject({ role: 'arbiter', epoch: 1 });
        await expect(storeA.batch([{ type: 'put', key: 'ledger/meta', value: { by: 'a-late' } }, { type: 'put', key: 'ledger/task/x', value: 1 }])).rejects.toMatchObject({ code: 'fenced' });
        const storeB = createStore(fencedBackend(b, eb));
        expect(await storeB.get('ledger/meta')).toEqual({ by: 'a' });
        expect(await storeB.get('ledger/task/x')).toBeUndefined();
        await storeB.put('ledger/meta', { by: 'b' });
        expect(await storeB.get('ledger/meta')).toEqual({ by: 'b' });
        // A's next step finds the row taken and steps down.
        await ea.step();
        expect(ea.current()).toMatchObject({ role: 'follower' });
      } finally {
        await ea.stop();
        await eb.stop();
      }
    });
  });
});
