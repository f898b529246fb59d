/**
 * The LevelDB store: JSON and binary values, atomic batches, prefix scans that do not leak into
 * neighbouring prefixes, namespaced kv for feature modules, and data surviving a reopen.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, prefixEnd, type Store } from '../../server/store/index.js';
import { closeTempStore, openTempStore } from '../helpers/sync-harness.js';

let dir: string;
let store: Store;

beforeEach(async () => {
  ({ dir, store } = await openTempStore());
});
afterEach(() => closeTempStore(dir, store));

describe('store', () => {
  it('keeps JSON values and binary values, and they survive a reopen', async () => {
    await store.put('ledger/task/acme/app#1', { state: 'queued', attempt: 0 });
    await store.batch([{ type: 'put', key: 'doc/x/snap', value: new Uint8Array([1, 2, 255]), encoding: 'binary' }]);
    await store.close();
    store = await openStore(join(dir, 'db'));
    expect(await store.get('ledger/task/acme/app#1')).toEqual({ state: 'queued', attempt: 0 });
    expect(Array.from((await store.getBinary('doc/x/snap'))!)).toEqual([1, 2, 255]);
    expect(await store.get('missing')).toBeUndefined();
    expect(await store.getBinary('missing')).toBeUndefined();
  });

  it('a batch is all or nothing', async () => {
    await store.put('a', 1);
    // The second op is invalid (no value): nothing of the batch may land.
    await expect(store.batch([{ type: 'put', key: 'b', value: 2 }, { type: 'put', key: 'c' }, { type: 'del', key: 'a' }])).rejects.toThrow();
    expect(await store.get('a')).toBe(1);
    expect(await store.get('b')).toBeUndefined();
    await store.batch([{ type: 'put', key: 'b', value: 2 }, { type: 'del', key: 'a' }]);
    expect(await store.get('a')).toBeUndefined();
    expect(await store.get('b')).toBe(2);
  });

  it('prefix scans stay inside their prefix, in key order, forwards and backwards', async () => {
    await store.batch(
      ['ledger/task/a', 'ledger/task/b', 'ledger/taskx', 'ledger/task0', 'ledger/tas', 'ledger/task/b/c'].map((key, i) => ({ type: 'put' as const, key, value: i })),
    );
    expect((await store.entries('ledger/task/')).map(([k]) => k)).toEqual(['ledger/task/a', 'ledger/task/b', 'ledger/task/b/c']);
    expect(await store.keys('ledger/task/', { reverse: true, limit: 1 })).toEqual(['ledger/task/b/c']);
    expect(prefixEnd('audit/')).toBe('audit0');
  });

  it('kv namespaces are separate from each other and from the relay’s own keys', async () => {
    const gh = store.kv('github');
    const web = store.kv('web');
    await gh.put('etag/acme/app', 'W/"1"');
    await web.put('etag/acme/app', 'other');
    expect(await gh.get('etag/acme/app')).toBe('W/"1"');
    expect(await web.get('etag/acme/app')).toBe('other');
    expect(await store.get('kv/github/etag/acme/app')).toBe('W/"1"');
    expect(await gh.entries()).toEqual([['etag/acme/app', 'W/"1"']]);
    await gh.del('etag/acme/app');
    expect(await gh.get('etag/acme/app')).toBeUndefined();
    expect(() => store.kv('a/b')).toThrow();
  });

  it('a second open of the same folder fails while the first holds it', async () => {
    await expect(openStore(join(dir, 'db'))).rejects.toThrow();
  });
});
