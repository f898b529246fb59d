/**
 * Compaction and rotation of one DocStore document on a single relay (./docstore.ts loads,
 * logs and chains; this module writes the snapshot and swaps in a rotated doc).
 *
 * Invariants:
 * - Every function here runs inside the doc's promise chain (updates 1..upTo are on disk).
 * - A compaction writes the snapshot and deletes the logged updates it covers in one atomic batch.
 * - A rotation check (a fresh rebuild, O(live content)) runs only when `rotationCheckDue`: at
 *   least the floor was logged since the last check, and the garbage measured then plus what may
 *   have been added since exceeds the floor and the factor times the largest fresh size seen
 *   since the last rotation. So a check is paid at most once per that much garbage, and a
 *   document carries at most about `garbageFactor` times its peak live size in garbage.
 * - A rotation rebuilds the doc as its next generation and swaps it in with no await between the
 *   rebuild and the swap, then one atomic batch writes the new snapshot and generation and
 *   deletes the old log: a crash leaves the old or the new, never a mix.
 */
import * as Y from 'yjs';
import type { Logger } from '../ports.js';
import type { Store, StoreOp } from '../store/index.js';
import { docKeyPrefix, docSnapKey, seqOf } from './doc-keys.js';
import type { Entry } from './docstore.js';
import { rebuildDoc, retire, rotationDue, rotationOps, type Generation, type RotationPolicy } from './rotation.js';

/** What compaction needs of its DocStore. */
export interface CompactionHost {
  readonly store: Store;
  readonly log?: Logger;
  /** The rotation policy now (undefined: no rotation). */
  rotation(): RotationPolicy | undefined;
  closed(): boolean;
  /** Put `fresh` in place of the doc synchronously (loads and `onRotate` listeners re-point); returns the old doc. */
  swap(name: string, e: Entry, fresh: Y.Doc, gen: Generation, snapBytes: number): Y.Doc;
}

/**
 * True when the doc's garbage may be due (see the header): cheap, no rebuild. Never checked
 * since load: at once (a doc may load bloated).
 */
export function rotationCheckDue(e: Pick<Entry, 'freshBytes' | 'maxFreshBytes' | 'garbageAtCheck' | 'sinceCheck'>, policy: RotationPolicy): boolean {
  if (e.freshBytes === undefined) return true;
  if (e.sinceCheck <= 0 || e.sinceCheck < policy.minGarbageBytes) return false;
  const garbage = e.garbageAtCheck + e.sinceCheck;
  return garbage > policy.minGarbageBytes && garbage > policy.garbageFactor * e.maxFreshBytes;
}

/** Whether this compaction of a rotating doc checks for rotation (forced once, or due); clears the forced flag. */
export function checkNow(e: Entry, policy: RotationPolicy): boolean {
  const forced = e.checkQueued;
  e.checkQueued = false;
  return forced || rotationCheckDue(e, policy);
}

/** Record a rotation check's measurement (`encoded` bytes now, `fresh` bytes rebuilt). */
export function measured(e: Entry, encoded: number, fresh: number, log: Logger | undefined, name: string): void {
  e.sinceCheck = 0;
  e.freshBytes = fresh;
  e.maxFreshBytes = Math.max(e.maxFreshBytes, fresh);
  e.garbageAtCheck = Math.max(0, encoded - fresh);
  log?.debug?.('rotation check', { doc: name, bytes: encoded, freshBytes: fresh });
}

/**
 * Write the snapshot (the doc as it is now: it may hold later updates too; their log entries
 * stay and replay harmlessly) and delete the logged updates 1..upTo; or rotate when due.
 */
export async function compactNow(host: CompactionHost, name: string, e: Entry, upTo: number): Promise<void> {
  try {
    const snap = Y.encodeStateAsUpdate(e.doc);
    const policy = host.rotation();
    if (!host.closed() && policy?.docs.includes(name) && checkNow(e, policy) && (await rotateIfDue(host, policy, name, e, snap.byteLength))) return;
    e.snapBytes = snap.byteLength;
    const ops: StoreOp[] = [{ type: 'put', key: docSnapKey(name), value: snap, encoding: 'binary' }];
    for (const k of await host.store.keys(docKeyPrefix(name) + 'u/')) {
      if (seqOf(k) <= upTo) ops.push({ type: 'del', key: k });
    }
    await host.store.batch(ops);
  } catch (err) {
    host.log?.error('could not compact a document', { doc: name, err: String(err) });
  }
}

/**
 * Rotate when the garbage is due (./docstore.ts header); the rebuild costs O(live content),
 * less than the compaction's encode. No await between the rebuild and the swap: the rebuild
 * holds every update emitted so far.
 */
async function rotateIfDue(host: CompactionHost, policy: RotationPolicy, name: string, e: Entry, encoded: number): Promise<boolean> {
  const logged = await host.store.keys(docKeyPrefix(name) + 'u/');
  const next: Generation = { generation: e.gen.generation + 1, retired: retire(e.gen.retired, e.doc) };
  const fresh = rebuildDoc(e.doc, next);
  const snap = Y.encodeStateAsUpdate(fresh);
  measured(e, encoded, snap.byteLength, host.log, name);
  if (!rotationDue(encoded, snap.byteLength, policy)) return (fresh.destroy(), false);
  const ops = rotationOps(name, snap, next, logged);
  let old: Y.Doc;
  try {
    old = host.swap(name, e, fresh, next, snap.byteLength);
  } finally {
    await host.store.batch(ops); // whatever a listener did: the disk must follow the swap
  }
  host.log?.info('rotated a document', { doc: name, generation: next.generation, bytesBefore: encoded, bytesAfter: snap.byteLength });
  old.destroy();
  return true;
}
