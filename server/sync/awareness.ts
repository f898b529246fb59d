/**
 * Reading and writing y-protocols awareness update messages, so the relay can look at each
 * client's state before it applies the update (y-protocols' own decoder applies as it reads).
 *
 * Invariants: the wire format is y-protocols' `encodeAwarenessUpdate` byte for byte:
 * varUint count, then per client varUint clientID, varUint clock, varString JSON state
 * (`null` = the client left). A malformed message throws; the caller closes the socket.
 * - A state over MAX_AWARENESS_STATE_BYTES throws AwarenessStateTooLarge, one nested deeper
 *   than MAX_AWARENESS_DEPTH throws a plain Error: neither is ever applied or relayed (every
 *   peer would get a copy on every change; a very deep one breaks JSON.stringify later).
 * - Heartbeats are read out of awareness states here (heartbeatOf), so the engine gets
 *   typed `{ taskId, fencingToken }` pairs and never parses socket payloads.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { inboxDoc } from '../../shared/protocol.js';
import type { Principal } from '../ports.js';

/** Largest awareness state (its JSON text, in UTF-16 units) a client may publish. */
export const MAX_AWARENESS_STATE_BYTES = 64 * 1024;
export const MAX_AWARENESS_DEPTH = 32;

export class AwarenessStateTooLarge extends Error {}

/** Is `v` nested at most `max` levels deep (objects and arrays)? Iterative: no stack to blow. */
function shallowEnough(v: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    if (d >= max) return false;
    for (const child of Object.values(x)) stack.push([child, d + 1]);
  }
  return true;
}

export interface AwarenessEntry {
  clientID: number;
  clock: number;
  state: unknown;
}

export function decodeAwarenessUpdate(update: Uint8Array): AwarenessEntry[] {
  const d = decoding.createDecoder(update);
  const n = decoding.readVarUint(d);
  const out: AwarenessEntry[] = [];
  for (let i = 0; i < n; i++) {
    const clientID = decoding.readVarUint(d);
    const clock = decoding.readVarUint(d);
    const text = decoding.readVarString(d);
    if (text.length > MAX_AWARENESS_STATE_BYTES) throw new AwarenessStateTooLarge(`awareness state of ${text.length} characters`);
    const state: unknown = JSON.parse(text);
    if (!shallowEnough(state, MAX_AWARENESS_DEPTH)) throw new Error(`awareness state nested deeper than ${MAX_AWARENESS_DEPTH}`);
    out.push({ clientID, clock, state });
  }
  return out;
}

export function encodeAwarenessEntries(entries: AwarenessEntry[]): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, entries.length);
  for (const x of entries) {
    encoding.writeVarUint(e, x.clientID);
    encoding.writeVarUint(e, x.clock);
    encoding.writeVarString(e, JSON.stringify(x.state));
  }
  return encoding.toUint8Array(e);
}

/**
 * May this principal publish this awareness state? A state that names a `workerId` must name
 * the principal's own (admin may speak for any worker); other states are free (cursors, names).
 */
export function awarenessStateAllowed(p: Pick<Principal, 'role' | 'workerId'>, state: unknown): boolean {
  if (state === null || typeof state !== 'object' || Array.isArray(state)) return true;
  const wid = (state as Record<string, unknown>).workerId;
  if (wid === undefined) return true;
  if (p.role === 'admin') return true;
  return p.role === 'worker' && p.workerId !== undefined && wid === p.workerId;
}

/** The leases a worker's awareness state says it is still working on. */
export interface LeaseHeartbeat {
  workerId: string;
  leases: { taskId: string; fencingToken: number }[];
}

/**
 * The heartbeat in an awareness state `{ workerId, leases: { taskId: fencingToken } }` that a
 * worker socket published, or undefined. Counted only from a worker token, on its own inbox
 * or in a state naming its own id; leases whose fencing token is not a whole number >= 1 are
 * left out. Whether each lease is still held is the engine's question, not this one.
 */
export function heartbeatOf(p: Pick<Principal, 'role' | 'workerId'>, docName: string, state: Record<string, unknown>): LeaseHeartbeat | undefined {
  if (p.role !== 'worker' || !p.workerId) return undefined;
  if (docName !== inboxDoc(p.workerId) && state.workerId !== p.workerId) return undefined;
  if (state.workerId !== undefined && state.workerId !== p.workerId) return undefined;
  const raw = state.leases;
  if (!raw || typeof raw !== 'object') return undefined;
  const leases: LeaseHeartbeat['leases'] = [];
  for (const [taskId, token] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof token === 'number' && Number.isInteger(token) && token >= 1) leases.push({ taskId, fencingToken: token });
  }
  return { workerId: p.workerId, leases };
}
