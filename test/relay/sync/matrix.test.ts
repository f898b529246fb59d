/**
 * Every role x document pair against the real sync server: allowed writes reach another client
 * and survive a restart; forbidden writes reach nobody, are not on disk after a restart, and
 * close the writer's socket with 4403 and a reason naming the rule; unreadable docs close on
 * connect with 4403 and leak no content.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../../server/ports.js';
import { type Harness, removeDir, startHarness, tempDir, waitFor } from '../../helpers/sync-harness.js';

type Expect = 'write' | 'read-only' | 'no-read';
const DOCS = { board: 'owp/board', ledger: 'owp/ledger', ownInbox: 'owp/inbox/w1', otherInbox: 'owp/inbox/w2' } as const;
type DocKey = keyof typeof DOCS;
/** The root map each doc is written through (as PROTOCOL.md lays them out). */
const ROOT: Record<DocKey, string> = { board: 'tasks', ledger: 'meta', ownInbox: 'profile', otherInbox: 'profile' };

// The worker principal is bound to w1: "own inbox" is owp/inbox/w1, "other inbox" owp/inbox/w2.
const MATRIX: Record<Role, Record<DocKey, Expect>> = {
  admin: { board: 'write', ledger: 'read-only', ownInbox: 'write', otherInbox: 'write' },
  maintainer: { board: 'write', ledger: 'read-only', ownInbox: 'read-only', otherInbox: 'read-only' },
  worker: { board: 'read-only', ledger: 'read-only', ownInbox: 'write', otherInbox: 'no-read' },
  viewer: { board: 'read-only', ledger: 'read-only', ownInbox: 'no-read', otherInbox: 'no-read' },
};

const cases = (Object.keys(MATRIX) as Role[]).flatMap((role) =>
  (Object.keys(DOCS) as DocKey[]).map((doc) => ({ role, doc, expect: MATRIX[role][doc] })),
);

describe('role x document write control', () => {
  let dir: string;
  let h: Harness;
  let observerToken: string;
  const tokens: Partial<Record<Role, string>> = {};
  let barrier = 0;

  beforeAll(async () => {
    dir = await tempDir();
    h = await startHarness(dir);
    observerToken = (await h.tokens.create({ role: 'admin', name: 'observer' })).token;
    for (const role of Object.keys(MATRIX) as Role[]) {
      tokens[role] = (await h.tokens.create(role === 'worker' ? { role, workerId: 'w1' } : { role })).token;
    }
    // Some content in every doc, so a refused reader visibly receives nothing.
    for (const [k, name] of Object.entries(DOCS)) (await h.docs.get(name)).getMap(ROOT[k as DocKey]).set('seed', name);
  });

  afterAll(async () => {
    await h.stop();
    await removeDir(dir);
  });

  it.each(cases)('$role on $doc: $expect', async ({ role, doc, expect: exp }) => {
    const name = DOCS[doc];
    const key = `${role}-${doc}`;
    const observer = h.connect(name, observerToken);
    await observer.synced();
    const writer = h.connect(name, tokens[role]);

    if (exp === 'no-read') {
      await waitFor(() => writer.closes.length > 0, 10_000, 'the refused reader to be closed');
      expect(writer.closes[0].code).toBe(4403);
      expect(writer.closes[0].reason).toMatch(/^not-authorized: /);
      expect(writer.closes[0].reason).toContain(`may not read ${name}`);
      expect(writer.provider.shouldConnect).toBe(false); // stock client stops on 44xx
      expect(writer.doc.getMap(ROOT[doc]).size).toBe(0);
      observer.destroy();
      writer.destroy();
      return;
    }

    await writer.synced();
    expect(writer.doc.getMap(ROOT[doc]).get('seed')).toBe(name);
    expect(writer.closes).toEqual([]); // connecting read-only is not a write
    writer.doc.getMap(ROOT[doc]).set(key, 'written');

    if (exp === 'write') {
      await waitFor(() => observer.doc.getMap(ROOT[doc]).get(key) === 'written', 10_000, 'the allowed write to reach the observer');
      expect(writer.closes).toEqual([]);
    } else {
      await waitFor(() => writer.closes.length > 0, 10_000, 'the forbidden writer to be closed');
      expect(writer.closes[0].code).toBe(4403);
      expect(writer.closes[0].reason).toContain(`may not write ${name}`);
      expect(writer.closes[0].reason).toMatch(/^not-authorized: (admin|maintainer|worker w1|viewer) may not write .*\(only .*\)$/);
      expect(writer.provider.shouldConnect).toBe(false);
      // Barrier: a later write by the relay reaches the observer, so the refused one would have too.
      barrier += 1;
      (await h.docs.get(name)).getMap(ROOT[doc]).set('barrier', barrier);
      await waitFor(() => observer.doc.getMap(ROOT[doc]).get('barrier') === barrier, 10_000, 'the barrier');
      expect(observer.doc.getMap(ROOT[doc]).has(key)).toBe(false);
      expect((await h.docs.get(name)).getMap(ROOT[doc]).has(key)).toBe(false);
    }
    observer.destroy();
    writer.destroy();
  });

  it('after a restart, allowed writes are there and forbidden ones are not', async () => {
    await h.stop();
    h = await startHarness(dir);
    for (const { role, doc, expect: exp } of cases) {
      const map = (await h.docs.get(DOCS[doc])).getMap(ROOT[doc]);
      expect(map.get('seed')).toBe(DOCS[doc]);
      expect({ role, doc, present: map.has(`${role}-${doc}`) }).toEqual({ role, doc, present: exp === 'write' });
    }
    // And a client of the restarted relay sees the same.
    const observer = h.connect('owp/inbox/w1', observerToken);
    await observer.synced();
    expect(observer.doc.getMap('profile').get('worker-ownInbox')).toBe('written');
    expect(observer.doc.getMap('profile').has('maintainer-ownInbox')).toBe(false);
    observer.destroy();
  });
});
