/**
 * Tombstones of deleted keys (server/store/store.ts `compactDeleted`): the Store counts deletes
 * by first key segment and has the backend compact a segment once it reached the threshold,
 * once; values are unchanged; a backend without `compactRange` (memory) does nothing. Real
 * LevelDB in a temp folder, its compactRange called through.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createStore, openMemoryStore, type StoreBackend } from '../../../server/store/index.js';
import { openLevelBackend } from '../../../server/store/leveldb.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function levelWithCalls(): Promise<{ backend: StoreBackend; ranges: Array<{ gte: string; lt: string }> }> {
  const dir = await mkdtemp(join(tmpdir(), 'owp-compact-'));
  dirs.push(dir);
  const inner = await openLevelBackend(dir);
  const ranges: Array<{ gte: string; lt: string }> = [];
  expect(inner.compactRange).toBeTypeOf('function');
  const backend: StoreBackend = { ...inner, kind: inner.kind, compactRange: (r) => (ranges.push(r), inner.compactRange!(r)) };
  return { backend, ranges };
}

describe('Store.compactDeleted', () => {
  it('compacts each key segment that reached the threshold, once, and changes no value', async () => {
    const { backend, ranges } = await levelWithCalls();
    const store = createStore(backend, { durability: 'os' });
    const ops = Array.from({ length: 50 }, (_, i) => ({ type: 'put' as const, key: `doc/d/u/${String(i).padStart(4, '0')}`, value: i }));
    await store.batch([...ops, { type: 'put', key: 'ledger/task/a', value: { a: 1 } }, { type: 'put', key: 'ledger/task/b', value: { b: 2 } }, { type: 'put', key: 'doc/d/snap', value: 'kept' }]);
    await store.batch(ops.slice(0, 40).map((o) => ({ type: 'del' as const, key: o.key })));
    await store.del('ledger/task/a');

    expect(await store.compactDeleted!(40)).toEqual(['doc/']);
    expect(ranges).toEqual([{ gte: 'doc/', lt: 'doc0' }]);
    // Counted from zero again: nothing is due until 40 more deletes.
    expect(await store.compactDeleted!(40)).toEqual([]);
    expect(await store.compactDeleted!(1)).toEqual(['ledger/']);
    expect(ranges).toEqual([
      { gte: 'doc/', lt: 'doc0' },
      { gte: 'ledger/', lt: 'ledger0' },
    ]);

    expect((await store.keys('doc/')).length).toBe(11);
    expect(await store.get('doc/d/snap')).toBe('kept');
    expect(await store.get('doc/d/u/0045')).toBe(45);
    expect(await store.entries('ledger/')).toEqual([['ledger/task/b', { b: 2 }]]);
    await store.close();
  });

  it('is a no-op on a backend without compactRange', async () => {
    const store = openMemoryStore();
    await store.put('doc/x', 1);
    await store.del('doc/x');
    expect(await store.compactDeleted!(1)).toEqual([]);
    await store.close();
  });
});
