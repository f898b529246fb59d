/**
 * The storage port's contract: what every backend must do for the relay to persist on it.
 * `storeContract(backend)` registers the suite for one backend (LevelDB, memory, file,
 * PostgreSQL...): key order, prefix ranges with the prefixEnd rule, range bounds, batch
 * atomicity, JSON and binary values, snapshot iteration while writing, reopen durability.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compareKeys, prefixEnd, StoreError, type KeyRange, type Store } from '../../server/store/index.js';

export interface BackendUnderTest {
  /** Opens the same storage every time (the previous Store was closed first). */
  open(): Promise<Store>;
  /** Removes the storage after the test (the Store is closed). */
  dispose(): Promise<void>;
}

export interface BackendFactory {
  name: string;
  /** Fresh, empty storage for one test. */
  create(): Promise<BackendUnderTest>;
  /** Whether a second open of the same storage fails while the first is open (LevelDB's lock). */
  exclusive: boolean;
}

/** The reference order: the bytes of the keys' UTF-8. */
const byUtf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

const ORDER_KEYS = ['', 'a', 'A', 'Z', 'a/', 'a/b', 'a/b/', 'a/b/c', 'a/b0', 'a/bc', 'a0', 'é', 'ü/x', '\u00ff', '\u0100', '\uffef', '\uffff', '😀', '😀/a', '𝄞', '~', ' ', '\u0001', 'zz'];

async function fill(store: Store, keys: string[]): Promise<void> {
  await store.batch(keys.map((key, i) => ({ type: 'put' as const, key, value: i })));
}

async function scan(store: Store, range: KeyRange): Promise<string[]> {
  const out: string[] = [];
  for await (const [k] of store.iterate(range)) out.push(k);
  return out;
}

/** What a range should return from `keys`, computed without the store. */
function expected(keys: string[], r: KeyRange): string[] {
  const inside = [...new Set(keys)].sort(byUtf8).filter((k) => (r.gt === undefined || byUtf8(k, r.gt) > 0) && (r.gte === undefined || byUtf8(k, r.gte) >= 0) && (r.lt === undefined || byUtf8(k, r.lt) < 0) && (r.lte === undefined || byUtf8(k, r.lte) <= 0));
  const dir = r.reverse ? inside.reverse() : inside;
  return r.limit === undefined || r.limit < 0 ? dir : dir.slice(0, r.limit);
}

export function storeContract(factory: BackendFactory): void {
  describe(`storage port contract: ${factory.name}`, () => {
    let under: BackendUnderTest;
    let store: Store;
    const reopen = async () => {
      await store.close();
      store = await under.open();
    };

    beforeEach(async () => {
      under = await factory.create();
      store = await under.open();
    });
    afterEach(async () => {
      await store.close();
      await under.dispose();
    });

    it('orders keys by code point (UTF-8 byte order), forwards and backwards', async () => {
      await fill(store, ORDER_KEYS);
      const sorted = [...ORDER_KEYS].sort(byUtf8);
      expect(await scan(store, {})).toEqual(sorted);
      expect(await scan(store, { reverse: true })).toEqual([...sorted].reverse());
      expect([...ORDER_KEYS].sort(compareKeys)).toEqual(sorted);
    });

    it('prefix scans cover [prefix, prefixEnd(prefix)): never a neighbour that only shares characters', async () => {
      await fill(store, ['a/b', 'a/b/', 'a/b/c', 'a/b/c/d', 'a/b0', 'a/bc/x', 'a/a/z', 'b', '😀/1', '😀0', '\uffff/x', '\uffff']);
      expect(await store.keys('a/b/')).toEqual(['a/b/', 'a/b/c', 'a/b/c/d']);
      expect(await store.keys('a/b/', { reverse: true, limit: 2 })).toEqual(['a/b/c/d', 'a/b/c']);
      expect(await store.keys('😀/')).toEqual(['😀/1']);
      expect(await store.keys('\uffff')).toEqual(['\uffff', '\uffff/x']);
      expect((await store.keys('')).length).toBe(12);
      expect((await store.entries('a/b/', { gte: 'a/b/c/' })).map(([k]) => k)).toEqual(['a/b/c/d']);
      // gte before the prefix does not widen it.
      expect(await store.keys('a/b/', { limit: 1 })).toEqual(['a/b/']);
      expect((await store.entries('a/b/', { gte: 'a/' })).map(([k]) => k)).toEqual(['a/b/', 'a/b/c', 'a/b/c/d']);
      expect(prefixEnd('audit/')).toBe('audit0');
      expect(prefixEnd('a\uffff')).toBe('a\u{10000}');
      expect(prefixEnd('')).toBeUndefined();
    });

    it('any range of bounds, direction and limit returns what a sorted list says (fixed seed)', async () => {
      const keyArb = fc.string({ unit: fc.constantFrom('a', 'b', '/', '0', 'é', '😀', '\uffff'), maxLength: 4 });
      const keys = fc.sample(keyArb, { seed: 7, numRuns: 120 });
      await fill(store, keys);
      const rangeArb = fc.record(
        { gt: keyArb, gte: keyArb, lt: keyArb, lte: keyArb, reverse: fc.boolean(), limit: fc.integer({ min: -1, max: 6 }) },
        { requiredKeys: [] },
      );
      await fc.assert(
        fc.asyncProperty(rangeArb, async (r) => {
          expect(await scan(store, r)).toEqual(expected(keys, r));
        }),
        { seed: 11, numRuns: 150 },
      );
    });

    it('a batch is all or nothing, applied in order, and never seen half done', async () => {
      await store.put('a', 1);
      await expect(store.batch([{ type: 'put', key: 'b', value: 2 }, { type: 'put', key: 'c' }, { type: 'del', key: 'a' }])).rejects.toThrow(StoreError);
      await expect(store.batch([{ type: 'put', key: 'b', value: 2 }, { type: 'put', key: 'bad\u0000key', value: 1 }])).rejects.toMatchObject({ code: 'bad-key' });
      expect(await store.get('a')).toBe(1);
      expect(await store.get('b')).toBeUndefined();
      await store.batch([
        { type: 'put', key: 'b', value: 2 },
        { type: 'del', key: 'a' },
        { type: 'put', key: 'c', value: 'first' },
        { type: 'put', key: 'c', value: 'second' },
        { type: 'put', key: 'd', value: 1 },
        { type: 'del', key: 'd' },
      ]);
      expect(await store.entries('')).toEqual([
        ['b', 2],
        ['c', 'second'],
      ]);
      // Readers racing a large batch see all of it or none of it.
      const keys = Array.from({ length: 300 }, (_, i) => `race/${String(i).padStart(3, '0')}`);
      let done = false;
      const writing = store.batch(keys.map((key) => ({ type: 'put' as const, key, value: true }))).then(() => (done = true));
      while (!done) {
        expect([0, 300]).toContain((await store.keys('race/')).length);
        // An in-memory read resolves without I/O: let the event loop deliver the batch's I/O.
        await new Promise((resolve) => setImmediate(resolve));
      }
      await writing;
      expect((await store.keys('race/')).length).toBe(300);
    });

    it('keeps JSON values and binary values apart, byte for byte', async () => {
      const every = Uint8Array.from({ length: 256 }, (_, i) => i);
      const json = { s: 'héllo 😀 "q" \\', n: -1.5, big: 2 ** 53 - 1, b: false, z: null, a: [1, [2], { c: {} }] };
      await store.batch([
        { type: 'put', key: 'bin/every', value: every, encoding: 'binary' },
        { type: 'put', key: 'bin/empty', value: new Uint8Array(0), encoding: 'binary' },
        { type: 'put', key: 'json/obj', value: json },
        { type: 'put', key: 'json/null', value: null },
        { type: 'put', key: 'json/zero', value: 0 },
        { type: 'put', key: 'json/empty', value: '' },
      ]);
      const check = async () => {
        expect(Array.from((await store.getBinary('bin/every'))!)).toEqual(Array.from(every));
        expect((await store.getBinary('bin/empty'))!.byteLength).toBe(0);
        expect(await store.get('json/obj')).toEqual(json);
        expect(await store.get('json/null')).toBeNull();
        expect(await store.get('json/zero')).toBe(0);
        expect(await store.get('json/empty')).toBe('');
        expect(await store.get('missing')).toBeUndefined();
        expect(await store.getBinary('missing')).toBeUndefined();
        expect(Buffer.from((await store.getBinary('json/zero'))!).toString()).toBe('0');
        await expect(store.get('bin/every')).rejects.toMatchObject({ code: 'bad-value' });
        const bins = await store.entries<Uint8Array>('bin/', { encoding: 'binary' });
        expect(bins.map(([k, v]) => [k, v.byteLength])).toEqual([
          ['bin/empty', 0],
          ['bin/every', 256],
        ]);
      };
      await check();
      await reopen();
      await check();
    });

    it('refuses values and keys it cannot keep, with a stable code', async () => {
      await expect(store.put('k', undefined)).rejects.toMatchObject({ code: 'bad-value' });
      await expect(store.batch([{ type: 'put', key: 'k', value: 'text', encoding: 'binary' }])).rejects.toMatchObject({ code: 'bad-value' });
      await expect(store.put('lone\uD800', 1)).rejects.toMatchObject({ code: 'bad-key' });
      await expect(store.get('nul\u0000')).rejects.toMatchObject({ code: 'bad-key' });
      // The store keeps its own copy: changing the caller's buffer later changes nothing.
      const bytes = new Uint8Array([1, 2, 3]);
      await store.batch([{ type: 'put', key: 'copy', value: bytes, encoding: 'binary' }]);
      bytes[0] = 9;
      (await store.getBinary('copy'))![1] = 9;
      expect(Array.from((await store.getBinary('copy'))!)).toEqual([1, 2, 3]);
      expect(await store.keys('')).toEqual(['copy']);
    });

    it('an iterator reads one snapshot while writes go on', async () => {
      const keys = Array.from({ length: 50 }, (_, i) => `snap/${String(i).padStart(2, '0')}`);
      await fill(store, keys);
      const it = store.iterate<number>({ gte: 'snap/', lt: 'snap0' });
      const first = await it.next();
      expect(first.value).toEqual(['snap/00', 0]);
      await store.batch([
        { type: 'del', key: 'snap/10' },
        { type: 'put', key: 'snap/25', value: 'changed' },
        { type: 'put', key: 'snap/99', value: 'new' },
        { type: 'del', key: 'snap/49' },
      ]);
      const rest: Array<[string, number]> = [];
      for await (const e of it) rest.push(e);
      expect(rest).toEqual(keys.slice(1).map((k, i) => [k, i + 1]));
      const now = await store.entries('snap/');
      expect(now.length).toBe(49);
      expect(now.find(([k]) => k === 'snap/25')?.[1]).toBe('changed');
      // Breaking out early releases the iterator; the store goes on.
      for await (const _ of store.iterate({})) break;
      await store.put('after', 1);
      expect(await store.get('after')).toBe(1);
    });

    it('survives a reopen: puts, deletes and namespaced kv are durable; a closed store refuses calls', async () => {
      await fill(store, ['k/1', 'k/2', 'k/3']);
      await store.del('k/2');
      await store.kv('github').put('etag/acme/app', 'W/"1"');
      const big = new Uint8Array(300_000).map((_, i) => (i * 7) & 255);
      await store.batch([{ type: 'put', key: 'doc/x/snap', value: big, encoding: 'binary' }]);
      await reopen();
      expect(await store.entries('k/')).toEqual([
        ['k/1', 0],
        ['k/3', 2],
      ]);
      expect(await store.kv('github').entries()).toEqual([['etag/acme/app', 'W/"1"']]);
      expect(await store.get('kv/github/etag/acme/app')).toBe('W/"1"');
      expect(Buffer.from((await store.getBinary('doc/x/snap'))!).equals(Buffer.from(big))).toBe(true);
      await store.close();
      await expect(store.get('k/1')).rejects.toThrow();
      await expect(store.put('k/4', 1)).rejects.toThrow();
      await store.close();
      store = await under.open();
      expect(await store.get('k/4')).toBeUndefined();
    });

    it(factory.exclusive ? 'a second open of the same storage fails while the first holds it' : 'several stores may share the storage and see each other’s writes', async () => {
      if (factory.exclusive) {
        await expect(under.open()).rejects.toThrow();
        await store.put('still', 'works');
        expect(await store.get('still')).toBe('works');
        return;
      }
      const other = await under.open();
      try {
        await store.put('shared', 1);
        expect(await other.get('shared')).toBe(1);
      } finally {
        await other.close();
      }
    });
  });
}
