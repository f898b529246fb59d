/**
 * The client side of a document rotation (docs/ROTATION.md): the relay re-created a document
 * as a new generation and closed this copy with `CLOSE.docReset`. The copy is dropped, a
 * fresh one synced, and edits the relay never had are carried over to it.
 *
 * Invariants:
 * - A rotated document holds, in its root map `rotation`, `generation` (a number) and
 *   `retired`: the merged state vector of every earlier generation (Y.encodeStateVector).
 * - `unsyncedEdits(stale, retired)` lists the map entries of a stale copy (root map entries,
 *   and fields of a Y.Map inside one: a board task's fields) written by an item the relay
 *   did not have when it retired that generation (its clock is at or past the retired clock
 *   of its client id). Deletions are not carried over (no client deletes board entries: a
 *   task is cancelled or held by a field).
 * - `reapplyEdits` writes them into the fresh copy in one transaction, as new edits.
 */
import * as Y from 'yjs';

export const ROTATION_ROOT = 'rotation';

/** One entry to write again: `path` is [root, key] (a whole value) or [root, key, field]. */
export interface CarriedEdit {
  path: [string, string] | [string, string, string];
  value: unknown;
}

/** The retired state vector a rotated copy carries (empty for a document never rotated). */
export function retiredOf(doc: Y.Doc): Map<number, number> {
  const bytes = doc.getMap<unknown>(ROTATION_ROOT).get('retired');
  return bytes instanceof Uint8Array ? Y.decodeStateVector(bytes) : new Map<number, number>();
}

type ItemLike = { id: { client: number; clock: number }; deleted: boolean };
// Y.Map keeps its current item per key in `_map` (the winning write, deleted or not).
const itemOf = (m: Y.Map<unknown>, key: string): ItemLike | undefined => (m as unknown as { _map: Map<string, ItemLike> })._map.get(key);
const unknownTo = (item: ItemLike, retired: ReadonlyMap<number, number>): boolean => item.id.clock >= (retired.get(item.id.client) ?? 0);

function plain(v: unknown): unknown {
  return v instanceof Y.AbstractType ? v.toJSON() : v;
}

/** Edits in `stale` the relay did not have when it retired the generation (see the header). */
export function unsyncedEdits(stale: Y.Doc, retired: ReadonlyMap<number, number>): CarriedEdit[] {
  const out: CarriedEdit[] = [];
  for (const [root, t] of stale.share) {
    if (root === ROTATION_ROOT || !(t instanceof Y.Map)) continue;
    const m = t as Y.Map<unknown>;
    for (const key of m.keys()) {
      const item = itemOf(m, key);
      const v = m.get(key);
      if (item && unknownTo(item, retired)) {
        out.push({ path: [root, key], value: plain(v) });
      } else if (v instanceof Y.Map) {
        for (const field of v.keys()) {
          const f = itemOf(v, field);
          if (f && !f.deleted && unknownTo(f, retired)) out.push({ path: [root, key, field], value: plain(v.get(field)) });
        }
      }
    }
  }
  return out;
}

function toShared(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const m = new Y.Map<unknown>();
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) m.set(k, x);
  return m;
}

/**
 * Write carried edits into a fresh copy. A whole value that was a Y.Map (a task) becomes a
 * Y.Map again; a field lands in the entry's Y.Map (created when the fresh copy lacks it).
 */
export function reapplyEdits(fresh: Y.Doc, edits: readonly CarriedEdit[], origin: unknown, nested: (root: string) => boolean): void {
  if (edits.length === 0) return;
  fresh.transact(() => {
    for (const { path, value } of edits) {
      const root = fresh.getMap<unknown>(path[0]);
      if (path.length === 2) {
        root.set(path[1], nested(path[0]) ? toShared(value) : value);
        continue;
      }
      let entry = root.get(path[1]);
      if (!(entry instanceof Y.Map)) {
        entry = new Y.Map<unknown>();
        root.set(path[1], entry);
      }
      (entry as Y.Map<unknown>).set(path[2], value);
    }
  }, origin);
}
