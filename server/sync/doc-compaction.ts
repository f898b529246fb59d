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
 * - A rotation check (a fresh size: a rebuild, O(live content), measured where the snapshot is
 *   encoded, `snapshotAndSize`, shared with ./docstore-shared.ts) runs only when `rotationCheckDue`:
 *   at least the floor was logged since the last check, and the garbage measured then plus what
 *   may have been added since exceeds the floor and the factor times the largest fresh size seen
 *   since the last rotation. So a check is paid at most once per that much garbage, and a doc
 *   carries at most about `garbageFactor` times its peak live size in garbage.
 * - A rotation rebuilds the doc as its next generation and swaps it in with no await between the
 *   rebuild and the swap, then one atomic batch writes the new snapshot and generation and
 *   deletes the old log: a crash leaves the old or the new, never a mix.
 */
import * as Y from 'yjs';
import type { Logger } from '../ports.js';
import type { Store, StoreOp } from '../store/index.js';
import type { Encoded, SnapshotEncoder } from './snapshot-encoder.js';
import { freshSize, nextGeneration } from './snapshot-work.js';
import { docKeyPrefix, docSnapKey, seqOf } from './doc-keys.js';
import type { Entry } from './docstore.js';
import { rebuildDoc, rotationDue, rotationOps, type Generation, type RotationPolicy } from './rotation.js';

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
 * The doc's new snapshot and, for a rotation check (`rotating`), the size of the rebuild a
 * rotation would make: a large doc's (last snapshot at least `offThreadBytes`) off the event
 * loop from the stored snapshot and `logged` (./snapshot-encoder.ts); a small doc's in process
 * from the doc itself, which must hold `logged` already. Both compaction paths (this module,
 * ./docstore-shared.ts) measure here.
 */
export async function snapshotAndSize(host: CompactionHost, name: string, e: Entry, logged: () => Promise<Uint8Array[]>, rotating: boolean): Promise<Encoded> {
  if (e.snapBytes < host.offThreadBytes) return { snap: Y.encodeStateAsUpdate(e.doc), freshBytes: rotating ? freshSize(e.doc, e.gen) : undefined };
  const [base, updates] = await Promise.all([host.store.getBinary(docSnapKey(name)), logged()]);
  return host.encoder.encode({ doc: name, base, updates, rebuild: rotating ? { gen: e.gen } : undefined });
}

/** Record a check's sizes (see `measured`) and say whether a rotation is due by them. */
export function dueBy(host: Pick<CompactionHost, 'log'>, policy: RotationPolicy, name: string, e: Entry, encoded: number, freshBytes: number, counted?: number): boolean {
  measured(e, encoded, freshBytes, host.log, name, counted);
  return rotationDue(encoded, freshBytes, policy);
}

/**
 * A rotation's own rebuild, in process (it must hold every update emitted so far): the next
 * generation and its snapshot, or undefined when the rebuild shows no rotation is due after all
 * (the check measured the log up to the compaction; the doc may have moved since).
 */
export function rebuildIfDue(e: Entry, encoded: number, policy: RotationPolicy): { next: Generation; fresh: Y.Doc; snap: Uint8Array } | undefined {
  const next = nextGeneration(e.gen, e.doc);
  const fresh = rebuildDoc(e.doc, next);
  const snap = Y.encodeStateAsUpdate(fresh);
  if (rotationDue(encoded, snap.byteLength, policy)) return { next, fresh, snap };
  fresh.destroy();
  return undefined;
}

/**
 * Write the snapshot and delete the logged updates 1..upTo it covers; or rotate when due.
 * A small doc's snapshot is the doc as it is now (it may hold later updates too; their log
 * entries stay and replay harmlessly). Nothing else writes the doc's keys meanwhile: this
 * runs in its chain.
 */
export async function compactNow(host: CompactionHost, name: string, e: Entry, upTo: number, force = false, counted = 0): Promise<void> {
  try {
    const policy = host.rotation();
    const rotating = !host.closed() && policy?.docs.includes(name) === true && checkNow(e, policy, force);
    const prefix = docKeyPrefix(name) + 'u/';
    let covered: string[] = [];
    const logged = async () => {
      const entries = (await host.store.entries<Uint8Array>(prefix, { encoding: 'binary' })).filter(([k]) => seqOf(k) <= upTo);
      covered = entries.map(([k]) => k);
      return entries.map(([, u]) => u);
    };
    const { snap, freshBytes } = await snapshotAndSize(host, name, e, logged, rotating);
    if (e.snapBytes < host.offThreadBytes) covered = (await host.store.keys(prefix)).filter((k) => seqOf(k) <= upTo);
    if (rotating && dueBy(host, policy!, name, e, snap.byteLength, freshBytes!, counted) && (await rotate(host, policy!, name, e, snap.byteLength))) return;
    e.snapBytes = snap.byteLength;
    const ops: StoreOp[] = [{ type: 'put', key: docSnapKey(name), value: snap, encoding: 'binary' }];
    for (const k of covered) ops.push({ type: 'del', key: k });
    await host.store.batch(ops);
  } catch (err) {
    host.log?.error('could not compact a document', { doc: name, err: String(err) });
  }
}

/**
 * Rotate (a check found it due): no await between the rebuild and the swap, so the rebuild
 * holds every update emitted so far; then one batch writes the new generation and deletes the
 * whole old log.
 */
async function rotate(host: CompactionHost, policy: RotationPolicy, name: string, e: Entry, encoded: number): Promise<boolean> {
  const logged = await host.store.keys(docKeyPrefix(name) + 'u/');
  const built = rebuildIfDue(e, encoded, policy);
  if (!built) return false;
  const { next, fresh, snap } = built;
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
