/**
 * The in-memory backend: an ordered map (a persistent red-black tree, functional-red-black-tree),
 * pure JavaScript, no native code. For tests, and the base of the append-log file backend
 * (./file.ts) that runs where LevelDB cannot (inside Obsidian).
 *
 * - Every write makes a new tree; an iterator keeps the tree it started on, so it reads a
 *   snapshot for free, and a batch is atomic because the new tree replaces the old one at once.
 * - A `MemoryVolume` outlives `close()` (like a RAM disk), so a reopen sees the data again and
 *   one volume is open at most once at a time (the same rule as a LevelDB folder).
 * - `persist` (optional) runs before a batch is applied; batches are applied in call order, and
 *   one whose `persist` rejects is not applied.
 */
import createRBTree from 'functional-red-black-tree';
import { compareKeys, StoreError, type KeyRange, type RawOp, type StoreBackend } from './port.js';

/** A copy as a plain Uint8Array (a Buffer's slice() would be a view of the same bytes). */
const copyBytes = (u: Uint8Array): Uint8Array => new Uint8Array(u);

export type Tree = createRBTree.Tree<string, Uint8Array>;

export class MemoryVolume {
  tree: Tree = createRBTree<string, Uint8Array>(compareKeys);
  /** Bytes of keys (as UTF-16 length) and values held: for deciding when a log is worth rewriting. */
  liveBytes = 0;
  inUse = false;

  /** The tree after `ops` (this volume is not changed; values are kept, not copied). */
  applied(ops: RawOp[]): { tree: Tree; liveBytes: number } {
    let tree = this.tree;
    let liveBytes = this.liveBytes;
    for (const op of ops) {
      const at = tree.find(op.key);
      if (at.valid) {
        liveBytes -= op.key.length + at.value!.byteLength;
        tree = at.remove();
      }
      if (op.type === 'put') {
        tree = tree.insert(op.key, op.value);
        liveBytes += op.key.length + op.value.byteLength;
      }
    }
    return { tree, liveBytes };
  }

  apply(ops: RawOp[]): void {
    const next = this.applied(ops);
    this.tree = next.tree;
    this.liveBytes = next.liveBytes;
  }
}

function startOf(tree: Tree, r: KeyRange): createRBTree.Iterator<string, Uint8Array> {
  if (!r.reverse) return r.gt !== undefined ? tree.gt(r.gt) : r.gte !== undefined ? tree.ge(r.gte) : tree.begin;
  return r.lt !== undefined ? tree.lt(r.lt) : r.lte !== undefined ? tree.le(r.lte) : tree.end;
}

/** Whether `key` is still inside the range on the side the walk is heading to. */
function before(key: string, r: KeyRange): boolean {
  if (!r.reverse) return (r.lt === undefined || compareKeys(key, r.lt) < 0) && (r.lte === undefined || compareKeys(key, r.lte) <= 0);
  return (r.gt === undefined || compareKeys(key, r.gt) > 0) && (r.gte === undefined || compareKeys(key, r.gte) >= 0);
}

/** Walk `tree` (a snapshot: trees never change) over a range from `checkRange`. */
export async function* walk(tree: Tree, r: KeyRange): AsyncIterableIterator<[string, Uint8Array]> {
  const limit = r.limit === undefined || r.limit < 0 ? Infinity : r.limit;
  const it = startOf(tree, r);
  for (let n = 0; n < limit && it.valid && before(it.key!, r); n++) {
    yield [it.key!, copyBytes(it.value!)];
    if (r.reverse) it.prev();
    else it.next();
  }
}

export interface MemoryOptions {
  volume?: MemoryVolume;
  kind?: string;
  /** Runs before a batch is applied; `sync` is the batch's BatchOptions.sync. */
  persist?: (ops: RawOp[], sync: boolean) => Promise<void>;
  /** Runs once on close, after the last batch. */
  onClose?: () => Promise<void>;
}

export function openMemoryBackend(opts: MemoryOptions = {}): StoreBackend {
  const volume = opts.volume ?? new MemoryVolume();
  if (volume.inUse) throw new StoreError('locked', 'this memory volume is already open');
  volume.inUse = true;
  let closed = false;
  let chain: Promise<unknown> = Promise.resolve();
  const open = () => {
    if (closed) throw new StoreError('closed', 'the store is closed');
  };
  return {
    kind: opts.kind ?? 'memory',
    async get(key) {
      open();
      const v = volume.tree.get(key);
      return v === undefined ? undefined : copyBytes(v);
    },
    batch(ops, batchOpts) {
      try {
        open();
      } catch (err) {
        return Promise.reject(err);
      }
      const copy = ops.map((op) => (op.type === 'put' ? { ...op, value: copyBytes(op.value) } : { ...op }));
      const run = async () => {
        if (copy.length === 0) return;
        if (opts.persist) await opts.persist(copy, batchOpts?.sync === true);
        volume.apply(copy);
      };
      const p = chain.then(run, run);
      chain = p.catch(() => undefined);
      return p;
    },
    iterate(range) {
      open();
      return walk(volume.tree, range);
    },
    async close() {
      if (closed) return;
      closed = true;
      await chain;
      await opts.onClose?.();
      volume.inUse = false;
    },
  };
}
