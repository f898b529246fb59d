/**
 * DocStore: every update is logged, the log is compacted into a snapshot after N updates (once
 * it also outweighs the snapshot by a factor) and on close, and a doc reads back the same after a reopen (with and without compaction).
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { openStore, type Store } from '../../../server/store/index.js';
import { DocStore, docKeyPrefix, docSnapKey } from '../../../server/sync/docstore.js';
import { closeTempStore, openTempStore } from '../../helpers/sync-harness.js';

let dir: string;
let store: Store;

beforeEach(async () => {
  ({ dir, store } = await openTempStore());
});
afterEach(() => closeTempStore(dir, store));

async function reopenStore() {
  await store.close();
  store = await openStore(join(dir, 'db'));
}

const logKeys = (name: string) => store.keys(docKeyPrefix(name) + 'u/');

describe('DocStore', () => {
  it('compacts by size: small updates to a large doc wait until the log outweighs the snapshot', async () => {
    const docs = new DocStore(store, { compactEvery: 5, compactSizeFactor: 8 });
    const doc = await docs.get('owp/ledger');
    doc.getMap('tasks').set('big', 'x'.repeat(20_000));
    await docs.compact('owp/ledger');
    const snap = (await store.getBinary(docSnapKey('owp/ledger')))!;
    expect(snap.byteLength).toBeGreaterThan(20_000);
    expect(await logKeys('owp/ledger')).toEqual([]);
    // 50 small updates: far more than compactEvery, far less than 8x the snapshot.
    for (let i = 0; i < 50; i++) doc.getMap('meta').set('batch', i);
    await docs.flush();
    expect(await logKeys('owp/ledger')).toHaveLength(50);
    // Past 8x the snapshot's bytes, the log is folded.
    for (let i = 0; i < 9; i++) doc.getMap('tasks').set(`t${i}`, 'y'.repeat(20_000));
    await docs.flush();
    expect((await logKeys('owp/ledger')).length).toBeLessThan(5);
    await docs.close();
    await reopenStore();
    const back = await new DocStore(store).get('owp/ledger');
    expect(back.getMap('meta').get('batch')).toBe(49);
    expect((back.getMap('tasks').get('t8') as string).length).toBe(20_000);
  });

  it('logs every update, and a reopen without compaction reads the same doc', async () => {
    const docs = new DocStore(store, { compactEvery: 1000 });
    const doc = await docs.get('owp/inbox/w1');
    for (let i = 0; i < 5; i++) doc.getArray('intents').push([{ id: `i${i}` }]);
    doc.getMap('profile').set('capacity', 8);
    await docs.flush();
    expect(await logKeys('owp/inbox/w1')).toHaveLength(6);
    expect(await store.getBinary(docSnapKey('owp/inbox/w1'))).toBeUndefined();
    // Simulate a crash: no close(), just reopen LevelDB and read the log.
    await reopenStore();
    const again = await new DocStore(store).get('owp/inbox/w1');
    expect(again.getArray('intents').toJSON()).toEqual([0, 1, 2, 3, 4].map((i) => ({ id: `i${i}` })));
    expect(again.getMap('profile').get('capacity')).toBe(8);
  });

  it('compacts every N updates and keeps the content; close compacts the rest', async () => {
    const docs = new DocStore(store, { compactEvery: 5 });
    const doc = await docs.get('owp/board');
    const tasks = doc.getMap('tasks');
    for (let i = 0; i < 23; i++) tasks.set(`t${i}`, { points: i });
    tasks.delete('t0');
    await docs.flush();
    const logged = await logKeys('owp/board');
    expect(logged.length).toBeLessThan(5);
    expect(await store.getBinary(docSnapKey('owp/board'))).toBeDefined();
    await docs.close();
    expect(await logKeys('owp/board')).toEqual([]);
    await reopenStore();
    const docs2 = new DocStore(store, { compactEvery: 5 });
    const back = await docs2.get('owp/board');
    expect(back.getMap('tasks').size).toBe(22);
    expect(back.getMap('tasks').get('t22')).toEqual({ points: 22 });
    expect(back.getMap('tasks').has('t0')).toBe(false);
    // and it keeps logging after a reopen
    back.getMap('tasks').set('later', 1);
    await docs2.close();
    await reopenStore();
    expect((await new DocStore(store).get('owp/board')).getMap('tasks').get('later')).toBe(1);
  });

  it('loads a doc once for concurrent gets, lists stored names, and announces loads', async () => {
    const docs = new DocStore(store);
    const [a, b] = await Promise.all([docs.get('owp/ledger'), docs.get('owp/ledger')]);
    expect(a).toBe(b);
    (await docs.get('owp/inbox/w.1')).getMap('profile').set('name', 'x');
    await docs.close();
    await reopenStore();
    const docs2 = new DocStore(store);
    const loaded: string[] = [];
    docs2.onLoad((name) => loaded.push(name));
    expect(await docs2.names()).toEqual(['owp/inbox/w.1']); // the ledger was never written
    await docs2.get('owp/inbox/w.1');
    expect(loaded).toEqual(['owp/inbox/w.1']);
    expect(docs2.peek('owp/inbox/w.1')?.getMap('profile').get('name')).toBe('x');
  });

  it('whenPersisted resolves once the updates so far are on disk', async () => {
    const docs = new DocStore(store, { compactEvery: 1000 });
    const doc = await docs.get('owp/board');
    doc.getMap('tasks').set('a', 1);
    doc.getMap('tasks').set('b', 2);
    await docs.whenPersisted('owp/board');
    const updates = await store.entries<Uint8Array>(docKeyPrefix('owp/board') + 'u/', { encoding: 'binary' });
    const check = new Y.Doc();
    for (const [, u] of updates) Y.applyUpdate(check, u);
    expect(check.getMap('tasks').toJSON()).toEqual({ a: 1, b: 2 });
  });

  it('close compacts the loaded docs one at a time, every one of them', async () => {
    // A relay holds a doc per worker inbox: compacting them all at once held a store read per
    // doc at the same time (the relay's memory peaked at gigabytes while stopping).
    let reading = 0;
    let most = 0;
    const counted = <A extends unknown[], R>(f: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
      most = Math.max(most, ++reading);
      try {
        return await f(...a);
      } finally {
        reading--;
      }
    };
    const watched: Store = Object.create(store) as Store;
    watched.keys = counted(store.keys.bind(store));
    watched.entries = counted(store.entries.bind(store)) as Store['entries'];
    const docs = new DocStore(watched, { compactEvery: 1000 });
    for (let i = 0; i < 20; i++) (await docs.get(`owp/inbox/w${i}`)).getMap('intents').set('a', i);
    await docs.flush();
    most = 0;
    await docs.close();
    expect(most).toBe(1);
    for (let i = 0; i < 20; i++) {
      expect(await logKeys(`owp/inbox/w${i}`)).toEqual([]);
      expect(await store.getBinary(docSnapKey(`owp/inbox/w${i}`))).toBeDefined();
    }
  });
});
