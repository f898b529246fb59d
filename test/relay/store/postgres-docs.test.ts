/**
 * Documents shared by relays on one PostgreSQL database (server/store/postgres-docs.ts,
 * server/store/postgres-bus.ts, DocStore's fanout): updates written on one relay reach the
 * others (small ones inside the note, large ones by key), update keys never collide, a
 * relay that missed notes catches up from the store once its listening connection is back,
 * and only the compacting relay folds the log, losing nothing another relay wrote meanwhile.
 * Real PostgreSQL; waits poll for a state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Y from 'yjs';
import { PgBus } from '../../../server/store/postgres-bus.js';
import { ensureDocGenTable, postgresDocFanout } from '../../../server/store/postgres-docs.js';
import { openPostgresBackend, type PostgresBackend } from '../../../server/store/postgres.js';
import { createStore, type StoreBackend } from '../../../server/store/index.js';
import { DocStore, docKeyPrefix, docSnapKey, type DocFanout } from '../../../server/sync/docstore.js';
import { quietLogger, waitFor } from '../../helpers/relay.js';
import { startPostgres, type TestPostgres } from '../../helpers/postgres.js';

let cluster: TestPostgres;
beforeAll(async () => {
  cluster = await startPostgres();
});
afterAll(async () => {
  await cluster?.stop();
});

interface Relay {
  backend: PostgresBackend;
  bus: PgBus;
  docs: DocStore;
  /** While true, notes from the others are dropped (as if the connection had missed them). */
  deaf: { on: boolean };
  remoteDocs: string[];
}

async function withRelays(n: number, compactor: (i: number, b: PostgresBackend) => StoreBackend | undefined, fn: (relays: Relay[], url: string) => Promise<void>): Promise<void> {
  const url = await cluster.database();
  const relays: Relay[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const backend = await openPostgresBackend(url, { max: 4 });
      const bus = await PgBus.open(url, { log: quietLogger });
      await ensureDocGenTable(backend.pool);
      const real = postgresDocFanout(backend, bus, () => (compactor(i, backend) ? async () => undefined : undefined));
      const deaf = { on: false };
      const fanout: DocFanout = {
        ...real,
        subscribe: (l) => real.subscribe({ update: (...a) => (deaf.on ? undefined : l.update(...a)), rotated: (...a) => (deaf.on ? undefined : l.rotated(...a)), resync: () => l.resync() }),
      };
      const remoteDocs: string[] = [];
      const docs = new DocStore(createStore(backend), { fanout, compactEvery: 1_000_000, log: quietLogger, onRemoteDoc: (d) => remoteDocs.push(d) });
      relays.push({ backend, bus, docs, deaf, remoteDocs });
    }
    await fn(relays, url);
  } finally {
    for (const r of relays) {
      await r.docs.close();
      await r.bus.close();
      await r.backend.close();
    }
    await cluster.drop(url);
  }
}

const text = (doc: Y.Doc) => doc.getText('t').toString();

describe('documents shared through PostgreSQL', () => {
  it('an update on one relay reaches the others, small ones in the note and large ones by key; keys never collide', async () => {
    await withRelays(2, () => undefined, async ([a, b]) => {
      const da = await a.docs.get('owp/board');
      const db = await b.docs.get('owp/board');
      da.getText('t').insert(0, 'from a;');
      db.getText('t').insert(0, 'from b;');
      await waitFor(() => text(da).length === 14 && text(db) === text(da), 10_000, 'both updates on both relays');
      const big = 'x'.repeat(20_000);
      da.getMap('m').set('big', big);
      await waitFor(() => db.getMap('m').get('big') === big, 10_000, 'the large update on b');
      await a.docs.flush();
      await b.docs.flush();
      // Both relays wrote their first update as seq 1: two keys, not one overwritten.
      const keys = await createStore(a.backend).keys(docKeyPrefix('owp/board') + 'u/');
      expect(keys).toHaveLength(3);
      expect(new Set(keys.map((k) => k.slice(k.lastIndexOf('-') + 1))).size).toBe(2);
      // A third relay process reads the same doc back from the store.
      const fresh = new DocStore(createStore(a.backend));
      const dc = await fresh.get('owp/board');
      expect(text(dc)).toBe(text(da));
      expect(dc.getMap('m').get('big')).toBe(big);
      await fresh.close();
    });
  });

  it('an update for a doc a relay has not loaded is reported to it (the relay may load it)', async () => {
    await withRelays(2, () => undefined, async ([a, b]) => {
      const d = await a.docs.get('owp/inbox/w9');
      d.getMap('profile').set('name', 'w9');
      await waitFor(() => b.remoteDocs.includes('owp/inbox/w9'), 10_000, 'the unknown doc reported');
      const loaded = await b.docs.get('owp/inbox/w9');
      expect(loaded.getMap('profile').get('name')).toBe('w9');
    });
  });

  it('a relay that missed notes catches up from the store once its listening connection is back', async () => {
    await withRelays(2, () => undefined, async ([a, b]) => {
      const da = await a.docs.get('owp/ledger');
      const db = await b.docs.get('owp/ledger');
      b.deaf.on = true;
      da.getMap('m').set('missed', 1);
      da.getMap('m').set('big', 'y'.repeat(10_000));
      await a.docs.flush();
      expect(db.getMap('m').get('missed')).toBeUndefined();
      b.deaf.on = false;
      const pid = b.bus.pid();
      await cluster.query('SELECT pg_terminate_backend($1)', [pid]);
      await waitFor(() => b.bus.connections === 2, 20_000, 'the listening connection made again');
      await waitFor(() => db.getMap('m').get('missed') === 1 && (db.getMap('m').get('big') as string | undefined)?.length === 10_000, 10_000, 'caught up');
    });
  });

  it('only the compacting relay folds the log; what the other wrote meanwhile survives', async () => {
    await withRelays(2, (i, backend) => (i === 0 ? backend : undefined), async ([a, b], url) => {
      const da = await a.docs.get('owp/ledger');
      const db = await b.docs.get('owp/ledger');
      const store = createStore(a.backend);
      for (let i = 0; i < 40; i++) {
        db.getMap('b').set(`k${i}`, i);
        if (i % 10 === 9) {
          // b notes are dropped at a while it compacts: the fold must read them from the store.
          a.deaf.on = true;
          await b.docs.flush();
          await a.docs.compact('owp/ledger');
          a.deaf.on = false;
        }
      }
      await b.docs.compact('owp/ledger'); // b may not compact: nothing changes
      await b.docs.flush();
      expect(await store.getBinary(docSnapKey('owp/ledger'))).toBeDefined();
      const other = await openPostgresBackend(url, { max: 2 });
      try {
        const back = await new DocStore(createStore(other)).get('owp/ledger');
        for (let i = 0; i < 40; i++) expect(back.getMap('b').get(`k${i}`)).toBe(i);
      } finally {
        await other.close();
      }
      expect(da.getMap('b').get('k39')).toBe(39);
    });
  });
});
