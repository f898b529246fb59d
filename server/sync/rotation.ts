/**
 * Document rotation (docs/PROTOCOL.md OWP-DOC-6, docs/ROTATION.md): a live document whose
 * history outgrew its content is re-created from that content, as a new generation.
 *
 * Invariants (pure: no I/O; the DocStore does the writing and the swapping):
 * - `rebuildDoc` copies every root type's current content into a new Y.Doc (nested Y.Maps
 *   and Y.Arrays as new shared types, plain values as they are): the new document encodes
 *   to the same JSON without the tombstones of deleted and overwritten entries.
 * - The new document carries, in its root map `rotation`, its `generation` and `retired`:
 *   the state vector (Y.encodeStateVector format) of every earlier generation, merged.
 *   A copy whose state vector names a retired client id is of an older generation and must
 *   never be merged with the new one (Yjs would show both); a client that has edits in
 *   such a copy re-applies those the relay never had (clock at or past the retired one).
 * - Rotation is due when the garbage (encoded size minus a fresh rebuild's) exceeds both a
 *   floor and a fraction of the fresh size: cheap to check against the last fresh size,
 *   and each rotation costs O(live content), paid at most once per that much garbage.
 */
import * as Y from 'yjs';
import { ROTATION_ROOT } from '../../shared/doc-rotation.js';
import type { StoreOp } from '../store/index.js';
import { docGenKey, docSnapKey } from './doc-keys.js';
import { BOARD_DOC, LEDGER_DOC } from '../../shared/protocol.js';


export interface RotationPolicy {
  /** Documents that rotate (the board and the ledger; inboxes do not). */
  docs: readonly string[];
  /** Rotate only once the garbage exceeds this many bytes... */
  minGarbageBytes: number;
  /** ...and this fraction of a fresh rebuild's size. */
  garbageFactor: number;
}

export const DEFAULT_ROTATION: RotationPolicy = { docs: [BOARD_DOC, LEDGER_DOC], minGarbageBytes: 512 * 1024, garbageFactor: 0.25 };

/** What the store keeps of a document's generation (`doc/<name>/gen`). */
export interface Generation {
  generation: number;
  /** client id -> clock: every client id of every earlier generation, at its last clock. */
  retired: Map<number, number>;
}

export const GENESIS: Generation = { generation: 0, retired: new Map() };

export function encodeGeneration(g: Generation): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ generation: g.generation, retired: [...g.retired] }));
}

export function decodeGeneration(bytes: Uint8Array | undefined): Generation {
  if (!bytes) return GENESIS;
  const o = JSON.parse(new TextDecoder().decode(bytes)) as { generation: number; retired: [number, number][] };
  return { generation: o.generation, retired: new Map(o.retired) };
}

/** The one atomic batch of a rotation: the new snapshot and generation, and the deletion of the old log. */
export function rotationOps(name: string, snap: Uint8Array, next: Generation, logged: readonly string[]): StoreOp[] {
  return [
    { type: 'put', key: docSnapKey(name), value: snap, encoding: 'binary' },
    { type: 'put', key: docGenKey(name), value: encodeGeneration(next), encoding: 'binary' },
    ...logged.map((key): StoreOp => ({ type: 'del', key })),
  ];
}

const varintBytes = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);
const idBytes = (id: Y.ID): number => varintBytes(id.client) + varintBytes(id.clock);

/** A struct's parent as the encoding names it: a root's name (UTF-8: at most 3 bytes per UTF-16 unit) or a nested type's id. */
function parentBytes(s: Y.Item): number {
  const parent = s.parent as Y.AbstractType<unknown> | null;
  if (parent instanceof Y.AbstractType && parent._item === null) return 2 + 3 * Y.findRootTypeKey(parent).length;
  return 1 + (parent?._item ? idBytes(parent._item.id) : 10);
}

/** Whether a later entry of the same map key is live (a replacement, not a deletion). */
function replaced(s: Y.Item): boolean {
  const current = (s.parent as unknown as { _map?: Map<string, Y.Item> } | null)?._map?.get(s.parentSub!);
  return current !== undefined && current !== s && !current.deleted;
}

/**
 * The bytes a deleted struct adds to the encoded doc beyond what a rebuild encodes (gc drops
 * its content): its info byte, its length and its delete-set entry, and
 * - a replaced map entry: the id its replacement names as origin (a rebuild's entry names
 *   none; the entry's own origin was counted when it replaced the one before);
 * - a map entry deleted outright: its parent and key (written once per key; a rebuild has none);
 * - anything else (an array's item): its neighbours' ids, or its parent without neighbours.
 * Varints at their real length. Measured against the real figure in docs/BENCHMARKS.md.
 */
function keptBytes(s: Y.Item | Y.GC): number {
  const n = 1 + varintBytes(s.length) + varintBytes(s.id.clock) + varintBytes(s.length);
  if (!(s instanceof Y.Item)) return n;
  if (s.parentSub !== null) return replaced(s) ? n + varintBytes(s.id.client) + varintBytes(s.id.clock + s.length - 1) : n + parentBytes(s) + 2 + Buffer.byteLength(s.parentSub);
  if (!s.origin && !s.rightOrigin) return n + parentBytes(s);
  return n + (s.origin ? idBytes(s.origin) : 0) + (s.rightOrigin ? idBytes(s.rightOrigin) : 0);
}

/**
 * The garbage a transaction added, estimated from what its deleted structs keep (a tiny update
 * may delete thousands). Live content inserted is no garbage (a rebuild carries it too);
 * structs left pending (their dependencies missing) are, so such an update counts whole.
 * Measured against the real figure (errs high) in docs/BENCHMARKS.md, "Session 7: sync layer".
 */
export function garbageOf(tr: Y.Transaction | undefined, update: Uint8Array): number {
  if (!tr) return update.byteLength;
  let n = 0;
  for (const client of tr.deleteSet.clients.keys()) n += varintBytes(client) + 1; // the client's delete-set header (if new)
  Y.iterateDeletedStructs(tr, tr.deleteSet, (s) => void (n += keptBytes(s)));
  const store = tr.doc.store;
  return store.pendingStructs || store.pendingDs ? n + update.byteLength : n;
}

/** True when the garbage in `encodedBytes` over `freshBytes` is worth a rotation. */
export function rotationDue(encodedBytes: number, freshBytes: number, policy: RotationPolicy): boolean {
  const garbage = encodedBytes - freshBytes;
  return garbage > policy.minGarbageBytes && garbage > freshBytes * policy.garbageFactor;
}

/** A state vector's client ids that an earlier generation used (empty: not stale). */
export function staleClients(stateVector: Uint8Array | Map<number, number>, retired: ReadonlyMap<number, number>): number[] {
  if (retired.size === 0) return [];
  const sv = stateVector instanceof Map ? stateVector : Y.decodeStateVector(stateVector);
  return [...sv.keys()].filter((id) => retired.has(id));
}

/** The retired state vector after retiring `doc` too (max clock per client id). */
export function retire(retired: ReadonlyMap<number, number>, doc: Y.Doc): Map<number, number> {
  const out = new Map(retired);
  for (const [id, clock] of Y.decodeStateVector(Y.encodeStateVector(doc))) out.set(id, Math.max(clock, out.get(id) ?? 0));
  return out;
}

function copyValue(v: unknown): unknown {
  if (v instanceof Y.Map) {
    const m = new Y.Map<unknown>();
    v.forEach((x, k) => m.set(k, copyValue(x)));
    return m;
  }
  if (v instanceof Y.Array) {
    const a = new Y.Array<unknown>();
    a.push(v.toArray().map(copyValue));
    return a;
  }
  if (v instanceof Y.AbstractType) return v.toJSON();
  return v;
}

/** The kind of a root type as loaded (a root nobody asked for yet is a bare AbstractType). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function rootKind(doc: Y.Doc, name: string, t: Y.AbstractType<any>): Y.Map<unknown> | Y.Array<unknown> | undefined {
  if (t instanceof Y.Map || t instanceof Y.Array) return t;
  if (t._map.size > 0) return doc.getMap(name);
  if (t._start !== null) return doc.getArray(name);
  return undefined;
}

/** A new document with `old`'s content and the next generation (see the module header); `clientID` only for tests that compare sizes. */
export function rebuildDoc(old: Y.Doc, next: Generation, clientID?: number): Y.Doc {
  const fresh = new Y.Doc({ gc: old.gc });
  if (clientID !== undefined) fresh.clientID = clientID;
  fresh.transact(() => {
    for (const [name, t] of [...old.share]) {
      if (name === ROTATION_ROOT) continue;
      const src = rootKind(old, name, t);
      if (src instanceof Y.Map) {
        const dst = fresh.getMap<unknown>(name);
        src.forEach((v, k) => dst.set(k, copyValue(v)));
      } else if (src instanceof Y.Array) {
        fresh.getArray<unknown>(name).push(src.toArray().map(copyValue));
      }
    }
    const meta = fresh.getMap<unknown>(ROTATION_ROOT);
    meta.set('generation', next.generation);
    meta.set('retired', Y.encodeStateVector(next.retired));
  }, 'rotation');
  return fresh;
}

