/**
 * WebSocket framing for the relay's outgoing messages (RFC 6455 section 5.2): one final,
 * unmasked binary frame. Framed here rather than by ws' `send` so a broadcast frames its
 * message once and writes the same bytes to every socket (ws frames per call; its
 * `Sender.frame` does the same but @types/ws does not declare it).
 *
 * Invariant: pure; the room (./rooms.ts) frames a message once (`outgoing`) and hands the same
 * `Outgoing` to every peer it sends it to. Messages are never mutated after they are framed.
 */

/** A message ready to send: its bytes, and its frame (what a socket writes), made once for every peer. */
export interface Outgoing {
  readonly bytes: Uint8Array;
  readonly frame: Buffer;
}

export function outgoing(bytes: Uint8Array): Outgoing {
  return { bytes, frame: binaryFrame(bytes) };
}

/** The wire bytes of one binary message: header (2, 4 or 10 bytes) and payload. */
export function binaryFrame(msg: Uint8Array): Buffer {
  const n = msg.byteLength;
  const head = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(head + n);
  frame[0] = 0x82; // FIN + opcode 2 (binary); no RSV bits: never compressed
  if (n < 126) frame[1] = n;
  else if (n < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    frame.writeUInt32BE(n >>> 0, 6);
  }
  frame.set(msg, head);
  return frame;
}
