/**
 * The relay's broadcast of document changes, against a real sync server and real sockets:
 * every reader gets every change exactly once and in order (whatever the frame size), the
 * writer never gets its own back, the updates one write covers go out as one message, and a
 * reader that stops reading is closed at its bound (1013) without holding back the others.
 *
 * Ordering, not timing: each step waits for a state (what every reader has received, how many
 * sockets the relay holds), never for a while.
 */
import * as decoding from 'lib0/decoding';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import * as Y from 'yjs';
import { CLOSE } from '../../../shared/protocol.js';
import { updateMessage } from '../../../server/sync/messages.js';
import { type Harness, removeDir, startHarness, tempDir, waitFor } from '../../helpers/sync-harness.js';

const DOC = 'owp/board';

/** A raw socket on DOC recording every sync update message it receives. */
interface Raw {
  ws: WebSocket;
  updates: Uint8Array[];
  closes: Array<{ code: number; reason: string }>;
}

async function connectRaw(h: Harness, token: string): Promise<Raw> {
  const ws = new WebSocket(`${h.url}/${DOC}?token=${token}`);
  const r: Raw = { ws, updates: [], closes: [] };
  // The relay greets a peer with its sync step 1 once it is in the room.
  const joined = new Promise((res) => ws.once('message', res));
  ws.on('message', (data: Buffer) => {
    const d = decoding.createDecoder(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    if (decoding.readVarUint(d) !== 0 || decoding.readVarUint(d) !== 2) return; // sync, update
    r.updates.push(decoding.readVarUint8Array(d));
  });
  ws.on('close', (code, reason) => r.closes.push({ code, reason: String(reason) }));
  await joined;
  return r;
}

/** The next clock of a doc's own client: how many items it has made. */
const clockOf = (doc: Y.Doc) => Y.getState(doc.store, doc.clientID);

/** How far (in clock) a reader has received `client`'s items; throws on a gap, a repeat or a step back. */
function received(r: Raw, client: number): number {
  let next = 0;
  for (const u of r.updates) {
    for (const s of Y.decodeUpdate(u).structs) {
      if (s.id.client !== client) continue;
      if (s.id.clock !== next) throw new Error(`item ${client}:${s.id.clock} arrived when ${next} was expected`);
      next += s.length;
    }
  }
  return next;
}

describe('broadcast of document changes', () => {
  let dir: string;
  let h: Harness;
  const open: Raw[] = [];
  const raw = async (token: string) => {
    const r = await connectRaw(h, token);
    open.push(r);
    return r;
  };

  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    for (const r of open.splice(0)) r.ws.terminate();
    await h?.stop();
    await removeDir(dir);
  });

  /** A writer socket and its own doc: each local change is sent to the relay as one update. */
  async function writer(): Promise<{ doc: Y.Doc; sock: Raw }> {
    const maint = (await h.tokens.create({ role: 'maintainer' })).token;
    const sock = await raw(maint);
    const doc = new Y.Doc();
    doc.on('update', (u: Uint8Array) => sock.ws.send(updateMessage(u)));
    return { doc, sock };
  }

  it('every change reaches each of N readers exactly once and in order; the writer gets none back', async () => {
    h = await startHarness(dir);
    const viewer = (await h.tokens.create({ role: 'viewer' })).token;
    const readers: Raw[] = [];
    for (let i = 0; i < 40; i++) readers.push(await raw(viewer));
    const w = await writer();
    const log = w.doc.getArray<string | number>('log');
    // Small (under 126 bytes), medium (16-bit length) and large (64-bit length) frames.
    for (let i = 0; i < 30; i++) log.push([i % 10 === 9 ? 'x'.repeat(100_000) : i % 3 === 0 ? `${i}`.padEnd(1_000, '.') : i]);
    const total = clockOf(w.doc);
    await waitFor(() => readers.every((r) => received(r, w.doc.clientID) === total), 20_000, 'every reader to have every change');
    for (const r of readers) {
      const copy = new Y.Doc();
      for (const u of r.updates) Y.applyUpdate(copy, u);
      expect(copy.getArray('log').toJSON()).toEqual(log.toJSON());
    }
    expect(received(w.sock, w.doc.clientID)).toBe(0);
  });

  it('the updates one write covers go out to every reader as one message', async () => {
    h = await startHarness(dir);
    const viewer = (await h.tokens.create({ role: 'viewer' })).token;
    const readers = [await raw(viewer), await raw(viewer), await raw(viewer)];
    const doc = await h.docs.get(DOC); // the room's doc: the relay's own writes
    const before = readers.map((r) => r.updates.length);
    // Three transactions in one synchronous run: the DocStore writes them in one batch.
    for (const n of [1, 2, 3]) doc.getArray('m').push([n]);
    const total = clockOf(doc);
    await waitFor(() => readers.every((r) => received(r, doc.clientID) === total), 10_000, 'the three changes');
    readers.forEach((r, i) => expect(r.updates.length - before[i]!).toBe(1));
  });

  it('a reader that stops reading is closed at its bound (1013) while the others get every change', async () => {
    // No ping round while it runs: a paused socket answers no ping and would be cut (1006).
    h = await startHarness(dir, { maxBufferedBytes: 64 * 1024, pingIntervalMs: 3_600_000 });
    const viewer = (await h.tokens.create({ role: 'viewer' })).token;
    const healthy = [await raw(viewer), await raw(viewer), await raw(viewer)];
    const stalled = await raw(viewer);
    const w = await writer();
    stalled.ws.pause(); // its TCP buffers fill, then the relay's queue for it grows
    const open = healthy.length + 2;
    await waitFor(() => h.sync.connectionCount(DOC) === open, 10_000, 'every socket in the room');
    let changes = 0;
    // The kernel buffers a few MiB per socket before the relay's own queue grows; 400 changes
    // of 200 KB (80 MB) is far past any loopback buffer.
    while (h.sync.connectionCount(DOC) === open && changes < 400) {
      w.doc.getArray('big').push(['y'.repeat(200_000)]);
      changes++;
      const total = clockOf(w.doc);
      await waitFor(() => healthy.every((r) => received(r, w.doc.clientID) === total), 20_000, `change ${changes} at every healthy reader`);
    }
    expect(h.sync.connectionCount(DOC)).toBe(open - 1);
    // Once it reads again it gets what was queued before the bound, then the close and why.
    stalled.ws.resume();
    await waitFor(() => stalled.closes.length > 0, 20_000, 'the stalled socket to be closed');
    expect(stalled.closes[0]!.code).toBe(CLOSE.tooSlow);
    expect(stalled.closes[0]!.reason).toMatch(/^too-slow: /);
    expect(received(stalled, w.doc.clientID)).toBeLessThan(clockOf(w.doc));
    // The others go on as before.
    w.doc.getArray('big').push(['after']);
    const total = clockOf(w.doc);
    await waitFor(() => healthy.every((r) => received(r, w.doc.clientID) === total), 10_000, 'a change after the close');
  });
});
