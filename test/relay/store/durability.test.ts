/**
 * OWP_DURABILITY reaches the disk: through a real relay (HTTP claims, the real engine, LevelDB),
 * every LevelDB write carries `sync: true` by default (one synced write per tick for the ledger,
 * which holds the claim's grant and its audit entries) and `sync: false` with `os`. The file
 * backend fdatasyncs exactly the batches that ask for it; the document store groups a burst of
 * updates into one write. The spies call through: the writes are real.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// eslint-disable-next-line no-restricted-imports -- the test watches LevelDB's last JavaScript step before the native write
import { Level } from 'level';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseServeArgs } from '../../../server/main.js';
import { createStore, openFileStore, type Durability, type StoreBackend } from '../../../server/store/index.js';
import { openMemoryBackend } from '../../../server/store/memory.js';
import { DocStore } from '../../../server/sync/docstore.js';
import { startTestRelay, type TestRelay } from '../../helpers/relay.js';

interface Write {
  keys: string[];
  sync: boolean;
}

let relay: TestRelay | undefined;
const dirs: string[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await relay?.close();
  relay = undefined;
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/**
 * Record every batch LevelDB is asked to write (keys and the sync flag), then write it. The
 * LevelDB backend writes chained batches: each one's puts and dels, then its write(options).
 */
function watchLevel(): Write[] {
  const writes: Write[] = [];
  interface Chained {
    _put(key: string, value: unknown): void;
    _del(key: string): void;
    _write(options: { sync?: boolean }): Promise<void>;
  }
  const proto = Level.prototype as unknown as { _chainedBatch(): Chained; _batch(ops: Array<{ key: string }>, options: { sync?: boolean }): Promise<void> };
  const realChained = proto._chainedBatch;
  vi.spyOn(proto, '_chainedBatch').mockImplementation(function (this: unknown) {
    const b = realChained.call(this);
    const keys: string[] = [];
    const [put, del, write] = [b._put.bind(b), b._del.bind(b), b._write.bind(b)];
    b._put = (key, value) => (keys.push(key), put(key, value));
    b._del = (key) => (keys.push(key), del(key));
    b._write = (options) => (writes.push({ keys, sync: options?.sync === true }), write(options));
    return b;
  });
  const realBatch = proto._batch;
  vi.spyOn(proto, '_batch').mockImplementation(function (this: unknown, ops, options) {
    writes.push({ keys: ops.map((o) => o.key), sync: options?.sync === true });
    return realBatch.call(this, ops, options);
  });
  return writes;
}

async function claimOnce(durability: Durability | undefined): Promise<{ writes: Write[]; taskId: string; batches: number }> {
  const writes = watchLevel();
  relay = await startTestRelay(durability ? { durability } : {});
  const maint = await relay.token('maintainer');
  expect((await relay.api(maint, 'PUT', '/api/repos/o/r', { reviewBudget: 10 })).status).toBe(200);
  expect((await relay.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id: 'o/r#1', repo: 'o/r', title: 'One' }] })).status).toBe(200);
  const worker = await relay.token('worker', 'w1');
  expect((await relay.api(worker, 'POST', '/api/workers/register', { skills: [] })).status).toBe(200);
  const res = await relay.api(worker, 'POST', '/api/claim', {});
  expect(res.body.outcome).toMatchObject({ status: 'granted', taskId: 'o/r#1' });
  return { writes: [...writes], taskId: res.body.outcome.taskId as string, batches: relay.relay.engine.stats.batches };
}

describe('durability', () => {
  it('fsync (the default): every LevelDB write of a real relay is synced, one ledger write per tick, the grant among them', async () => {
    const { writes, taskId, batches } = await claimOnce(undefined);
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.filter((w) => !w.sync)).toEqual([]);
    const ledgerWrites = writes.filter((w) => w.keys.includes('ledger/meta'));
    // One synced write per tick, carrying the ledger entries and their audit entries together.
    expect(ledgerWrites).toHaveLength(batches);
    const grant = ledgerWrites.find((w) => w.keys.includes(`ledger/task/${taskId}`) && w.keys.some((k) => k.startsWith('audit/')));
    expect(grant?.sync).toBe(true);
    // Tokens and documents are synced as well (anything a client is told).
    expect(writes.some((w) => w.sync && w.keys.some((k) => k.startsWith('auth/')))).toBe(true);
    expect(writes.some((w) => w.sync && w.keys.some((k) => k.startsWith('doc/')))).toBe(true);
  });

  it('os: no LevelDB write of a real relay asks for a sync', async () => {
    const { writes } = await claimOnce('os');
    expect(writes.some((w) => w.keys.includes('ledger/meta'))).toBe(true);
    expect(writes.filter((w) => w.sync)).toEqual([]);
  });

  it('OWP_DURABILITY is read by owp serve: fsync by default, os, and a clear refusal otherwise', () => {
    expect(parseServeArgs([], {}).durability).toBe('fsync');
    expect(parseServeArgs([], { OWP_DURABILITY: 'os' }).durability).toBe('os');
    expect(() => parseServeArgs([], { OWP_DURABILITY: 'sometimes' })).toThrow(/config-invalid-value: OWP_DURABILITY is "sometimes": it must be one of fsync, os/);
  });

  it('the file backend fdatasyncs each batch with fsync durability and none with os', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'owp-durability-'));
    dirs.push(dir);
    const probe = await open(join(dir, 'probe'), 'w');
    const handleProto = Object.getPrototypeOf(probe) as { datasync(): Promise<void> };
    await probe.close();
    const datasync = vi.spyOn(handleProto, 'datasync');
    for (const [durability, expected] of [
      ['fsync', 3],
      ['os', 0],
    ] as const) {
      datasync.mockClear();
      const store = await openFileStore(join(dir, `${durability}.owpdb`), { durability });
      await store.put('a', 1);
      await store.batch([
        { type: 'put', key: 'b', value: 2 },
        { type: 'del', key: 'a' },
      ]);
      await store.del('b');
      expect(datasync).toHaveBeenCalledTimes(expected);
      await store.close();
    }
  });

  it('the document store writes a burst of updates in one batch, in order, and each survives a reopen', async () => {
    const inner = openMemoryBackend();
    const batches: number[] = [];
    const counting: StoreBackend = { ...inner, kind: inner.kind, batch: (ops, o) => (batches.push(ops.length), inner.batch(ops, o)) };
    const docs = new DocStore(createStore(counting), { compactEvery: 1000 });
    const doc = await docs.get('owp/board');
    for (let i = 0; i < 50; i++) doc.getMap('m').set(`k${i}`, i);
    await docs.whenPersisted('owp/board');
    // The first update queues a write; it starts after this synchronous burst and takes all 50.
    expect(batches).toEqual([50]);
    const again = new DocStore(createStore(counting));
    const reread = await again.get('owp/board');
    expect(reread.getMap('m').toJSON()).toEqual(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i])));
  });
});
