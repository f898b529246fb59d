/**
 * The socket endpoint's edges against a real relay: awareness states that are too big or
 * too deep are refused (never applied, never relayed), with a close code and a reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connectDoc, type YClient } from '../../helpers/yclient.js';
import { awarenessFrame } from '../../helpers/frames.js';
import { startTestRelay, waitFor, type TestRelay } from '../../helpers/relay.js';

async function sendAndClose(url: string, frame: Uint8Array): Promise<[number, string]> {
  const ws = new WebSocket(url);
  const closed = new Promise<[number, string]>((res) => ws.on('close', (c, why) => res([c, String(why)])));
  await new Promise((res) => ws.on('message', res)); // the relay's sync step 1: the room is open
  ws.send(frame);
  return closed;
}

describe('awareness limits', () => {
  let r: TestRelay;
  let observer: YClient;
  const seen = new Set<number>();
  beforeAll(async () => {
    r = await startTestRelay();
    observer = await connectDoc(r.wsUrl, 'owp/board', r.adminToken);
    observer.provider.awareness.on('change', ({ added, updated }: { added: number[]; updated: number[] }) => {
      for (const id of [...added, ...updated]) seen.add(id);
    });
  });
  afterAll(async () => {
    observer?.destroy();
    await r?.close();
  });

  it('a state over 64 KiB closes the socket with 4413 and reaches nobody', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(100 * 1024) });
    const [code, reason] = await sendAndClose(`${r.wsUrl}/owp/board?token=${r.adminToken}`, awarenessFrame(424242, big));
    expect(code).toBe(4413);
    expect(reason).toMatch(/^payload-too-large: .*awareness/);
    // A good state sent afterwards arrives; the big one never did.
    const [ok] = await Promise.all([
      waitFor(() => seen.has(777), 10_000, 'the good state'),
      (async () => {
        const ws = new WebSocket(`${r.wsUrl}/owp/board?token=${r.adminToken}`);
        await new Promise((res) => ws.on('message', res));
        ws.send(awarenessFrame(777, JSON.stringify({ name: 'fine' })));
        await waitFor(() => seen.has(777), 10_000, 'the good state');
        ws.close();
      })(),
    ]);
    expect(ok).toBe(true);
    expect(seen.has(424242)).toBe(false);
  });

  it('a state nested deeper than 32 levels closes the socket with 4400', async () => {
    const deep = '['.repeat(200) + ']'.repeat(200);
    const [code, reason] = await sendAndClose(`${r.wsUrl}/owp/board?token=${r.adminToken}`, awarenessFrame(515151, deep));
    expect(code).toBe(4400);
    expect(reason).toMatch(/^invalid-field: /);
    expect(seen.has(515151)).toBe(false);
    expect((await r.api(undefined, 'GET', '/healthz')).status).toBe(200);
  });
});

describe('inbox documents', () => {
  let r: TestRelay;
  beforeAll(async () => {
    r = await startTestRelay();
  });
  afterAll(async () => r?.close());

  const closeOf = (url: string) =>
    new Promise<[number, string]>((res) => {
      const ws = new WebSocket(url);
      ws.on('message', () => ws.close(1000, 'done'));
      ws.on('close', (c, why) => res([c, String(why)]));
    });

  it('a maintainer cannot make the relay load inboxes of workers that do not exist', async () => {
    const m = await r.token('maintainer');
    for (let i = 0; i < 3; i++) {
      const [code, reason] = await closeOf(`${r.wsUrl}/owp/inbox/nobody-${i}?token=${m}`);
      expect(code).toBe(4404);
      expect(reason).toMatch(/^unknown-worker: /);
    }
    await r.token('worker', 'real-1');
    const [code] = await closeOf(`${r.wsUrl}/owp/inbox/real-1?token=${m}`);
    expect(code).toBe(1000);
    // Admin may still prepare an inbox before its worker exists.
    const [adminCode] = await closeOf(`${r.wsUrl}/owp/inbox/later-1?token=${r.adminToken}`);
    expect(adminCode).toBe(1000);
  });
});

describe('socket message rate', () => {
  let r: TestRelay;
  let observer: YClient;
  const last = new Map<number, unknown>();
  beforeAll(async () => {
    // Three messages, then (practically) never more: the bucket does not refill within a test.
    r = await startTestRelay({ limits: { socketMessages: { ratePerSec: 0.0001, burst: 3 } } });
    observer = await connectDoc(r.wsUrl, 'owp/board', r.adminToken);
    observer.provider.awareness.on('change', () => {
      for (const [id, state] of observer.provider.awareness.getStates()) last.set(id, (state as { n?: unknown }).n);
    });
  });
  afterAll(async () => {
    observer?.destroy();
    await r?.close();
  });

  it('a token over its message rate is paused, not served: later messages wait', async () => {
    const flooder = await r.token('viewer');
    const ws = new WebSocket(`${r.wsUrl}/owp/board?token=${flooder}`);
    await new Promise((res) => ws.on('message', res));
    for (let n = 1; n <= 6; n++) ws.send(awarenessFrame(9000, JSON.stringify({ n }), n));
    await waitFor(() => last.get(9000) === 3, 10_000, 'the third state');
    // Another token is not slowed down; by the time its state arrives the flood's rest would have.
    const other = new WebSocket(`${r.wsUrl}/owp/board?token=${await r.token('viewer')}`);
    await new Promise((res) => other.on('message', res));
    other.send(awarenessFrame(9001, JSON.stringify({ n: 'marker' })));
    await waitFor(() => last.get(9001) === 'marker', 10_000, 'the marker');
    expect(last.get(9000)).toBe(3);
    ws.terminate();
    other.close();
  });
});

describe('message size', () => {
  let r: TestRelay;
  beforeAll(async () => {
    r = await startTestRelay();
  });
  afterAll(async () => r?.close());

  it('a message over twice the limit is cut off while it arrives (1009); the relay keeps serving', async () => {
    const ws = new WebSocket(`${r.wsUrl}/owp/board?token=${r.adminToken}`);
    const closed = new Promise<number>((res) => ws.on('close', (c) => res(c)));
    ws.on('error', () => undefined);
    await new Promise((res) => ws.on('message', res));
    ws.send(new Uint8Array(3 * 1024 * 1024));
    expect(await closed).toBe(1009);
    const c = await connectDoc(r.wsUrl, 'owp/board', r.adminToken);
    c.destroy();
  });
});

describe('text frames', () => {
  let r: TestRelay;
  beforeAll(async () => {
    r = await startTestRelay();
  });
  afterAll(async () => r?.close());

  it('a text frame closes with 4400 and a sentence instead of being ignored', async () => {
    const ws = new WebSocket(`${r.wsUrl}/owp/board?token=${r.adminToken}`);
    const closed = new Promise<[number, string]>((res) => ws.on('close', (c, why) => res([c, String(why)])));
    await new Promise((res) => ws.on('message', res));
    ws.send('{"hello":"relay"}');
    const [code, reason] = await closed;
    expect(code).toBe(4400);
    expect(reason).toMatch(/^invalid-field: .*binary/);
  });
});
