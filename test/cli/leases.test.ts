import { mkdtempSync, readFileSync, statSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LeaseBook, owpHome } from '../../server/cli/lease-book.js';

describe('the lease book', () => {
  it('lives under OWP_HOME, one 0600 file per relay URL and worker', () => {
    const home = mkdtempSync(join(tmpdir(), 'owp-book-'));
    expect(owpHome({ OWP_HOME: home })).toBe(home);
    const a = new LeaseBook(home, 'http://127.0.0.1:8787', 'alice');
    const b = new LeaseBook(home, 'http://relay.example:8787', 'alice');
    const c = new LeaseBook(home, 'http://127.0.0.1:8787', 'bob');
    expect(new Set([a.file, b.file, c.file]).size).toBe(3);
    a.put('o/r:1', { fencingToken: 2, expiresAt: 10 });
    expect(statSync(a.file).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, 'leases')).mode & 0o777).toBe(0o700);
    expect(b.get('o/r:1')).toBeUndefined();
    expect(a.get('o/r:1')).toEqual({ fencingToken: 2, expiresAt: 10 });
  });

  it('a newer fencing token replaces an older one, never the reverse', () => {
    const book = new LeaseBook(mkdtempSync(join(tmpdir(), 'owp-book-')), 'http://x', 'w');
    book.put('t', { fencingToken: 3, expiresAt: 1 });
    book.put('t', { fencingToken: 2, expiresAt: 99 });
    expect(book.get('t')).toEqual({ fencingToken: 3, expiresAt: 1 });
    book.put('t', { fencingToken: 4, expiresAt: 5 });
    expect(book.get('t')?.fencingToken).toBe(4);
    book.remove('t', 3); // a refusal for token 3 must not forget the newer grant 4
    expect(book.get('t')?.fencingToken).toBe(4);
    book.remove('t', 4);
    expect(book.get('t')).toBeUndefined();
  });

  it('keeps both entries when two writers interleave, and breaks a stale lock', () => {
    const home = mkdtempSync(join(tmpdir(), 'owp-book-'));
    const one = new LeaseBook(home, 'http://x', 'w');
    const two = new LeaseBook(home, 'http://x', 'w');
    one.put('a', { fencingToken: 1 });
    two.put('b', { fencingToken: 1 });
    expect(Object.keys(one.read()).sort()).toEqual(['a', 'b']);
    const lock = `${one.file}.lock`;
    writeFileSync(lock, '');
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    one.put('c', { fencingToken: 1 });
    expect(Object.keys(JSON.parse(readFileSync(one.file, 'utf8')).leases).sort()).toEqual(['a', 'b', 'c']);
  });

  it('a corrupt book reads as empty instead of crashing', () => {
    const book = new LeaseBook(mkdtempSync(join(tmpdir(), 'owp-book-')), 'http://x', 'w');
    book.put('a', { fencingToken: 1 });
    writeFileSync(book.file, '{ not json');
    expect(book.read()).toEqual({});
    book.put('b', { fencingToken: 1 });
    expect(Object.keys(book.read())).toEqual(['b']);
  });
});
