/**
 * The storage port's contract (./contract.ts) on PostgreSQL: a private cluster (initdb +
 * pg_ctl in a temp folder, test/helpers/postgres.ts), a fresh database per test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../server/store/index.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { storeContract } from './contract.js';

let cluster: TestPostgres;
beforeAll(async () => {
  cluster = await startPostgres();
});
afterAll(async () => {
  await cluster?.stop();
});

storeContract({
  name: 'postgres',
  exclusive: false,
  async create() {
    const url = await cluster.database();
    return { open: () => openPostgresStore(url), dispose: () => cluster.drop(url) };
  },
});

describe('postgres store', () => {
  it('walks more than one page from one snapshot', async () => {
    const url = await cluster.database();
    const store = await openPostgresStore(url);
    const other = await openPostgresStore(url);
    try {
      const keys = Array.from({ length: 1200 }, (_, i) => `p/${String(i).padStart(4, '0')}`);
      await store.batch(keys.map((key, i) => ({ type: 'put' as const, key, value: i })));
      const seen: string[] = [];
      for await (const [k] of store.iterate({ gte: 'p/', lt: 'p0' })) {
        // Another relay deletes and adds keys while the walk is under way: the walk does not see it.
        if (seen.length === 1) await other.batch([{ type: 'del', key: 'p/0900' }, { type: 'put', key: 'p/0900a', value: 1 }]);
        seen.push(k);
      }
      expect(seen).toEqual(keys);
      expect((await store.keys('p/')).length).toBe(1200);
      // Newest first across a page boundary: 1199..0901 (299), 0900a, then 0899 down to 0500.
      expect((await store.keys('p/', { reverse: true, limit: 700 }))[699]).toBe('p/0500');
    } finally {
      await other.close();
      await store.close();
      await cluster.drop(url);
    }
  });

  it('says where it could not connect, without the password', async () => {
    const url = `postgres://owp:secret@127.0.0.1:${cluster.port}/no_such_database`;
    const err = await openPostgresStore(url).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'unavailable' });
    expect(String((err as Error).message)).toContain(`127.0.0.1:${cluster.port}/no_such_database`);
    expect(String((err as Error).message)).not.toContain('secret');
  });
});
