/**
 * The DocStore's side of several relays on one database (its DocFanout, PostgreSQL:
 * server/store/postgres-docs.ts): other relays' updates, catching up, and compaction and
 * rotation by the arbiter (docs/ROTATION.md, "Several relays on one PostgreSQL database").
 *
 * Invariants:
 * - Every append and reload of a doc runs in its chain, in order. An update is appended with
 *   the generation its doc held when it was emitted; an update of a generation the relay has
 *   left since is not written (the arbiter's is in its rebuild; a follower's belongs to the
 *   copy its client is told to drop). A rotating doc's append is refused by the database once
 *   another generation is stored there: the relay is behind and reloads.
 * - Reload: the doc is read again whole (snapshot, generation, log in one read). The same
 *   generation is merged in (catching up); another one is swapped in with the `onRotate`
 *   listeners, as at a rotation (the rooms close their sockets with 4409). A `rot` note, an
 *   update note of another generation, a refused append and a lost listening connection
 *   make the relay reload; a note of an older generation is dropped.
 * - Only the arbiter compacts and rotates. A rotation check is measured outside any lock, as
 *   on one relay (./doc-compaction.ts `snapshotAndSize`: a large doc's in the snapshot
 *   encoder's worker); only if it is due does the fanout's transaction take the doc's
 *   exclusive lock, where the log is read again and applied, the doc rebuilt and swapped (no
 *   await in between) and everything written at once. If that transaction fails after the
 *   swap (deposed, database lost, killed), the relay reloads what the store holds.
 */
import * as Y from 'yjs';
import type { StoreOp } from '../store/index.js';
import { checkNow, dueBy, rebuildIfDue, snapshotAndSize, type CompactionHost } from './doc-compaction.js';
import { docKeyPrefix, docSnapKey, REMOTE } from './doc-keys.js';
import type { Entry } from './docstore.js';
import { DEFAULT_ROTATION, rotationOps, type Generation, type RotationPolicy } from './rotation.js';

/** What a rotation writes (./docstore-shared.ts), built inside the fanout's transaction from the stored generation (undefined: never rotated there) and log. */
export type RotationBuild = (stored: number | undefined, logged: [string, Uint8Array][]) => { ops: StoreOp[]; generation: number } | undefined;

/**
 * Several relays on one database (server/store/postgres-docs.ts): updates are written with a
 * note to the other relays in the same transaction; theirs arrive through `subscribe`.
 */
export interface DocFanout {
  /** Persist one update and tell the other relays (atomically); with `generation`, only while the doc is at it (false: it moved on, nothing written). */
  append(name: string, key: string, update: Uint8Array, generation?: number): Promise<boolean>;
  /** Write a compaction if this relay may compact now (the arbiter, under its fence) and the doc is at `generation`; false: skipped. */
  compact(name: string, generation: number, ops: StoreOp[]): Promise<boolean>;
  /** Whether this relay compacts and rotates now (the arbiter). */
  mayCompact(): boolean;
  /** Rotate under the fence and the doc's exclusive lock (`build` returns undefined: nothing written); false: not the arbiter, or not built. */
  rotate(name: string, logPrefix: string, build: RotationBuild): Promise<boolean>;
  /** Updates other relays wrote (`update` absent: read it by key; `generation`: of a rotating doc), rotations, and `resync` after notes may have been missed. */
  subscribe(listener: { update(name: string, key: string, update?: Uint8Array, generation?: number): void; rotated(name: string, generation: number): void; resync(): void }): () => void;
}

/** What the shared side needs of its DocStore (./doc-compaction.ts's CompactionHost, and more). */
export interface SharedHost extends CompactionHost {
  fanout: DocFanout;
  /** This DocStore's tag in update keys. */
  writer: string;
  entry(name: string): Entry | undefined;
  /** Names of the loaded docs. */
  names(): string[];
  loading(name: string): Promise<Y.Doc> | undefined;
  read(name: string): Promise<{ doc: Y.Doc; gen: Generation; snapBytes: number }>;
  onRemoteDoc?: (name: string) => void;
}

export class SharedDocs {
  constructor(private readonly h: SharedHost) {}

  arbiter = (): boolean => this.h.fanout.mayCompact();

  /** Board and ledger may rotate on some relay: their appends are checked against the stored generation. */
  private rotating(name: string): boolean {
    return DEFAULT_ROTATION.docs.includes(name) || (this.h.rotation()?.docs.includes(name) ?? false);
  }

  /** In the doc's chain: write one update emitted at generation `gen`. */
  async append(name: string, e: Entry, key: string, update: Uint8Array, gen: number): Promise<void> {
    if (e.gen.generation !== gen || this.h.entry(name) !== e) return;
    if (await this.h.fanout.append(name, key, update, this.rotating(name) ? gen : undefined)) return;
    this.h.log?.info('an update of an older generation was not written; reading the document again', { doc: name, generation: gen });
    this.reload(name, e);
  }

  /** Another relay's update: applied to the loaded doc (read by key when the note did not carry it). */
  remote(name: string, key: string, update: Uint8Array | undefined, gen: number | undefined): void {
    if (this.h.closed() || key.endsWith(`-${this.h.writer}`)) return;
    const loading = this.h.loading(name);
    if (!loading) return this.h.onRemoteDoc?.(name);
    // A doc still loading may have read the store before this update committed: apply after.
    const other = (e: Entry) => gen !== undefined && gen !== e.gen.generation;
    void loading
      .then(async () => {
        let e = this.h.entry(name);
        if (!e || other(e)) return e && gen! > e.gen.generation ? this.reload(name, e) : undefined;
        const bytes = update ?? (await this.h.store.getBinary(key));
        e = this.h.entry(name);
        if (!e || other(e)) return;
        if (bytes) Y.applyUpdate(e.doc, bytes, REMOTE);
        else this.reload(name, e); // compacted away meanwhile: it is in the snapshot
      })
      .catch((err) => this.h.log?.error('could not apply an update from another relay', { doc: name, err: String(err) }));
  }

  /** The arbiter rotated a doc. */
  rotated(name: string, gen: number): void {
    const e = this.h.entry(name);
    if (e && e.gen.generation !== gen) this.reload(name, e);
  }

  /** Catch up every loaded doc from the store (notes may have been missed). */
  async resync(): Promise<void> {
    for (const name of this.h.names()) this.reload(name, this.h.entry(name)!);
    await Promise.all(this.h.names().map((n) => this.h.entry(n)?.chain));
  }

  /** Queue a reload of the doc in its chain (once: a reload queued and not started covers the next). */
  reload(name: string, e: Entry): void {
    if (e.reloadQueued) return;
    e.reloadQueued = true;
    e.chain = e.chain.then(() => this.reloadNow(name, e));
  }

  private async reloadNow(name: string, e: Entry): Promise<void> {
    e.reloadQueued = false;
    if (this.h.closed() || this.h.entry(name) !== e) return;
    try {
      const stored = await this.h.read(name);
      if (stored.gen.generation === e.gen.generation) {
        Y.applyUpdate(e.doc, Y.encodeStateAsUpdate(stored.doc), REMOTE);
        stored.doc.destroy();
        return;
      }
      const from = e.gen.generation;
      this.h.swap(name, e, stored.doc, stored.gen, stored.snapBytes).destroy();
      this.h.log?.info('loaded another generation of a document', { doc: name, from, generation: stored.gen.generation });
    } catch (err) {
      this.h.log?.error('could not read a document again', { doc: name, err: String(err) });
    }
  }

  /**
   * In the doc's chain, the arbiter only: write the snapshot of the stored one and every
   * logged update (others' too) and delete exactly the keys read (an update written meanwhile
   * keeps its key); or rotate, when due. A large doc's snapshot and check are made off the
   * event loop (./doc-compaction.ts `snapshotAndSize`); a small doc first folds the log in.
   */
  async compact(name: string, e: Entry, checkRotation = false): Promise<void> {
    if (!this.arbiter()) return;
    try {
      const logged = await this.h.store.entries<Uint8Array>(docKeyPrefix(name) + 'u/', { encoding: 'binary' });
      const updates = logged.map(([, u]) => u);
      if (e.snapBytes < this.h.offThreadBytes && updates.length > 0) Y.applyUpdate(e.doc, Y.mergeUpdates(updates), REMOTE);
      const policy = this.h.rotation();
      const rotating = !this.h.closed() && policy?.docs.includes(name) === true && checkNow(e, policy, checkRotation);
      const { snap, freshBytes } = await snapshotAndSize(this.h, name, e, () => Promise.resolve(updates), rotating);
      if (rotating && dueBy(this.h, policy!, name, e, snap.byteLength, freshBytes!) && (await this.rotate(name, e, snap.byteLength, policy!))) return;
      const ops: StoreOp[] = [{ type: 'put', key: docSnapKey(name), value: snap, encoding: 'binary' }];
      for (const [k] of logged) ops.push({ type: 'del', key: k });
      if (await this.h.fanout.compact(name, e.gen.generation, ops)) e.snapBytes = snap.byteLength;
      else if (this.arbiter()) this.reload(name, e); // another generation is stored: behind
    } catch (err) {
      this.h.log?.error('could not compact a document', { doc: name, err: String(err) });
    }
  }

  /**
   * A check found a rotation due: rotate under the lock. The rebuild is made before the lock
   * and reused under it when the doc did not change meanwhile (an `update` listener says so),
   * so the lock is held for the log read and the write alone. True when rotated (or swapped in
   * and failed: reloading).
   */
  private async rotate(name: string, e: Entry, encoded: number, policy: RotationPolicy): Promise<boolean> {
    let probe = rebuildIfDue(e, encoded, policy);
    if (!probe) return false;
    const watched = e.doc;
    let changed = false;
    const mark = () => void (changed = true);
    watched.on('update', mark);
    let old: Y.Doc | undefined;
    let behind = false;
    const started = performance.now();
    let locked = started;
    try {
      const done = await this.h.fanout.rotate(name, docKeyPrefix(name) + 'u/', (stored, logged) => {
        locked = performance.now();
        if (this.h.closed() || this.h.entry(name) !== e) return undefined;
        if ((behind = stored !== undefined && stored !== e.gen.generation)) return undefined;
        if (logged.length > 0) Y.applyUpdate(e.doc, Y.mergeUpdates(logged.map(([, u]) => u)), REMOTE);
        const built = !changed && e.doc === watched ? probe : rebuildIfDue(e, encoded, policy);
        if (built === probe) probe = undefined;
        if (!built) return undefined;
        old = this.h.swap(name, e, built.fresh, built.next, built.snap.byteLength);
        return { generation: built.next.generation, ops: rotationOps(name, built.snap, built.next, logged.map(([k]) => k)) };
      });
      if (behind) this.reload(name, e);
      // buildMs: under the lock, from the rebuild (after the log read) to the commit.
      const ms = (t: number) => Math.round(performance.now() - t);
      if (done) this.h.log?.info('rotated a document', { doc: name, generation: e.gen.generation, bytesBefore: encoded, bytesAfter: e.snapBytes, ms: ms(started), buildMs: ms(locked) });
      return done;
    } catch (err) {
      if (!old) throw err;
      this.h.log?.error('a rotation failed after the swap; reading the document again', { doc: name, err: String(err) });
      this.reload(name, e);
      return true;
    } finally {
      watched.off('update', mark);
      (probe as { fresh: Y.Doc } | undefined)?.fresh.destroy();
      (old as Y.Doc | undefined)?.destroy();
    }
  }
}
