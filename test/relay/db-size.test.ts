/**
 * `owp_db_size_bytes` (issue 14, item 4) on both stores, over real /metrics scrapes: LevelDB
 * counts its data folder, PostgreSQL the relay's tables (a private cluster from
 * test/helpers/postgres.ts). Writing 512 KiB of random (incompressible) data through the
 * relay's own store grows the metric by at least that much less a margin. A size that cannot
 * be read (a database that is down) leaves the scrape answering, without the sample.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RelayMetrics } from '../../server/metrics/index.js';
import { emptyBoard, emptyLedger } from '../../shared/model.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startTestRelay, TEST_ADMIN_TOKEN, type TestRelay } from '../helpers/relay.js';

const BLOB = 512 * 1024;

async function dbSize(r: TestRelay): Promise<number | undefined> {
  const res = await fetch(`${r.url}/metrics`, { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
  expect(res.status).toBe(200);
  const m = /^owp_db_size_bytes (\d+)$/m.exec(await res.text());
  return m ? Number(m[1]) : undefined;
}

/** Write `BLOB` bytes of random base64 (several keys, as the relay's stores hold many values). */
async function writeBlob(r: TestRelay, tag: string): Promise<void> {
  const kv = r.relay.relay.kv('db-size-test');
  for (let i = 0; i < 8; i++) await kv.put(`${tag}-${i}`, randomBytes((BLOB / 8) * 0.75).toString('base64'));
}

describe('owp_db_size_bytes', () => {
  it('LevelDB: the data folder, growing with what is written', async () => {
    const r = await startTestRelay();
    try {
      const before = await dbSize(r);
      expect(before).toBeGreaterThan(0);
      await writeBlob(r, 'level');
      const after = await dbSize(r);
      expect(after! - before!).toBeGreaterThanOrEqual(BLOB * 0.9);
    } finally {
      await r.close();
    }
  });

  describe('PostgreSQL', () => {
    let pg: TestPostgres;
    beforeAll(async () => {
      pg = await startPostgres();
    }, 180_000);
    afterAll(async () => {
      await pg?.stop();
    });

    it("the relay's tables (not the whole database), growing with what is written", async () => {
      const databaseUrl = await pg.database();
      // Another application's table in the same database does not count.
      await pg.query('CREATE TABLE other_app (b bytea)', [], databaseUrl);
      await pg.query("INSERT INTO other_app SELECT decode(repeat('ab', 1048576), 'hex')", [], databaseUrl);
      const r = await startTestRelay({ databaseUrl });
      try {
        const before = await dbSize(r);
        expect(before).toBeGreaterThan(0);
        const [row] = (await pg.query("SELECT pg_total_relation_size('owp_kv')::bigint AS kv, pg_database_size(current_database())::bigint AS db", [], databaseUrl)) as { kv: string; db: string }[];
        expect(before).toBeGreaterThanOrEqual(Number(row!.kv));
        expect(before).toBeLessThan(Number(row!.db));
        await writeBlob(r, 'pg');
        const after = await dbSize(r);
        expect(after! - before!).toBeGreaterThanOrEqual(BLOB * 0.9);

      } finally {
        await r.close();
      }
    });
  });

  it('a size that cannot be read is left out of the scrape, which still answers', async () => {
    const m = new RelayMetrics();
    m.watch({ ledger: emptyLedger, board: emptyBoard, sockets: () => 0, streams: () => 0, dbSizeBytes: () => Promise.reject(new Error('the database is down')) });
    const { text } = await m.scrape();
    expect(text).toContain('# TYPE owp_db_size_bytes gauge');
    expect(text).not.toMatch(/^owp_db_size_bytes /m);
    expect(text).toMatch(/^owp_connected_clients\{kind="sse"\} 0$/m);
  });
});
