/**
 * A document's snapshot encoded off the event loop. A large doc's compaction (./doc-compaction.ts)
 * hands its last snapshot and the logged updates the new one covers to a worker thread, which
 * applies them to a new Y.Doc and encodes it (`Y.encodeStateAsUpdate`: O(document), hundreds of
 * ms for a 10,000-task ledger on a loaded machine), so the relay keeps answering meanwhile.
 *
 * Invariants:
 * - The snapshot is the state those updates make (Yjs applies updates commutatively and
 *   idempotently): the same content and state vector as the live doc had at the last of them.
 * - One worker per encoder, started on first use, unref'd (it never keeps a process alive),
 *   ended by `close()`. Without a worker (worker_threads or yjs not loadable there, e.g. the
 *   Obsidian desktop host) or after it died, encoding runs in process, as before.
 * - A fresh rebuild's size (a rotation check, ./rotation.ts `rotationDue`) is measured in the
 *   worker too, so a check that finds no rotation due costs the event loop nothing; the
 *   rebuild that is swapped in is made in process (it must hold every update emitted so far).
 * - A request the worker fails is rejected (the compaction is skipped and logged; the log
 *   stays, nothing is lost).
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import * as Y from 'yjs';

/**
 * The worker's code (CommonJS, evaluated): apply the parts to a new doc and encode it; asked
 * to, also measure a fresh rebuild's encoded size, as `rebuildDoc` (./rotation.ts) makes it
 * (every root's content copied, plus the rotation root), without a rebuild on the event loop.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Y = require(workerData.yjs);
const copy = (v) => {
  if (v instanceof Y.Map) { const m = new Y.Map(); v.forEach((x, k) => m.set(k, copy(x))); return m; }
  if (v instanceof Y.Array) { const a = new Y.Array(); a.push(v.toArray().map(copy)); return a; }
  return v instanceof Y.AbstractType ? v.toJSON() : v;
};
const freshBytes = (doc, r) => {
  const fresh = new Y.Doc();
  fresh.transact(() => {
    for (const [name, t] of [...doc.share]) {
      if (name === r.root) continue;
      const src = t instanceof Y.Map || t instanceof Y.Array ? t : t._map.size > 0 ? doc.getMap(name) : t._start !== null ? doc.getArray(name) : undefined;
      if (src instanceof Y.Map) { const dst = fresh.getMap(name); src.forEach((v, k) => dst.set(k, copy(v))); }
      else if (src instanceof Y.Array) fresh.getArray(name).push(src.toArray().map(copy));
    }
    const meta = fresh.getMap(r.root);
    meta.set('generation', r.generation);
    meta.set('retired', r.retired);
  });
  const n = Y.encodeStateAsUpdate(fresh).byteLength;
  fresh.destroy();
  return n;
};
parentPort.on('message', ({ id, parts, rebuild }) => {
  try {
    const doc = new Y.Doc();
    doc.transact(() => { for (const p of parts) Y.applyUpdate(doc, p); });
    const snap = Y.encodeStateAsUpdate(doc);
    const fresh = rebuild ? freshBytes(doc, rebuild) : undefined;
    doc.destroy();
    parentPort.postMessage({ id, snap, fresh });
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.stack) || err) });
  }
});`;

/** What a fresh rebuild would carry in its rotation root (to measure its size). */
export interface RebuildSpec {
  root: string;
  generation: number;
  /** The retired state vector, encoded (Y.encodeStateVector). */
  retired: Uint8Array;
}

export interface Encoded {
  snap: Uint8Array;
  /** A fresh rebuild's encoded size, when asked for and measured off the event loop. */
  freshBytes?: number;
}

/** In process: the snapshot only (a rebuild here would cost the event loop what the caller does anyway). */
export function encodeParts(parts: readonly Uint8Array[]): Uint8Array {
  const doc = new Y.Doc();
  doc.transact(() => {
    for (const p of parts) Y.applyUpdate(doc, p);
  });
  const snap = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return snap;
}

type Waiter = { resolve: (e: Encoded) => void; reject: (err: Error) => void };

export class SnapshotEncoder {
  private worker: Worker | undefined;
  /** False once a worker could not start or died: in process from then on. */
  private usable = true;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter>();

  /** True while a worker thread encodes (false: in process). */
  get offThread(): boolean {
    return this.worker !== undefined;
  }

  /** The snapshot the parts (a snapshot and updates, in any order) make; with `rebuild`, a fresh rebuild's size too (off the event loop only). */
  encode(parts: readonly Uint8Array[], rebuild?: RebuildSpec): Promise<Encoded> {
    const w = this.start();
    if (!w) return Promise.resolve({ snap: encodeParts(parts) });
    const id = this.nextId++;
    return new Promise<Encoded>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      w.postMessage({ id, parts, rebuild });
    });
  }

  /** End the worker (pending requests fail). */
  async close(): Promise<void> {
    this.usable = false;
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
    this.fail(new Error('snapshot encoder closed'));
  }

  private start(): Worker | undefined {
    if (this.worker || !this.usable) return this.worker;
    try {
      const yjs = createRequire(import.meta.url).resolve('yjs');
      const w = new Worker(WORKER, { eval: true, workerData: { yjs } });
      w.unref();
      w.on('message', (m: { id: number; snap?: Uint8Array; fresh?: number; error?: string }) => {
        const waiter = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        if (m.snap) waiter?.resolve({ snap: m.snap, freshBytes: m.fresh });
        else waiter?.reject(new Error(`snapshot encoder: ${m.error}`));
      });
      // A worker that fails to load or dies: in process from now on.
      w.on('error', (err) => this.lost(w, err));
      w.on('exit', () => this.lost(w, new Error('snapshot encoder exited')));
      this.worker = w;
    } catch {
      this.usable = false;
    }
    return this.worker;
  }

  private lost(w: Worker, err: Error): void {
    if (this.worker !== w) return;
    this.worker = undefined;
    this.usable = false;
    this.fail(err);
  }

  private fail(err: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(err);
    this.waiting.clear();
  }
}
