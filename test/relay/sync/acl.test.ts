/**
 * The per-document ACL as a pure function of role, workerId and doc name (docs/PROTOCOL.md).
 */
import { describe, expect, it } from 'vitest';
import { canRead, canWrite, clampReason, parseDocName, readDeniedReason, writeDeniedReason } from '../../../server/sync/acl.js';
import { isWellFormedText } from '../../../shared/model.js';
import type { Role } from '../../../server/ports.js';

const P = {
  admin: { role: 'admin' as Role },
  maintainer: { role: 'maintainer' as Role },
  w1: { role: 'worker' as Role, workerId: 'w1' },
  unbound: { role: 'worker' as Role },
  viewer: { role: 'viewer' as Role },
};
const DOCS = ['owp/board', 'owp/ledger', 'owp/inbox/w1', 'owp/inbox/w2'];

describe('acl', () => {
  it('reads: board and ledger for all; an inbox for its worker, maintainers and admin', () => {
    const table = Object.fromEntries(Object.entries(P).map(([k, p]) => [k, DOCS.map((d) => canRead(p, d))]));
    expect(table).toEqual({
      admin: [true, true, true, true],
      maintainer: [true, true, true, true],
      w1: [true, true, true, false],
      unbound: [true, true, false, false],
      viewer: [true, true, false, false],
    });
  });

  it('writes: board for admin and maintainers, ledger for nobody, an inbox for its worker and admin', () => {
    const table = Object.fromEntries(Object.entries(P).map(([k, p]) => [k, DOCS.map((d) => canWrite(p, d))]));
    expect(table).toEqual({
      admin: [true, false, true, true],
      maintainer: [true, false, false, false],
      w1: [false, false, true, false],
      unbound: [false, false, false, false],
      viewer: [false, false, false, false],
    });
  });

  it('knows only the documented names', () => {
    expect(parseDocName('owp/inbox/alice.bot@x')).toEqual({ kind: 'inbox', workerId: 'alice.bot@x' });
    for (const bad of ['owp/inbox/', 'owp/inbox/../board', 'owp/inbox/a/b', 'owp/boards', 'board', '', 'owp/inbox/-x']) {
      expect(parseDocName(bad)).toBeUndefined();
      expect(canRead(P.admin, bad)).toBe(false);
      expect(canWrite(P.admin, bad)).toBe(false);
    }
  });

  it('close reasons name the rule and fit in a close frame', () => {
    expect(writeDeniedReason(P.viewer, 'owp/board')).toBe('not-authorized: viewer may not write owp/board (only admin and maintainer write the board)');
    expect(writeDeniedReason(P.admin, 'owp/ledger')).toBe('not-authorized: admin may not write owp/ledger (only the relay writes the ledger)');
    expect(readDeniedReason(P.w1, 'owp/inbox/w2')).toBe('not-authorized: worker w1 may not read owp/inbox/w2 (only its worker, maintainers and admin read an inbox)');
    const long = 'owp/inbox/' + 'x'.repeat(100);
    expect(Buffer.byteLength(writeDeniedReason(P.w1, long))).toBeLessThanOrEqual(123);
  });
});

describe('clampReason', () => {
  it('keeps a reason within 123 UTF-8 bytes without splitting a surrogate pair', () => {
    for (const reason of ['x' + '😀'.repeat(100), 'é'.repeat(200), 'y'.repeat(16_000)]) {
      const r = clampReason(reason);
      expect(Buffer.byteLength(r, 'utf8')).toBeLessThanOrEqual(123);
      expect(r.endsWith('…')).toBe(true);
      expect(isWellFormedText(r)).toBe(true);
    }
    expect(clampReason('short')).toBe('short');
  });
});
