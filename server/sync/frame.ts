/**
 * WebSocket framing for the relay's outgoing messages (RFC 6455 section 5.2): one final,
 * unmasked binary frame. Framed here rather than by ws' `send` so a broadcast frames its
 * message once and writes the same bytes to every socket (ws frames per call; its
 * `Sender.frame` does the same but @types/ws does not declare it).
 *
 * Invariant: the last message framed is remembered by identity until the current
 * synchronous run ends (a microtask forgets it), so a loop sending one `Uint8Array` to N
 * sockets builds one frame and no large frame outlives its send; messages are never mutated
 * after they are sent.
 */

const EMPTY = Buffer.alloc(0);
let lastMsg: Uint8Array | undefined;
let lastFrame: Buffer = EMPTY;

function forget(): void {
  lastMsg = undefined;
  lastFrame = EMPTY;
}

/** The wire bytes of one binary message: header (2, 4 or 10 bytes) and payload. */
export function binaryFrame(msg: Uint8Array): Buffer {
  if (msg === lastMsg) return lastFrame;
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
  if (lastMsg === undefined) queueMicrotask(forget);
  lastMsg = msg;
  lastFrame = frame;
  return frame;
}
