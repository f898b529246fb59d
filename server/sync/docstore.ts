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
 * - Keys: ./doc-keys.ts. Compaction and rotation of a doc on one relay: ./doc-compaction.ts;
 *   with several relays on one database (`fanout`): ./docstore-shared.ts (the arbiter compacts
 *   and rotates; the others follow, and reload a new generation).
 * - Compaction (once at least `compactEvery` updates AND at least `compactSizeFactor` times the
 *   snapshot's size in bytes were logged since the last one; and on close) writes the snapshot
 *   and deletes the logged updates it covers in one atomic batch: by size, so the whole-doc
 *   encode costs O(1) per logged byte (a large doc's off the event loop, ./snapshot-encoder.ts);
 *   a crash loses nothing (log replayed over the snapshot).
 * - A doc is loaded once per name (concurrent `get`s share the load); `close` compacts them one
 *   at a time (thousands of inboxes at once held a store read each). Awareness never passes
 *   through here: heartbeats do not grow persisted documents.
 * - Rotation (./rotation.ts, after `enableRotation`): at a compaction (forced too once the bytes
 *   logged since the last check could be due garbage) of a rotating doc whose garbage is due,
 *   the doc is rebuilt as the next generation and swapped in (same tick), the
 *   `onRotate` listeners re-point, and one atomic batch writes the new snapshot and generation
 *   (`doc/<name>/gen`) and deletes the old log: a crash leaves the old or the new, never a mix.
 */
import { randomBytes } from 'node:crypto';
import * as Y from 'yjs';
import type { Logger } from '../ports.js';
import { prefixRange, type Store, type StoreOp } from '../store/index.js';
import { compactNow, rotationCheckDue, type CompactionHost } from './doc-compaction.js';
import { SnapshotEncoder } from './snapshot-encoder.js';
import { SharedDocs, type DocFanout } from './docstore-shared.js';
import { DOC_PREFIX, docGenKey, docKeyPrefix, docSnapKey, docUpdateKey, REMOTE, seqOf } from './doc-keys.js';
import { decodeGeneration, garbageOf, GENESIS, staleClients, type Generation, type RotationPolicy } from './rotation.js';

const noop = (): void => {};

export { DOC_PREFIX, docGenKey, docKeyPrefix, docSnapKey, docUpdateKey, REMOTE } from './doc-keys.js';
export type { DocFanout, RotationBuild } from './docstore-shared.js';

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
  /** Compact a doc whose last snapshot is at least this many bytes off the event loop (default 64 KiB; ./doc-compaction.ts). */
  offThreadBytes?: number;
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
  /** Garbage that may have been added since the last check: `garbageOf` each transaction. */
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
  /** A reload from the store is queued in the chain (several relays). */
  reloadQueued?: boolean;
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
  private readonly encoder: SnapshotEncoder;
  private readonly shared: SharedDocs | undefined;

  constructor(
    private readonly store: Store,
    private readonly opts: DocStoreOptions = {},
  ) {
    this.compactEvery = Math.max(1, opts.compactEvery ?? 200);
    this.compactSizeFactor = Math.max(0, opts.compactSizeFactor ?? 8);
    this.encoder = new SnapshotEncoder(opts.log);
    this.host = {
      store,
      log: opts.log,
      encoder: this.encoder,
      offThreadBytes: Math.max(0, opts.offThreadBytes ?? 64 * 1024),
      rotation: () => this.rotation,
      closed: () => this.closed,
      swap: (name, e, fresh, gen, snapBytes) => this.swap(name, e, fresh, gen, snapBytes),
    };
    if (opts.fanout) {
      // A tag per DocStore (per relay process): two relays never write the same update key.
      const writer = (this.writer = randomBytes(6).toString('hex'));
      const shared = (this.shared = new SharedDocs({
        ...this.host,
        fanout: opts.fanout,
        writer,
        entry: (name) => this.loaded.get(name),
        names: () => [...this.loaded.keys()],
        loading: (name) => this.loading.get(name),
        read: (name) => this.read(name),
        onRemoteDoc: opts.onRemoteDoc,
      }));
      this.unsubscribe = opts.fanout.subscribe({ update: (n, k, u, g) => shared.remote(n, k, u, g), rotated: (n, g) => shared.rotated(n, g), resync: () => void shared.resync() });
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

  /** Rotate docs by this policy from now on (once every holder listens; several relays: the arbiter rotates). */
  enableRotation(policy: RotationPolicy): void {
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

  /** Write the snapshot now and drop the logged updates it covers (a rotating doc: and check its garbage). */
  compact(name: string): Promise<void> {
    const e = this.loaded.get(name);
    if (!e) return Promise.resolve();
    this.scheduleCompaction(name, e, this.rotation?.docs.includes(name));
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
    for (const e of this.loaded.values()) e.doc.off('update', e.onUpdate);
    // One doc at a time: a relay with thousands of loaded docs (a worker inbox each) otherwise
    // opens a store read per doc at once, and its memory peaked at gigabytes while stopping.
    for (const [name, e] of this.loaded) {
      if (e.sinceCompaction > 0) this.scheduleCompaction(name, e);
      await e.chain.then(noop, noop); // a failed write rejects the flush below, as before
    }
    await this.flush();
    await this.encoder.close();
    for (const e of this.loaded.values()) e.doc.destroy();
    this.loaded.clear();
    this.loading.clear();
  }

  /** The doc as stored: snapshot, generation and log from one read of the store. */
  private async read(name: string): Promise<{ doc: Y.Doc; gen: Generation; nextSeq: number; logged: number; loggedBytes: number; snapBytes: number }> {
    const doc = new Y.Doc();
    // One read: a compaction by another relay in between could otherwise delete updates this
    // read has not seen yet while its snapshot is older.
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
    return { doc, gen, nextSeq, logged: updates.length, loggedBytes, snapBytes: snap?.byteLength ?? 0 };
  }

  private async load(name: string): Promise<Y.Doc> {
    const { doc, gen, nextSeq, logged, loggedBytes, snapBytes } = await this.read(name);
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
      snapBytes,
      chain: Promise.resolve(),
      pending: [],
      onUpdate: () => undefined,
    };
    entry.onUpdate = (update, origin, _doc, tr) => {
      if (origin !== REMOTE) this.append(name, entry, update, tr);
      else if (this.shared?.arbiter()) this.count(name, entry, update, tr); // others' garbage is the arbiter's to rotate
      else entry.freshBytes = undefined; // a follower does not count others' garbage: an arbiter later checks afresh
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
    const key = docUpdateKey(name, seq, this.writer);
    const failed = (err: unknown) => this.opts.log?.error('could not persist document updates', { doc: name, seq, err: String(err) });
    if (this.shared) {
      const shared = this.shared;
      const gen = e.gen.generation;
      e.chain = e.chain.then(() => shared.append(name, e, key, update, gen)).catch(failed);
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
    this.count(name, e, update, tr);
  }

  /** Count a logged update towards the next compaction and rotation check. */
  private count(name: string, e: Entry, update: Uint8Array, tr?: Y.Transaction): void {
    e.sinceCompaction += 1;
    e.bytesSinceCompaction += update.byteLength;
    if (e.sinceCompaction >= this.compactEvery && e.bytesSinceCompaction >= this.compactSizeFactor * e.snapBytes) this.scheduleCompaction(name, e);
    const r = this.rotation;
    if (r?.docs.includes(name)) {
      // Garbage grows at most by what deleted structs keep (`garbageOf`); past the trigger a check is forced
      // once (minGarbageBytes 0, tests: checked at compactions only).
      e.sinceCheck += garbageOf(tr, update);
      if (r.minGarbageBytes && !e.checkQueued && e.freshBytes !== undefined && rotationCheckDue(e, r)) {
        e.checkQueued = true;
        this.scheduleCompaction(name, e, true);
      }
    }
  }

  /** Catch up every loaded doc from the store (notes from other relays may have been missed). */
  async resync(): Promise<void> {
    await this.shared?.resync();
  }

  /** Queue a compaction covering every update logged so far (they are ahead of it in the chain). */
  private scheduleCompaction(name: string, e: Entry, checkRotation = false): void {
    const upTo = e.nextSeq - 1;
    const counted = e.sinceCheck; // what a check covering 1..upTo has measured
    e.sinceCompaction = 0;
    e.bytesSinceCompaction = 0;
    e.chain = e.chain.then(() => (this.shared ? this.shared.compact(name, e, checkRotation) : compactNow(this.host, name, e, upTo, checkRotation, counted)));
  }

  /** Put `fresh` (generation `gen`) in place of the doc, synchronously, and let the holders re-point; returns the old doc. */
  private swap(name: string, e: Entry, fresh: Y.Doc, gen: Generation, snapBytes: number): Y.Doc {
    const old = e.doc;
    old.off('update', e.onUpdate);
    // Updates queued for the old doc are in the rebuild (or of a generation left behind).
    e.pending = [];
    e.doc = fresh;
    e.gen = gen;
    e.snapBytes = snapBytes;
    e.sinceCompaction = 0;
    e.bytesSinceCompaction = 0;
    // A new generation starts with no garbage (a rebuild, or one read from the store).
    e.freshBytes = e.maxFreshBytes = snapBytes;
    e.garbageAtCheck = e.sinceCheck = 0;
    fresh.on('update', e.onUpdate);
    this.loading.set(name, Promise.resolve(fresh));
    for (const cb of this.rotateListeners) {
      try {
        cb(name, fresh, gen.generation);
      } catch (err) {
        this.opts.log?.error('doc rotation listener failed', { doc: name, err: String(err) });
      }
    }
    return old;
  }
}
