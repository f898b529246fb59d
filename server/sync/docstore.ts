/**
 * Yjs documents persisted in the Store (any backend): a compacted snapshot plus a log of the updates since.
 *
 * Invariants:
 * - Keys: `doc/<encodeURIComponent(name)>/snap` (Yjs update of the whole doc) and
 *   `doc/<encodeURIComponent(name)>/u/<seq zero-padded to 12>` (one update each), binary.
 * - Every update a loaded doc emits (any origin: a client, the relay) is appended to its log, in
 *   order, through one promise chain per doc; `whenPersisted(name)` resolves once every update
 *   emitted so far is on disk, so callers can write before they broadcast.
 * - Compaction (once at least `compactEvery` updates AND at least `compactSizeFactor` times the
 *   snapshot's size in bytes were logged since the last one; and on close) writes the snapshot
 *   and deletes the logged updates it covers in one atomic batch. By size, so the whole-doc
 *   encode (~100 ms for a busy ledger) costs O(1) per logged byte instead of stalling the relay
 *   every few seconds (docs/BENCHMARKS.md measured it as the steady-state p99 tail); a crash at any point loses nothing (the log is
 *   replayed over the snapshot, and Yjs updates are idempotent).
 * - A doc is loaded once per name (concurrent `get`s share the load). Awareness never passes
 *   through here: heartbeats do not grow persisted documents.
 */
import * as Y from 'yjs';
import type { Logger } from '../ports.js';
import type { Store, StoreOp } from '../store/index.js';

const SEQ_WIDTH = 12;
export const DOC_PREFIX = 'doc/';

export function docKeyPrefix(name: string): string {
  return `${DOC_PREFIX}${encodeURIComponent(name)}/`;
}
export function docSnapKey(name: string): string {
  return docKeyPrefix(name) + 'snap';
}
export function docUpdateKey(name: string, seq: number): string {
  return docKeyPrefix(name) + 'u/' + String(seq).padStart(SEQ_WIDTH, '0');
}

export interface DocStoreOptions {
  /** Compact a doc's log into its snapshot after this many updates (default 200). */
  compactEvery?: number;
  /** ...and only once the bytes logged since reach this many times the snapshot's size (default 8; 0: by count only). */
  compactSizeFactor?: number;
  log?: Logger;
}

interface Entry {
  doc: Y.Doc;
  nextSeq: number;
  sinceCompaction: number;
  /** Bytes logged since the last compaction (or found in the log at load). */
  bytesSinceCompaction: number;
  /** Size of the last snapshot written (or read at load). */
  snapBytes: number;
  chain: Promise<void>;
  /** Updates emitted but not yet handed to the store: the next batch in the chain takes them all. */
  pending: StoreOp[];
  onUpdate: (update: Uint8Array) => void;
}

export class DocStore {
  private readonly loading = new Map<string, Promise<Y.Doc>>();
  private readonly loaded = new Map<string, Entry>();
  private readonly loadListeners = new Set<(name: string, doc: Y.Doc) => void>();
  private readonly compactEvery: number;
  private readonly compactSizeFactor: number;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly opts: DocStoreOptions = {},
  ) {
    this.compactEvery = Math.max(1, opts.compactEvery ?? 200);
    this.compactSizeFactor = Math.max(0, opts.compactSizeFactor ?? 8);
  }

  /** The doc of that name, loaded from the store on first use (an empty doc if none is stored). */
  get(name: string): Promise<Y.Doc> {
    if (this.closed) return Promise.reject(new Error('DocStore is closed'));
    let p = this.loading.get(name);
    if (!p) {
      p = this.load(name);
      this.loading.set(name, p);
      p.catch(() => this.loading.delete(name));
    }
    return p;
  }

  /** The doc if it is loaded already. */
  peek(name: string): Y.Doc | undefined {
    return this.loaded.get(name)?.doc;
  }

  /** Names of every doc stored or loaded now. */
  async names(): Promise<string[]> {
    const out = new Set(this.loaded.keys());
    for (const k of await this.store.keys(DOC_PREFIX)) {
      const enc = k.slice(DOC_PREFIX.length).split('/')[0];
      try {
        out.add(decodeURIComponent(enc));
      } catch {
        // not one of ours; leave it
      }
    }
    return [...out].sort();
  }

  /** Called once per doc when it is loaded (also for docs loaded before the call). */
  onLoad(cb: (name: string, doc: Y.Doc) => void): () => void {
    this.loadListeners.add(cb);
    for (const [name, e] of this.loaded) cb(name, e.doc);
    return () => this.loadListeners.delete(cb);
  }

  /** Resolves when every update of that doc emitted so far is on disk. */
  whenPersisted(name: string): Promise<void> {
    return this.loaded.get(name)?.chain ?? Promise.resolve();
  }

  /** Write the snapshot now and drop the logged updates it covers. */
  compact(name: string): Promise<void> {
    const e = this.loaded.get(name);
    if (!e) return Promise.resolve();
    this.scheduleCompaction(name, e);
    return e.chain;
  }

  async flush(): Promise<void> {
    await Promise.all([...this.loaded.values()].map((e) => e.chain));
  }

  /** Flush, compact docs with logged updates, and unload every doc. */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.allSettled([...this.loading.values()]);
    this.closed = true;
    for (const [name, e] of this.loaded) {
      e.doc.off('update', e.onUpdate);
      if (e.sinceCompaction > 0) this.scheduleCompaction(name, e);
    }
    await this.flush();
    for (const e of this.loaded.values()) e.doc.destroy();
    this.loaded.clear();
    this.loading.clear();
  }

  private async load(name: string): Promise<Y.Doc> {
    const doc = new Y.Doc();
    const snap = await this.store.getBinary(docSnapKey(name));
    let nextSeq = 1;
    let logged = 0;
    let loggedBytes = 0;
    doc.transact(() => {
      if (snap) Y.applyUpdate(doc, snap, 'load');
    }, 'load');
    const updates = await this.store.entries<Uint8Array>(docKeyPrefix(name) + 'u/', { encoding: 'binary' });
    if (updates.length > 0) {
      Y.applyUpdate(doc, Y.mergeUpdates(updates.map(([, u]) => u)), 'load');
      const lastKey = updates[updates.length - 1][0];
      nextSeq = Number(lastKey.slice(lastKey.lastIndexOf('/') + 1)) + 1;
      logged = updates.length;
      for (const [, u] of updates) loggedBytes += u.byteLength;
    }
    const entry: Entry = {
      doc,
      nextSeq,
      sinceCompaction: logged,
      bytesSinceCompaction: loggedBytes,
      snapBytes: snap?.byteLength ?? 0,
      chain: Promise.resolve(),
      pending: [],
      onUpdate: () => undefined,
    };
    entry.onUpdate = (update: Uint8Array) => this.append(name, entry, update);
    doc.on('update', entry.onUpdate);
    this.loaded.set(name, entry);
    for (const cb of this.loadListeners) {
      try {
        cb(name, doc);
      } catch (err) {
        this.opts.log?.error('doc load listener failed', { doc: name, err: String(err) });
      }
    }
    return doc;
  }

  private append(name: string, e: Entry, update: Uint8Array): void {
    const seq = e.nextSeq++;
    e.sinceCompaction += 1;
    e.bytesSinceCompaction += update.byteLength;
    e.pending.push({ type: 'put', key: docUpdateKey(name, seq), value: update, encoding: 'binary' });
    // Group commit: one batch (one sync) takes every update queued before it starts.
    if (e.pending.length === 1) {
      e.chain = e.chain
        .then(() => {
          const ops = e.pending;
          e.pending = [];
          return this.store.batch(ops);
        })
        .catch((err) => this.opts.log?.error('could not persist document updates', { doc: name, seq, err: String(err) }));
    }
    if (e.sinceCompaction >= this.compactEvery && e.bytesSinceCompaction >= this.compactSizeFactor * e.snapBytes) this.scheduleCompaction(name, e);
  }

  /** Queue a compaction covering every update logged so far (they are ahead of it in the chain). */
  private scheduleCompaction(name: string, e: Entry): void {
    const upTo = e.nextSeq - 1;
    e.sinceCompaction = 0;
    e.bytesSinceCompaction = 0;
    e.chain = e.chain.then(() => this.compactNow(name, e, upTo));
  }

  /**
   * Runs inside the doc's chain, so updates 1..upTo are on disk. The snapshot is the doc as it is
   * now (it may hold later updates too; their log entries stay and replay harmlessly).
   */
  private async compactNow(name: string, e: Entry, upTo: number): Promise<void> {
    try {
      const snap = Y.encodeStateAsUpdate(e.doc);
      e.snapBytes = snap.byteLength;
      const ops: StoreOp[] = [{ type: 'put', key: docSnapKey(name), value: snap, encoding: 'binary' }];
      for (const k of await this.store.keys(docKeyPrefix(name) + 'u/')) {
        const seq = Number(k.slice(k.lastIndexOf('/') + 1));
        if (seq <= upTo) ops.push({ type: 'del', key: k });
      }
      await this.store.batch(ops);
    } catch (err) {
      this.opts.log?.error('could not compact a document', { doc: name, err: String(err) });
    }
  }
}
