/**
 * The router reads a request's pathname without a URL parse only when parsing could not
 * change it: wherever `plainPathname` answers, it equals WHATWG URL's pathname.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { plainPathname } from '../../../server/http/router.js';
import { fcOptions } from '../../helpers/fc.js';

const viaUrl = (target: string) => new URL(target, 'http://relay.invalid').pathname;

describe('plainPathname', () => {
  it('answers the common targets, with the query left off', () => {
    expect(plainPathname('/api/claim')).toBe('/api/claim');
    expect(plainPathname('/api/tasks/o%2Fr%231/complete?x=1')).toBe('/api/tasks/o%2Fr%231/complete');
    expect(plainPathname('/')).toBe('/');
  });

  it('leaves to URL whatever it could change: dot segments, %2e, a // start, backslashes, spaces, fragments, non-ASCII', () => {
    for (const t of ['/a/../b', '/a/./b', '/a/%2e%2E/b', '//host/x', '/a\\b', '/a b', '/a#f', '/é', '/a/.well-known', '/a"b', '/{x}']) expect(plainPathname(t)).toBeUndefined();
  });

  it('equals URL parsing wherever it answers, over random targets', () => {
    const ch = fc.constantFrom(...'/./%2eE:@!$&\'()*+,;=-_~ aZ09\\#?"{}|^`é'.split(''));
    fc.assert(
      fc.property(fc.array(ch, { maxLength: 24 }), (cs) => {
        const target = '/' + cs.join('');
        const p = plainPathname(target);
        if (p !== undefined) expect(p).toBe(viaUrl(target));
      }),
      fcOptions(2000),
    );
  });
});
