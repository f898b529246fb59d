/**
 * The storage port: the few primitives a backend must provide so the relay can persist on it.
 *
 * A backend maps string keys to bytes. Keys are ordered by Unicode code point (the same as the
 * byte order of their UTF-8, which LevelDB and PostgreSQL's "C" collation use). Keys must be
 * well-formed Unicode without NUL; `checkKey` enforces it before any backend sees a key.
 * Values are opaque bytes: JSON and binary encodings live one layer up (./store.ts), so every
 * backend stores exactly the same bytes. The contract is pinned by test/relay/store/contract.ts.
 */

/** A key range: any bounds, forwards or backwards, at most `limit` entries (negative or absent: all). */
/** Backends receive ranges through `checkRange`: at most one lower and one upper bound. */
export interface KeyRange {
  gt?: string;
  gte?: string;
  lt?: string;
  lte?: string;
  reverse?: boolean;
  limit?: number;
}

export type RawOp = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

/** How durable a batch must be when it resolves. */
export interface BatchOptions {
  /**
   * true: on stable storage (fsync / fdatasync, a committed transaction) before it resolves, so it
   * survives an OS crash or power loss. false or absent: handed to the OS (survives a process crash).
   */
  sync?: boolean;
}

/** OWP_DURABILITY: `fsync` (default) syncs every batch before anyone is answered; `os` leaves flushing to the OS. */
export type Durability = 'fsync' | 'os';
export const DURABILITY_MODES: readonly Durability[] = ['fsync', 'os'];

export interface StoreBackend {
  /** A short name for logs and docs: `leveldb`, `memory`, `file`, `postgres`. */
  readonly kind: string;
  get(key: string): Promise<Uint8Array | undefined>;
  /**
   * Atomic: after it resolves every op is applied (and on stable storage with `sync`); if it
   * rejects none is. Ops apply in order.
   */
  batch(ops: RawOp[], opts?: BatchOptions): Promise<void>;
  /**
   * Entries in the range, in key order (or reverse). The iterator reads one snapshot, taken no
   * later than when its first `next()` resolves: writes after that are not seen. Breaking out of
   * a `for await` (or calling `return()`) releases it.
   */
  iterate(range: KeyRange): AsyncIterableIterator<[string, Uint8Array]>;
  /** Idempotent. After it, other calls reject. */
  close(): Promise<void>;
  /**
   * Optional: bytes the stored data takes where it is not a folder of its own (PostgreSQL: the
   * relay's tables). Without it, the relay counts its data folder (owp_db_size_bytes).
   */
  sizeBytes?(): Promise<number | undefined>;
  /**
   * Optional: rewrite the stored data of `[gte, lt)` without the deleted entries it still
   * carries (LevelDB keeps a tombstone per deleted key until a compaction reaches it, and every
   * range scan walks them). Changes no value. Backends without tombstones leave it out.
   */
  compactRange?(range: { gte: string; lt: string }): Promise<void>;
}

/** A stable error for bad input to the store (a bad key, a value that is not what the caller asked for). */
export class StoreError extends Error {
  constructor(
    readonly code: 'bad-key' | 'bad-value' | 'closed' | 'locked' | 'corrupt' | 'unavailable' | 'fenced',
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function checkKey(key: unknown): string {
  if (typeof key !== 'string') throw new StoreError('bad-key', `a store key must be a string, not ${typeof key}`);
  if (key.includes('\u0000')) throw new StoreError('bad-key', `store key ${JSON.stringify(key)} contains NUL, which no backend can order the same way`);
  if (LONE_SURROGATE.test(key)) throw new StoreError('bad-key', `store key ${JSON.stringify(key)} is not well-formed Unicode (a lone surrogate)`);
  return key;
}

/** Code unit -> a number whose order is code point order (surrogates sort above U+E000..U+FFFF). */
function rank(c: number): number {
  return c < 0xd800 ? c : c < 0xe000 ? c + 0x2000 : c - 0x800;
}

/** Compare two well-formed strings by code point (= UTF-8 byte order). */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}

/**
 * The smallest key greater than every key that starts with `prefix` (the exclusive end of a
 * prefix scan): the last code point bumped by one, so `a/b/` gives `a/b0` and never covers
 * `a/bc/...`. Undefined when there is no such key (an empty prefix, or one of only U+10FFFF).
 */
export function prefixEnd(prefix: string): string | undefined {
  const cps = Array.from(prefix);
  while (cps.length > 0) {
    const cp = cps.pop()!.codePointAt(0)!;
    if (cp < 0x10ffff) {
      const next = cp + 1 === 0xd800 ? 0xe000 : cp + 1;
      return cps.join('') + String.fromCodePoint(next);
    }
  }
  return undefined;
}

/** The range of keys starting with `prefix`, optionally from `gte` on. */
export function prefixRange(prefix: string, opts: { gte?: string; reverse?: boolean; limit?: number } = {}): KeyRange {
  const gte = opts.gte !== undefined && compareKeys(opts.gte, prefix) > 0 ? opts.gte : prefix;
  const lt = prefixEnd(prefix);
  return { gte, ...(lt === undefined ? {} : { lt }), reverse: opts.reverse ?? false, limit: opts.limit ?? -1 };
}

/** Checks the bounds' keys and keeps only the tighter of gt/gte and of lt/lte (backends get at most one of each). */
export function checkRange(r: KeyRange): KeyRange {
  for (const b of [r.gt, r.gte, r.lt, r.lte]) if (b !== undefined) checkKey(b);
  const out: KeyRange = { reverse: r.reverse ?? false, limit: r.limit === undefined || r.limit < 0 ? -1 : Math.floor(r.limit) };
  if (r.gt !== undefined && (r.gte === undefined || compareKeys(r.gt, r.gte) >= 0)) out.gt = r.gt;
  else if (r.gte !== undefined) out.gte = r.gte;
  if (r.lt !== undefined && (r.lte === undefined || compareKeys(r.lt, r.lte) <= 0)) out.lt = r.lt;
  else if (r.lte !== undefined) out.lte = r.lte;
  return out;
}
