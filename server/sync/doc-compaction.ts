/**
 * Compaction and rotation of one DocStore document on a single relay (./docstore.ts loads,
 * logs and chains; this module writes the snapshot and swaps in a rotated doc).
 *
 * Invariants:
 * - Every function here runs inside the doc's promise chain (updates 1..upTo are on disk).
 * - A compaction writes the snapshot and deletes the logged updates it covers in one atomic batch.
 *   A doc whose last snapshot is at least `offThreadBytes` has its new one encoded off the event
 *   loop (./snapshot-encoder.ts) from the stored snapshot and the log 1..upTo: the relay keeps
 *   answering claims while a large ledger is encoded. A smaller one is encoded from the doc.
 * - A rotation check (a fresh size: a rebuild, O(live content), off the event loop for a large
 *   doc) runs only when `rotationCheckDue`: at least the floor was logged since the last check,
 *   and the garbage measured then plus what may have been added since exceeds the floor and the
 *   factor times the largest fresh size seen since the last rotation. So a check is paid at most
 *   once per that much garbage, and a doc carries at most about `garbageFactor` times its peak
 *   live size in garbage.
 * - A rotation rebuilds the doc as its next generation and swaps it in with no await between the
 *   rebuild and the swap, then one atomic batch writes the new snapshot and generation and
 *   deletes the old log: a crash leaves the old or the new, never a mix.
 */
import * as Y from 'yjs';
import type { Logger } from '../ports.js';
import type { Store, StoreOp } from '../store/index.js';
import { ROTATION_ROOT } from '../../shared/doc-rotation.js';
import type { Encoded, SnapshotEncoder } from './snapshot-encoder.js';
import { docKeyPrefix, docSnapKey, seqOf } from './doc-keys.js';
import type { Entry } from './docstore.js';
import { rebuildDoc, retire, rotationDue, rotationOps, type Generation, type RotationPolicy } from './rotation.js';

/** What compaction needs of its DocStore. */
export interface CompactionHost {
  readonly store: Store;
  readonly log?: Logger;
  readonly encoder: SnapshotEncoder;
  /** Snapshots at least this large are encoded by the encoder (off the event loop). */
  readonly offThreadBytes: number;
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

/** Whether this compaction of a rotating doc checks for rotation (asked for, or due); the forced check ran once asked. */
export function checkNow(e: Entry, policy: RotationPolicy, force: boolean): boolean {
  if (force) e.checkQueued = false;
  return force || rotationCheckDue(e, policy);
}

/** Record a rotation check's measurement (`encoded` bytes, `fresh` bytes rebuilt) of the doc as it is now, or as it was when `counted` was counted. */
export function measured(e: Entry, encoded: number, fresh: number, log: Logger | undefined, name: string, counted?: number): void {
  e.sinceCheck = counted === undefined ? 0 : Math.max(0, e.sinceCheck - counted);
  e.freshBytes = fresh;
  e.maxFreshBytes = Math.max(e.maxFreshBytes, fresh);
  e.garbageAtCheck = Math.max(0, encoded - fresh);
  log?.debug?.('rotation check', { doc: name, bytes: encoded, freshBytes: fresh });
}

/**
 * Write the snapshot and delete the logged updates 1..upTo it covers; or rotate when due.
 */
export async function compactNow(host: CompactionHost, name: string, e: Entry, upTo: number, force = false, counted = 0): Promise<void> {
  try {
    const policy = host.rotation();
    const rotating = !host.closed() && policy?.docs.includes(name) === true && checkNow(e, policy, force);
    const { snap, freshBytes, covered } = await snapshotOf(host, name, e, upTo, rotating);
    if (rotating && (await rotateIfDue(host, policy!, name, e, snap.byteLength, freshBytes, counted))) return;
    e.snapBytes = snap.byteLength;
    const ops: StoreOp[] = [{ type: 'put', key: docSnapKey(name), value: snap, encoding: 'binary' }];
    for (const k of covered) ops.push({ type: 'del', key: k });
    await host.store.batch(ops);
  } catch (err) {
    host.log?.error('could not compact a document', { doc: name, err: String(err) });
  }
}

/**
 * The new snapshot and the log keys it covers (1..upTo). A small doc's is the doc as it is now
 * (it may hold later updates too; their log entries stay and replay harmlessly); a large doc's
 * is the stored snapshot with the log 1..upTo applied, encoded off the event loop. Nothing
 * else writes the doc's keys meanwhile: this runs in its chain.
 */
async function snapshotOf(host: CompactionHost, name: string, e: Entry, upTo: number, rotating: boolean): Promise<Encoded & { covered: string[] }> {
  const prefix = docKeyPrefix(name) + 'u/';
  if (e.snapBytes < host.offThreadBytes) {
    const snap = Y.encodeStateAsUpdate(e.doc);
    return { snap, covered: (await host.store.keys(prefix)).filter((k) => seqOf(k) <= upTo) };
  }
  const [stored, logged] = await Promise.all([host.store.getBinary(docSnapKey(name)), host.store.entries<Uint8Array>(prefix, { encoding: 'binary' })]);
  const covered = logged.filter(([k]) => seqOf(k) <= upTo);
  const parts = covered.map(([, u]) => u);
  if (stored) parts.unshift(stored);
  // A rotating doc's check measures the fresh size there too (the retired ids as a rebuild now would carry them).
  const rebuild = rotating ? { root: ROTATION_ROOT, generation: e.gen.generation + 1, retired: Y.encodeStateVector(retire(e.gen.retired, e.doc)) } : undefined;
  return { ...(await host.encoder.encode(parts, rebuild)), covered: covered.map(([k]) => k) };
}

/**
 * Rotate when the garbage is due (./docstore.ts header); the rebuild costs O(live content),
 * less than the compaction's encode. A fresh size measured off the event loop (`offThread`)
 * that says "not due" spares the rebuild here. No await between the rebuild and the swap: the
 * rebuild holds every update emitted so far.
 */
async function rotateIfDue(host: CompactionHost, policy: RotationPolicy, name: string, e: Entry, encoded: number, offThread?: number, counted = 0): Promise<boolean> {
  if (offThread !== undefined) {
    measured(e, encoded, offThread, host.log, name, counted); // of the log 1..upTo
    if (!rotationDue(encoded, offThread, policy)) return false;
  }
  const logged = await host.store.keys(docKeyPrefix(name) + 'u/');
  const next: Generation = { generation: e.gen.generation + 1, retired: retire(e.gen.retired, e.doc) };
  const fresh = rebuildDoc(e.doc, next);
  const snap = Y.encodeStateAsUpdate(fresh);
  if (offThread === undefined) measured(e, encoded, snap.byteLength, host.log, name);
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
