/**
 * FNV-1a 32-bit over the UTF-8 bytes of a string: the scheduler's published tie-break.
 *
 * Invariants:
 * - Pure and platform independent: the same string gives the same unsigned 32-bit number
 *   in Node, browsers and Obsidian mobile (no crypto, no TextEncoder differences).
 * - tieBreakHash(taskId, workerId, batch) = fnv1a32(`${taskId}|${workerId}|${batch}`).
 */

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a 32-bit of the UTF-8 encoding of `s` (lone surrogates encode as U+FFFD). */
export function fnv1a32(s: string): number {
  return fnv1a32From(FNV_OFFSET, s);
}

/**
 * Continue an FNV-1a hash `h` (of some prefix) over `s`: fnv1a32From(fnv1a32(a), b) equals
 * fnv1a32(a + b) whenever `a` does not end inside a surrogate pair (a prefix ending in an
 * ASCII separator, as in tieBreakHash, never does).
 */
export function fnv1a32From(h: number, s: string): number {
  return fnv1a32Bytes(h, utf8Bytes(s));
}

/** Continue an FNV-1a hash `h` over bytes (utf8Bytes of a string): fnv1a32From without re-encoding. */
export function fnv1a32Bytes(h: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, FNV_PRIME) >>> 0;
  return h;
}

/**
 * The UTF-8 bytes of `s` (lone surrogates as U+FFFD), written here rather than by TextEncoder
 * so every platform hashes the same bytes. claim-next encodes its hash suffix once per claim.
 */
export function utf8Bytes(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else c = 0xfffd;
    } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return Uint8Array.from(out);
}

/** The tie-break key of a (task, worker) pair in a batch: lower wins. */
export function tieBreakHash(taskId: string, workerId: string, batch: number): number {
  return fnv1a32(`${taskId}|${workerId}|${batch}`);
}

/** tieBreakHash's task part, once per task: fnv1a32From(it, `${workerId}|${batch}`) completes it. */
export function taskPrefixHash(taskId: string): number {
  return fnv1a32(`${taskId}|`);
}
