/**
 * The sync endpoint's admission order and the heartbeat read out of awareness states, as
 * functions (the socket-level behaviour is pinned by sync.test.ts and sync-edges.test.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuthGuard } from '../../../server/auth/guard.js';
import { TokenStore } from '../../../server/auth/index.js';
import type { Store } from '../../../server/store/index.js';
import { admit, type AdmissionRequest } from '../../../server/sync/admission.js';
import { heartbeatOf } from '../../../server/sync/awareness.js';
import { CLOSE } from '../../../shared/protocol.js';
import { closeTempStore, openTempStore } from '../../helpers/sync-harness.js';

let dir: string;
let store: Store;
let tokens: TokenStore;

beforeEach(async () => {
  ({ dir, store } = await openTempStore());
  tokens = await TokenStore.open(store);
});
afterEach(() => closeTempStore(dir, store));

const req = (token: string | undefined, docName: string | undefined, over: Partial<AdmissionRequest> = {}): AdmissionRequest => ({
  token,
  address: '10.0.0.1',
  docName,
  closing: false,
  socketsOf: () => 0,
  ...over,
});

describe('admission', () => {
  it('refuses in order: stopping, token, document, unknown worker, read right, socket cap', async () => {
    const rules = { guard: new AuthGuard(tokens, false), maxConnectionsPerToken: 2, knownWorker: (id: string) => id === 'w1' };
    const viewer = (await tokens.create({ role: 'viewer' })).token;
    const w1 = (await tokens.create({ role: 'worker', workerId: 'w1' })).token;
    const revoked = await tokens.create({ role: 'viewer' });
    await tokens.revoke(revoked.id);
    const code = (a: ReturnType<typeof admit>) => (a.ok ? 'ok' : a.code);
    expect(code(admit(rules, req(viewer, 'owp/board', { closing: true })))).toBe(CLOSE.shuttingDown);
    expect(code(admit(rules, req(undefined, 'owp/board')))).toBe(CLOSE.unauthorized);
    expect(code(admit(rules, req(revoked.token, 'owp/board')))).toBe(CLOSE.revoked);
    expect(code(admit(rules, req(viewer, 'owp/nothing')))).toBe(CLOSE.unknownDoc);
    expect(code(admit(rules, req(viewer, undefined)))).toBe(CLOSE.unknownDoc);
    expect(code(admit(rules, req(viewer, 'owp/inbox/ghost')))).toBe(CLOSE.unknownDoc);
    expect(code(admit(rules, req(viewer, 'owp/inbox/w1')))).toBe(CLOSE.forbidden);
    expect(code(admit(rules, req(w1, 'owp/inbox/w1', { socketsOf: () => 2 })))).toBe(CLOSE.tooMany);
    expect(admit(rules, req(w1, 'owp/inbox/w1'))).toMatchObject({ ok: true, docName: 'owp/inbox/w1', writable: true, principal: { role: 'worker', workerId: 'w1' } });
    expect(admit(rules, req(viewer, 'owp/ledger'))).toMatchObject({ ok: true, writable: false });
  });

  it('brakes an address after refused tokens, for good tokens too (4429)', async () => {
    const rules = { guard: new AuthGuard(tokens, { ratePerSec: 0.001, burst: 2 }), maxConnectionsPerToken: 64 };
    const good = (await tokens.create({ role: 'viewer' })).token;
    admit(rules, req('owp_wrong', 'owp/board'));
    admit(rules, req('owp_wrong', 'owp/board'));
    const a = admit(rules, req(good, 'owp/board'));
    expect(a).toMatchObject({ ok: false, code: CLOSE.tooMany });
    expect(admit(rules, req(good, 'owp/board', { address: '10.0.0.2' })).ok).toBe(true);
  });
});

describe('heartbeatOf', () => {
  const w1 = { role: 'worker' as const, workerId: 'w1' };
  it('reads whole fencing tokens from a worker state on its own inbox or naming itself', () => {
    expect(heartbeatOf(w1, 'owp/inbox/w1', { leases: { a: 1, b: 0, c: 1.5, d: '2', e: 7 } })).toEqual({
      workerId: 'w1',
      leases: [
        { taskId: 'a', fencingToken: 1 },
        { taskId: 'e', fencingToken: 7 },
      ],
    });
    expect(heartbeatOf(w1, 'owp/board', { workerId: 'w1', leases: { a: 3 } })?.leases).toEqual([{ taskId: 'a', fencingToken: 3 }]);
  });
  it('ignores other docs, other workers, other roles and states without leases', () => {
    expect(heartbeatOf(w1, 'owp/board', { leases: { a: 1 } })).toBeUndefined();
    expect(heartbeatOf(w1, 'owp/inbox/w1', { workerId: 'w2', leases: { a: 1 } })).toBeUndefined();
    expect(heartbeatOf({ role: 'admin' }, 'owp/inbox/w1', { workerId: 'w1', leases: { a: 1 } })).toBeUndefined();
    expect(heartbeatOf(w1, 'owp/inbox/w1', { name: 'x' })).toBeUndefined();
  });
});
