/**
 * Yjs documents persisted in the Store (any backend): a compacted snapshot plus a log of the updates since.
 *
 * Invariants:
 * - Keys: `doc/<encodeURIComponent(name)>/snap` (Yjs update of the whole doc) and
 *   `doc/<encodeURIComponent(name)>/u/<seq zero-padded to 12>` (one update each), binary.
 * - Every update a loaded doc emits (any origin: a client, the relay) is appended to its log, in
 *   order, through one promise chain per doc; `whenPersisted(name)` resolves once every update
 *   emitted so far is on disk (synced, with the store's `fsync` durability), so callers can write
 *   before they broadcast. Updates emitted while a write is in flight go together in the next
 *   batch (group commit: one sync for a burst of edits; with a fanout, one transaction each).
 * - Keys: ./doc-keys.ts. Compaction and rotation of a doc on one relay: ./doc-compaction.ts.
 * - Compaction (once at least `compactEvery` updates AND at least `compactSizeFactor` times the
 *   snapshot's size in bytes were logged since the last one; and on close) writes the snapshot
 *   and deletes the logged updates it covers in one atomic batch: by size, so the whole-doc
 *   encode costs O(1) per logged byte; a crash loses nothing (log replayed over the snapshot).
 * - A doc is loaded once per name (concurrent `get`s share the load). Awareness never passes
 *   through here: heartbeats do not grow persisted documents.
 * - Rotation (./rotation.ts, after `enableRotation`): at a compaction (forced too) of a rotating
 *   doc whose garbage may be due (`rotationCheckDue`, ./doc-compaction.ts) and really is,
 *   the doc is rebuilt as the next generation and swapped in (same tick), the
 *   `onRotate` listeners re-point, and one atomic batch writes the new snapshot and generation
 *   (`doc/<name>/gen`) and deletes the old log: a crash leaves the old or the new, never a mix.
 */
import { randomBytes } from 'node:crypto';
import * as Y from 'yjs';
import type { Logger } from '../ports.js';
import { prefixRange, type Store, type StoreOp } from '../store/index.js';
import { compactNow, rotationCheckDue, type CompactionHost } from './doc-compaction.js';
import { DOC_PREFIX, docGenKey, docKeyPrefix, docSnapKey, docUpdateKey, REMOTE, seqOf } from './doc-keys.js';
import { decodeGeneration, garbageOf, GENESIS, staleClients, type Generation, type RotationPolicy } from './rotation.js';

export { DOC_PREFIX, docGenKey, docKeyPrefix, docSnapKey, docUpdateKey, REMOTE } from './doc-keys.js';

/**
 * Several relays on one database (server/store/postgres-docs.ts): updates are written with a
 * note to the other relays in the same transaction; theirs arrive through `subscribe`.
 */
export interface DocFanout {
  /** Persist one update and tell the other relays (atomically). */
  append(name: string, key: string, update: Uint8Array): Promise<void>;
  /** Write a compaction if this relay may compact now (the arbiter, under its fence); false: skipped. */
  compact(ops: StoreOp[]): Promise<boolean>;
  /** Updates other relays wrote (`update` absent: read it by key), and `resync` after notes may have been missed. */
  subscribe(listener: { update(name: string, key: string, update?: Uint8Array): void; resync(): void }): () => void;
}

export interface DocStoreOptions {
  /** Compact a doc's log into its snapshot after this many updates (default 200). */
  compactEvery?: number;
  /** ...and only once the bytes logged since reach this many times the snapshot's size (default 8; 0: by count only). */
  compactSizeFactor?: number;
  log?: Logger;
  /** Several relays on one database: write through this and follow the others' updates. */
  fanout?: DocFanout;
  /** An update from another relay for a doc this relay has not loaded (the relay may load it). */
  onRemoteDoc?: (name: string) => void;
}

/** One loaded doc's state. */
export interface Entry {
  doc: Y.Doc;
  gen: Generation;
  /** Encoded size of a fresh rebuild at the last rotation check (undefined: none since load). */
  freshBytes?: number;
  /** The largest fresh size seen since the last rotation, and the garbage measured at the last check. */
  maxFreshBytes: number;
  garbageAtCheck: number;
  /** Garbage that may have been added since the last check: bytes logged plus `garbageOf` each transaction. */
  sinceCheck: number;
  /** A rotation check is queued in the chain (the append path forces one at most once). */
  checkQueued: boolean;
  nextSeq: number;
  sinceCompaction: number;
  /** Bytes logged since the last compaction (or found in the log at load). */
  bytesSinceCompaction: number;
  /** Size of the last snapshot written (or read at load). */
  snapBytes: number;
  chain: Promise<void>;
  /** Updates emitted but not yet handed to the store: the next batch in the chain takes them all. */
  pending: StoreOp[];
  onUpdate: (update: Uint8Array, origin: unknown, doc: Y.Doc, tr: Y.Transaction) => void;
}

export class DocStore {
  private readonly loading = new Map<string, Promise<Y.Doc>>();
  private readonly loaded = new Map<string, Entry>();
  private readonly loadListeners = new Set<(name: string, doc: Y.Doc) => void>();
  private readonly rotateListeners = new Set<(name: string, doc: Y.Doc, generation: number) => void>();
  private rotation: RotationPolicy | undefined;
  private readonly compactEvery: number;
  private readonly compactSizeFactor: number;
  private closed = false;
  private readonly writer: string | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly host: CompactionHost;

  constructor(
    private readonly store: Store,
    private readonly opts: DocStoreOptions = {},
  ) {
    this.compactEvery = Math.max(1, opts.compactEvery ?? 200);
    this.compactSizeFactor = Math.max(0, opts.compactSizeFactor ?? 8);
    this.host = {
      store,
      log: opts.log,
      rotation: () => this.rotation,
      closed: () => this.closed,
      swap: (name, e, fresh, gen, snapBytes) => this.swap(name, e, fresh, gen, snapBytes),
    };
    if (opts.fanout) {
      // A tag per DocStore (per relay process): two relays never write the same update key.
      this.writer = randomBytes(6).toString('hex');
      this.unsubscribe = opts.fanout.subscribe({ update: (n, k, u) => this.remote(n, k, u), resync: () => void this.resync() });
    }
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
  peek = (name: string): Y.Doc | undefined => this.loaded.get(name)?.doc;

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

  /** Rotate docs by this policy from now on (once every holder listens); not with several relays yet. */
  enableRotation(policy: RotationPolicy): void {
    if (this.opts.fanout) return;
    this.rotation = policy;
    // A doc loaded bloated (written before rotation existed) is checked once now, in its chain.
    for (const [name, e] of this.loaded) if (policy.docs.includes(name)) this.scheduleCompaction(name, e);
  }

  /** Called synchronously when a doc was swapped for its next generation: re-point at `doc`. */
  onRotate(cb: (name: string, doc: Y.Doc, generation: number) => void): () => void {
    this.rotateListeners.add(cb);
    return () => this.rotateListeners.delete(cb);
  }

  /** The doc's generation (0: never rotated). */
  generation = (name: string): number => this.loaded.get(name)?.gen.generation ?? 0;

  /** Client ids in a peer's state vector that an older generation of the doc used (empty: not stale). */
  staleClients = (name: string, sv: Uint8Array | Map<number, number>): number[] => staleClients(sv, this.loaded.get(name)?.gen.retired ?? new Map());

  /** Resolves when every update of that doc emitted so far is on disk. */
  whenPersisted = (name: string): Promise<void> => this.loaded.get(name)?.chain ?? Promise.resolve();

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
    this.unsubscribe?.();
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
    // Snapshot and log from one read of the store: a compaction by another relay in between
    // could otherwise delete updates this read has not seen yet while its snapshot is older.
    let snap: Uint8Array | undefined;
    const updates: Uint8Array[] = [];
    let nextSeq = 1;
    let loggedBytes = 0;
    let gen = GENESIS;
    for await (const [key, value] of this.store.iterate<Uint8Array>(prefixRange(docKeyPrefix(name)), 'binary')) {
      if (key === docSnapKey(name)) snap = value;
      else if (key === docGenKey(name)) gen = decodeGeneration(value);
      else if (key.startsWith(docKeyPrefix(name) + 'u/')) {
        updates.push(value);
        loggedBytes += value.byteLength;
        nextSeq = Math.max(nextSeq, seqOf(key) + 1);
      }
    }
    doc.transact(() => {
      if (snap) Y.applyUpdate(doc, snap, 'load');
    }, 'load');
    if (updates.length > 0) Y.applyUpdate(doc, Y.mergeUpdates(updates), 'load');
    const logged = updates.length;
    const entry: Entry = {
      doc,
      gen,
      sinceCheck: 0,
      maxFreshBytes: 0,
      garbageAtCheck: 0,
      checkQueued: false,
      nextSeq,
      sinceCompaction: logged,
      bytesSinceCompaction: loggedBytes,
      snapBytes: snap?.byteLength ?? 0,
      chain: Promise.resolve(),
      pending: [],
      onUpdate: () => undefined,
    };
    entry.onUpdate = (update, origin, _doc, tr) => {
      if (origin !== REMOTE) this.append(name, entry, update, tr);
    };
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

  private append(name: string, e: Entry, update: Uint8Array, tr?: Y.Transaction): void {
    const seq = e.nextSeq++;
    e.sinceCompaction += 1;
    e.bytesSinceCompaction += update.byteLength;
    const key = docUpdateKey(name, seq, this.writer);
    const fanout = this.opts.fanout;
    const failed = (err: unknown) => this.opts.log?.error('could not persist document updates', { doc: name, seq, err: String(err) });
    if (fanout) {
      e.chain = e.chain.then(() => fanout.append(name, key, update)).catch(failed);
    } else {
      e.pending.push({ type: 'put', key, value: update, encoding: 'binary' });
      // Group commit: one batch (one sync) takes every update queued before it starts.
      if (e.pending.length === 1) {
        e.chain = e.chain
          .then(() => {
            const ops = e.pending;
            e.pending = [];
            return this.store.batch(ops);
          })
          .catch(failed);
      }
    }
    if (e.sinceCompaction >= this.compactEvery && e.bytesSinceCompaction >= this.compactSizeFactor * e.snapBytes) this.scheduleCompaction(name, e);
    const r = this.rotation;
    if (r?.docs.includes(name)) {
      // Garbage grows at most by what is logged and deleted; past the trigger a check is forced
      // once (minGarbageBytes 0, tests: checked at compactions only).
      e.sinceCheck += update.byteLength + garbageOf(tr);
      if (r.minGarbageBytes && !e.checkQueued && e.freshBytes !== undefined && rotationCheckDue(e, r)) {
        e.checkQueued = true;
        this.scheduleCompaction(name, e);
      }
    }
  }

  /** Another relay's update: applied to the loaded doc (read by key when the note did not carry it). */
  private remote(name: string, key: string, update?: Uint8Array): void {
    if (this.closed || (this.writer && key.endsWith(`-${this.writer}`))) return;
    const loading = this.loading.get(name);
    if (!loading) return this.opts.onRemoteDoc?.(name);
    // A doc still loading may have read the store before this update committed: apply after.
    void loading
      .then(async (doc) => {
        const bytes = update ?? (await this.store.getBinary(key));
        if (bytes) Y.applyUpdate(doc, bytes, REMOTE);
        else await this.resyncDoc(name); // compacted away meanwhile: it is in the snapshot
      })
      .catch((err) => this.opts.log?.error('could not apply an update from another relay', { doc: name, err: String(err) }));
  }

  /** Catch up every loaded doc from the store (notes from other relays may have been missed). */
  async resync(): Promise<void> {
    await Promise.all([...this.loaded.keys()].map((name) => this.resyncDoc(name)));
  }

  private async resyncDoc(name: string): Promise<void> {
    const e = this.loaded.get(name);
    if (!e || this.closed) return;
    const all: Uint8Array[] = [];
    for await (const [, v] of this.store.iterate<Uint8Array>(prefixRange(docKeyPrefix(name)), 'binary')) all.push(v);
    if (all.length > 0) Y.applyUpdate(e.doc, Y.mergeUpdates(all), REMOTE);
  }

  /**
   * Compaction with several writers: fold in every logged update (others' too), write the
   * snapshot and delete exactly the keys read. Only the arbiter compacts (under its fence),
   * so two snapshots never race; an update written meanwhile keeps its key.
   */
  private async compactShared(name: string, e: Entry, fanout: DocFanout): Promise<void> {
    try {
      const logged = await this.store.entries<Uint8Array>(docKeyPrefix(name) + 'u/', { encoding: 'binary' });
      if (logged.length > 0) Y.applyUpdate(e.doc, Y.mergeUpdates(logged.map(([, u]) => u)), REMOTE);
      const snap = Y.encodeStateAsUpdate(e.doc);
      const ops: StoreOp[] = [{ type: 'put', key: docSnapKey(name), value: snap, encoding: 'binary' }];
      for (const [k] of logged) ops.push({ type: 'del', key: k });
      if (await fanout.compact(ops)) e.snapBytes = snap.byteLength;
    } catch (err) {
      this.opts.log?.error('could not compact a document', { doc: name, err: String(err) });
    }
  }

  /** Queue a compaction covering every update logged so far (they are ahead of it in the chain). */
  private scheduleCompaction(name: string, e: Entry): void {
    const upTo = e.nextSeq - 1;
    e.sinceCompaction = 0;
    e.bytesSinceCompaction = 0;
    e.chain = e.chain.then(() => (this.opts.fanout ? this.compactShared(name, e, this.opts.fanout) : compactNow(this.host, name, e, upTo)));
  }

  /** Put `fresh` (generation `gen`) in place of the doc, synchronously, and let the holders re-point; returns the old doc. */
  private swap(name: string, e: Entry, fresh: Y.Doc, gen: Generation, snapBytes: number): Y.Doc {
    const old = e.doc;
    old.off('update', e.onUpdate);
    // Updates queued for the old doc are in the rebuild; the rotation's batch writes it instead.
    e.pending = [];
    e.doc = fresh;
    e.gen = gen;
    e.snapBytes = snapBytes;
    fresh.on('update', e.onUpdate);
    this.loading.set(name, Promise.resolve(fresh));
    for (const cb of this.rotateListeners) cb(name, fresh, gen.generation);
    return old;
  }
}
