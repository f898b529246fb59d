/**
 * Token store: tokens are shown once and stored only as SHA-256 digests, verify/check answer by
 * role, revocation is permanent and announced, the initial admin token is created once, and
 * tokenFromRequest reads the header or the query.
 */
import { readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashToken, tokenFromRequest, TokenStore } from '../../server/auth/index.js';
import { openStore, type Store } from '../../server/store/index.js';
import { closeTempStore, openTempStore } from '../helpers/sync-harness.js';

let dir: string;
let store: Store;
let tokens: TokenStore;

beforeEach(async () => {
  ({ dir, store } = await openTempStore());
  tokens = await TokenStore.open(store, { now: () => 1_000 });
});
afterEach(() => closeTempStore(dir, store));

async function reopen() {
  await store.close();
  store = await openStore(join(dir, 'db'));
  tokens = await TokenStore.open(store);
}

/** Every byte the store holds for us, keys and values, as text. */
async function everything(): Promise<string> {
  const parts: string[] = [];
  for await (const [k, v] of store.iterate<Uint8Array>({}, 'binary')) parts.push(k, Buffer.from(v).toString('utf8'));
  return parts.join('\n');
}

describe('token store', () => {
  it('creates tokens of the documented shape and verifies them by role', async () => {
    const w = await tokens.create({ role: 'worker', workerId: 'alice-bot', name: 'Alice' });
    expect(w.token).toMatch(/^owp_[A-Za-z0-9_-]{43}$/);
    expect(tokens.verify(w.token)).toEqual({ role: 'worker', workerId: 'alice-bot', tokenId: w.id, name: 'Alice' });
    const v = await tokens.create({ role: 'viewer' });
    expect(tokens.verify(v.token)).toEqual({ role: 'viewer', tokenId: v.id });
    expect(tokens.verify('owp_nope')).toBeUndefined();
    expect(tokens.verify(undefined)).toBeUndefined();
    expect(tokens.verify(w.token + 'x')).toBeUndefined();
  });

  it('stores only the hash: the plain token is nowhere in LevelDB, and it still verifies after a reopen', async () => {
    const created = [await tokens.create({ role: 'admin' }), await tokens.create({ role: 'worker', workerId: 'w1' })];
    const admin = await tokens.ensureAdmin();
    expect(admin.created).toBeUndefined(); // there is a live admin already
    await reopen();
    const dump = await everything();
    for (const c of created) {
      expect(dump).not.toContain(c.token);
      expect(dump).not.toContain(c.token.slice(4)); // nor its secret part
      expect(dump).toContain(`auth/${hashToken(c.token)}`);
      expect(tokens.verify(c.token)?.tokenId).toBe(c.id);
    }
    // And not in any file of the database folder (write-ahead log, tables, manifest).
    const files = await readdir(join(dir, 'db'));
    let hashesSeen = 0;
    for (const f of files) {
      const bytes = await readFile(join(dir, 'db', f));
      for (const c of created) {
        expect(bytes.includes(Buffer.from(c.token.slice(4)))).toBe(false);
        if (bytes.includes(Buffer.from(hashToken(c.token)))) hashesSeen += 1;
      }
    }
    expect(hashesSeen).toBeGreaterThan(0); // the scan does read the stored records
  });

  it('refuses bad input with a stable code', async () => {
    await expect(tokens.create({ role: 'worker' })).rejects.toMatchObject({ code: 'invalid-field', field: 'workerId' });
    await expect(tokens.create({ role: 'worker', workerId: '../x' })).rejects.toMatchObject({ code: 'invalid-field' });
    await expect(tokens.create({ role: 'viewer', workerId: 'w1' })).rejects.toMatchObject({ code: 'invalid-field' });
    await expect(tokens.create({ role: 'root' as never })).rejects.toMatchObject({ code: 'invalid-field', field: 'role' });
    await expect(tokens.revoke('no-such-id')).rejects.toMatchObject({ code: 'not-found' });
  });

  it('revocation is permanent, announced to listeners, and survives a reopen', async () => {
    const w = await tokens.create({ role: 'worker', workerId: 'w1' });
    const heard: string[] = [];
    tokens.onRevoke((id) => heard.push(id));
    const r = await tokens.revoke(w.id);
    expect(r).toEqual({ id: w.id, revokedAt: 1_000 });
    expect(heard).toEqual([w.id]);
    expect(tokens.verify(w.token)).toBeUndefined();
    expect(tokens.check(w.token)).toMatchObject({ ok: false, code: 'token-revoked' });
    expect(tokens.list().find((t) => t.id === w.id)?.revokedAt).toBe(1_000);
    await reopen();
    expect(tokens.verify(w.token)).toBeUndefined();
    expect(tokens.list()).toEqual([{ id: w.id, role: 'worker', workerId: 'w1', createdAt: 1_000, revokedAt: 1_000 }]);
  });

  it('a token checked before (its digest remembered) is refused at once when revoked, and unknown tokens stay unknown', async () => {
    const w = await tokens.create({ role: 'worker', workerId: 'w1' });
    for (let i = 0; i < 3; i++) expect(tokens.check(w.token)).toMatchObject({ ok: true, principal: { workerId: 'w1' } });
    await tokens.revoke(w.id);
    expect(tokens.check(w.token)).toMatchObject({ ok: false, code: 'token-revoked' });
    for (let i = 0; i < 3; i++) expect(tokens.check(w.token.slice(0, -1) + 'x')).toMatchObject({ ok: false, code: 'unauthorized' });
    // More known tokens than the digest cache holds: every one still verifies (the oldest are hashed again).
    const small = await TokenStore.open(store, { digestCache: 8 });
    const many = await Promise.all(Array.from({ length: 20 }, (_, i) => small.create({ role: 'worker', workerId: `m${i}` })));
    for (let round = 0; round < 2; round++) for (const [i, t] of many.entries()) expect(small.verify(t.token)?.workerId).toBe(`m${i}`);
    await small.revoke(many[19]!.id);
    expect(small.check(many[19]!.token)).toMatchObject({ ok: false, code: 'token-revoked' });
  });

  it('ensureAdmin creates the first admin token once, and honours OWP_ADMIN_TOKEN', async () => {
    const first = await tokens.ensureAdmin();
    expect(first.created).toMatch(/^owp_/);
    expect(tokens.verify(first.created)?.role).toBe('admin');
    expect(await tokens.ensureAdmin()).toEqual({});
    await reopen();
    expect(await tokens.ensureAdmin()).toEqual({});

    const env = 'operator-chosen-admin-secret-123';
    expect(await tokens.ensureAdmin(env)).toEqual({});
    expect(tokens.verify(env)?.role).toBe('admin');
    expect(await everything()).not.toContain(env);
    // Revoked, then set again by the operator: live again.
    await tokens.revoke(tokens.verify(env)!.tokenId);
    expect(tokens.verify(env)).toBeUndefined();
    await tokens.ensureAdmin(env);
    expect(tokens.verify(env)?.role).toBe('admin');
    await expect(tokens.ensureAdmin('short')).rejects.toMatchObject({ code: 'invalid-field' });
  });

  it('tokenFromRequest reads Authorization: Bearer first, then ?token=', () => {
    const req = (url: string, authorization?: string) => ({ url, headers: authorization ? { authorization } : {} }) as IncomingMessage;
    expect(tokenFromRequest(req('/x', 'Bearer owp_abc'))).toBe('owp_abc');
    expect(tokenFromRequest(req('/x?token=owp_q', 'Bearer owp_h'))).toBe('owp_h');
    expect(tokenFromRequest(req('/yjs/owp/board?token=owp_q'))).toBe('owp_q');
    expect(tokenFromRequest(req('/x', 'Basic abc'))).toBeUndefined();
    expect(tokenFromRequest(req('/x?token='))).toBeUndefined();
  });
});
