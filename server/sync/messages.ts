/**
 * The y-websocket wire format the relay speaks (docs/PROTOCOL.md); message types and close
 * codes come from the protocol vocabulary (shared/protocol.ts).
 *
 * Invariant: messages are byte for byte what y-websocket and y-protocols produce
 * (varUint message type, then the y-protocols payload).
 */
import * as encoding from 'lib0/encoding';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import type * as Y from 'yjs';

import { MESSAGE_AWARENESS, MESSAGE_SYNC } from '../../shared/protocol.js';

export { CLOSE, MESSAGE_AUTH, MESSAGE_AWARENESS, MESSAGE_QUERY_AWARENESS, MESSAGE_SYNC } from '../../shared/protocol.js';

function frame(type: number, write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, type);
  write(e);
  return encoding.toUint8Array(e);
}

export const syncStep1Message = (doc: Y.Doc) => frame(MESSAGE_SYNC, (e) => syncProtocol.writeSyncStep1(e, doc));

export const syncStep2Message = (doc: Y.Doc, stateVector: Uint8Array) => frame(MESSAGE_SYNC, (e) => syncProtocol.writeSyncStep2(e, doc, stateVector));

export const updateMessage = (update: Uint8Array) => frame(MESSAGE_SYNC, (e) => syncProtocol.writeUpdate(e, update));

export const awarenessMessage = (awareness: awarenessProtocol.Awareness, clients: number[]) =>
  frame(MESSAGE_AWARENESS, (e) => encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(awareness, clients)));

/** An awareness message around an update already encoded (y-protocols' encodeAwarenessUpdate format). */
export const rawAwarenessMessage = (update: Uint8Array) => frame(MESSAGE_AWARENESS, (e) => encoding.writeVarUint8Array(e, update));
