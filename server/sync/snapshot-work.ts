/**
 * What the snapshot encoder computes (./snapshot-encoder.ts), in the worker thread
 * (./snapshot-worker.ts) or in process: a document's new snapshot from its stored snapshot
 * and the logged updates it covers, and, for a rotation check, the encoded size of the
 * rebuild `rebuildDoc` (./rotation.ts) would make of it: the same function a rotation uses.
 *
 * Invariants:
 * - The snapshot is the state the base and the updates make (Yjs applies updates
 *   commutatively and idempotently): the same content and state vector as the live doc had
 *   at the last of them.
 * - A replica (`keep`, the worker) holds each doc as its last snapshot made it, so the next
 *   request applies only the updates logged since instead of decoding the whole snapshot
 *   again. It is used only while the base sent is byte for byte the snapshot it made last
 *   (nobody else wrote the doc's snapshot since: no rotation, no other relay's compaction,
 *   no in-process snapshot); otherwise it is made again from the base.
 */
import * as Y from 'yjs';
import { rebuildDoc, retire, type Generation } from './rotation.js';

export interface EncodeRequest {
  /** The doc's name (the replica's key). */
  doc: string;
  /** The stored snapshot (undefined: none yet). */
  base: Uint8Array | undefined;
  /** The logged updates the new snapshot covers, in any order. */
  updates: readonly Uint8Array[];
  /** A rotation check: measure the rebuild as the generation after `gen` (`clientID`: the rebuild's, for tests). */
  rebuild?: { gen: Generation; clientID?: number };
}

export interface Encoded {
  snap: Uint8Array;
  /** The rebuild's encoded size, when asked for. */
  freshBytes?: number;
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;

/** The next generation a rebuild of `doc` (at generation `gen`) carries. */
export const nextGeneration = (gen: Generation, doc: Y.Doc): Generation => ({ generation: gen.generation + 1, retired: retire(gen.retired, doc) });

/** `rebuildDoc`'s rebuild of `doc` as the generation after `gen`, encoded: its size. */
export function freshSize(doc: Y.Doc, gen: Generation, clientID?: number): number {
  const fresh = rebuildDoc(doc, nextGeneration(gen, doc), clientID);
  const n = Y.encodeStateAsUpdate(fresh).byteLength;
  fresh.destroy();
  return n;
}

export class SnapshotWork {
  private readonly replicas = new Map<string, { doc: Y.Doc; snap: Uint8Array }>();

  /** `keep`: hold a replica per doc between requests (the worker; in process: none). */
  constructor(private readonly keep: boolean) {}

  run(req: EncodeRequest): Encoded {
    let r = this.replicas.get(req.doc);
    if (r && !(req.base && sameBytes(req.base, r.snap))) {
      r.doc.destroy();
      this.replicas.delete(req.doc);
      r = undefined;
    }
    const doc = r?.doc ?? new Y.Doc();
    doc.transact(() => {
      if (!r && req.base) Y.applyUpdate(doc, req.base);
      for (const u of req.updates) Y.applyUpdate(doc, u);
    });
    const snap = Y.encodeStateAsUpdate(doc);
    const freshBytes = req.rebuild ? freshSize(doc, req.rebuild.gen, req.rebuild.clientID) : undefined;
    if (this.keep) this.replicas.set(req.doc, { doc, snap });
    else doc.destroy();
    return { snap, freshBytes };
  }
}
