/**
 * Awareness fan-out against a real relay: an empty state (`{}`, what every stock y-websocket
 * client publishes when it sets nothing, e.g. a read-only ledger viewer) is echoed to its
 * sender alone and never broadcast, so N viewers cost N messages per renewal, not N x N
 * (1,000 ledger viewers were a million messages every 15 s and never all synced). States
 * with content, and a state emptied after it had content, still reach everyone.
 *
 * Ordering, not timing: the relay handles one socket's messages in order and sends to one
 * socket in order, so once a later marker state has reached the observer, an earlier
 * broadcast would have too.
 */
import * as decoding from 'lib0/decoding';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { decodeAwarenessUpdate, type AwarenessEntry } from '../../../server/sync/awareness.js';
import { awarenessFrame } from '../../helpers/frames.js';
import { startTestRelay, waitFor, type TestRelay } from '../../helpers/relay.js';

/** A raw socket on a document that records every awareness entry it receives. */
async function listener(url: string): Promise<{ ws: WebSocket; entries: AwarenessEntry[] }> {
  const ws = new WebSocket(url);
  const entries: AwarenessEntry[] = [];
  const joined = new Promise((res) => ws.once('message', res)); // the relay's sync step 1: in the room
  ws.on('message', (data: Buffer) => {
    const d = decoding.createDecoder(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    if (decoding.readVarUint(d) === 1) entries.push(...decodeAwarenessUpdate(decoding.readVarUint8Array(d)));
  });
  await joined;
  return { ws, entries };
}

describe('awareness fan-out', () => {
  let r: TestRelay;
  let observer: Awaited<ReturnType<typeof listener>>;
  let sender: Awaited<ReturnType<typeof listener>>;
  const seenBy = (l: { entries: AwarenessEntry[] }, id: number) => l.entries.filter((x) => x.clientID === id);
  beforeAll(async () => {
    r = await startTestRelay();
    const viewer = (await r.api(r.adminToken, 'POST', '/api/tokens', { role: 'viewer' })).body.token as string;
    observer = await listener(`${r.wsUrl}/owp/ledger?token=${viewer}`);
    sender = await listener(`${r.wsUrl}/owp/ledger?token=${viewer}`);
  });
  afterAll(async () => {
    observer?.ws.close();
    sender?.ws.close();
    await r?.close();
  });

  it('an empty state is echoed to its sender and reaches no other peer', async () => {
    sender.ws.send(awarenessFrame(777, '{}'));
    await waitFor(() => seenBy(sender, 777).length > 0, 10_000, 'the echo');
    expect(seenBy(sender, 777)).toEqual([{ clientID: 777, clock: 1, state: {} }]);
    sender.ws.send(awarenessFrame(778, JSON.stringify({ name: 'marker' })));
    await waitFor(() => seenBy(observer, 778).length > 0, 10_000, 'the marker');
    expect(seenBy(observer, 777)).toEqual([]);
  });

  it('a state emptied after it had content still reaches the others; a leave of a state never held does not', async () => {
    sender.ws.send(awarenessFrame(778, '{}', 2));
    sender.ws.send(awarenessFrame(780, 'null', 3));
    sender.ws.send(awarenessFrame(779, JSON.stringify({ name: 'marker 2' })));
    await waitFor(() => seenBy(observer, 779).length > 0, 10_000, 'the second marker');
    expect(seenBy(observer, 778).map((x) => x.state)).toEqual([{ name: 'marker' }, {}]);
    expect(seenBy(observer, 780)).toEqual([]);
  });

  it('a peer joining later is greeted with the states that have content only', async () => {
    const late = await listener(`${r.wsUrl}/owp/ledger?token=${r.adminToken}`);
    try {
      late.ws.send(awarenessFrame(781, JSON.stringify({ name: 'late' })));
      await waitFor(() => seenBy(late, 781).length > 0, 10_000, 'its own state back');
      expect(seenBy(late, 777)).toEqual([]);
      expect(seenBy(late, 779).map((x) => x.state)).toEqual([{ name: 'marker 2' }]);
    } finally {
      late.ws.close();
    }
  });
});
