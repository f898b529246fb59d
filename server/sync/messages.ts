/**
 * The y-websocket wire format the relay speaks, and its close codes (docs/PROTOCOL.md).
 *
 * Invariants: messages are byte for byte what y-websocket and y-protocols produce
 * (varUint message type, then the y-protocols payload); close codes never change meaning.
 */
import * as encoding from 'lib0/encoding';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import type * as Y from 'yjs';

export const MESSAGE_SYNC = 0;
export const MESSAGE_AWARENESS = 1;
export const MESSAGE_AUTH = 2;
export const MESSAGE_QUERY_AWARENESS = 3;

export const CLOSE = {
  malformed: 4400,
  unauthorized: 4401,
  forbidden: 4403,
  unknownDoc: 4404,
  revoked: 4410,
  tooLarge: 4413,
  /** Too many sockets for one token, or too many refused tokens from one address. */
  tooMany: 4429,
  shuttingDown: 1001,
  internal: 1011,
} as const;

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
