/** Raw y-protocols frames for tests that speak to the relay's socket below y-websocket. */
import * as encoding from 'lib0/encoding';

/** One awareness message (message type 1) carrying a single client's state as JSON. */
export function awarenessFrame(clientID: number, stateJson: string, clock = 1): Uint8Array {
  const inner = encoding.createEncoder();
  encoding.writeVarUint(inner, 1);
  encoding.writeVarUint(inner, clientID);
  encoding.writeVarUint(inner, clock);
  encoding.writeVarString(inner, stateJson);
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 1); // awareness message
  encoding.writeVarUint8Array(e, encoding.toUint8Array(inner));
  return encoding.toUint8Array(e);
}
