/**
 * The sync server's connection rules with stock y-websocket clients and raw sockets: sharing
 * writes, read-only clients not being thrown out, token checks, revocation, message size,
 * awareness (heartbeats, spoofing, never persisted) and shutdown.
 */
import * as encoding from 'lib0/encoding';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as Y from 'yjs';
import { encodeAwarenessEntries } from '../../../server/sync/awareness.js';
import { MAX_AWARENESS_CLIENTS_PER_SOCKET } from '../../../server/sync/server.js';
import { type Harness, removeDir, startHarness, tempDir, waitFor } from '../../helpers/sync-harness.js';

let dir: string;
let h: Harness;

beforeEach(async () => {
  dir = await tempDir();
  h = await startHarness(dir);
});

afterEach(async () => {
  await h.stop();
  await removeDir(dir);
});

/** A raw socket that records how the server closed it. */
function rawSocket(url: string, headers?: Record<string, string>) {
  const ws = new WebSocket(url, { headers });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  ws.on('error', () => undefined);
  const opened = new Promise<void>((resolve) => ws.on('open', () => resolve()));
  const messages: Uint8Array[] = [];
  ws.on('message', (d: Buffer) => messages.push(new Uint8Array(d)));
  return { ws, closed, opened, messages };
}

async function docKeyCount(): Promise<number> {
  await h.docs.flush();
  return (await h.store.keys('doc/')).length;
}

describe('sharing', () => {
  it('two writers see each other’s board writes, both ways', async () => {
    const admin = (await h.tokens.create({ role: 'admin' })).token;
    const maint = (await h.tokens.create({ role: 'maintainer' })).token;
    const a = h.connect('owp/board', admin);
    const b = h.connect('owp/board', maint);
    await Promise.all([a.synced(), b.synced()]);
    a.doc.getMap('tasks').set('t1', 'from a');
    b.doc.getMap('tasks').set('t2', 'from b');
    await waitFor(() => b.doc.getMap('tasks').get('t1') === 'from a', 10_000, 'b to see a');
    await waitFor(() => a.doc.getMap('tasks').get('t2') === 'from b', 10_000, 'a to see b');
    expect(a.closes).toEqual([]);
    expect(b.closes).toEqual([]);
  });

  it('a relay write in-process reaches every reader', async () => {
    const viewer = h.connect('owp/ledger', (await h.tokens.create({ role: 'viewer' })).token);
    await viewer.synced();
    (await h.docs.get('owp/ledger')).getMap('meta').set('batch', 7);
    await waitFor(() => viewer.doc.getMap('meta').get('batch') === 7, 10_000, 'the viewer to see the ledger');
  });

  it('Authorization: Bearer works as well as ?token=', async () => {
    const token = (await h.tokens.create({ role: 'viewer' })).token;
    const s = rawSocket(`${h.url}/owp/board`, { Authorization: `Bearer ${token}` });
    await s.opened;
    await waitFor(() => s.messages.length > 0, 10_000, 'the server step 1');
    expect(s.messages[0][0]).toBe(0); // a sync message
    s.ws.close();
  });
});

describe('read-only clients are not writers', () => {
  it('a viewer connecting and reconnecting to a doc full of deletions is not kicked', async () => {
    const board = await h.docs.get('owp/board');
    const tasks = board.getMap('tasks');
    for (let i = 0; i < 20; i++) tasks.set(`t${i}`, { v: i });
    for (let i = 0; i < 20; i += 2) tasks.delete(`t${i}`);
    for (let i = 1; i < 20; i += 2) tasks.set(`t${i}`, { v: i * 10 }); // replaced values are deletions too
    const viewer = h.connect('owp/board', (await h.tokens.create({ role: 'viewer' })).token);
    await viewer.synced();
    expect(viewer.doc.getMap('tasks').get('t3')).toEqual({ v: 30 });
    // Reconnect: this time the client's step 2 carries the whole delete set (nothing new).
    viewer.provider.disconnect();
    await waitFor(() => !viewer.provider.wsconnected, 10_000, 'disconnect');
    viewer.provider.connect();
    await viewer.synced();
    tasks.set('after', 1);
    await waitFor(() => viewer.doc.getMap('tasks').get('after') === 1, 10_000, 'a later relay write');
    expect(viewer.closes).toEqual([]);
    expect(h.sync.connectionCount('owp/board')).toBe(1);
  });

  it('a read-only client holding content the relay lost is refused, and nothing of it lands', async () => {
    const viewerToken = (await h.tokens.create({ role: 'viewer' })).token;
    const viewer = h.connect('owp/board', viewerToken);
    // local content made before connecting (e.g. a stale cache): a real write
    viewer.doc.getMap('tasks').set('stale', true);
    await waitFor(() => viewer.closes.length > 0, 10_000, 'the refusal');
    expect(viewer.closes[0].code).toBe(4403);
    expect((await h.docs.get('owp/board')).getMap('tasks').has('stale')).toBe(false);
  });
});

describe('tokens', () => {
  it('no token and an unknown token are closed with 4401', async () => {
    const none = rawSocket(`${h.url}/owp/board`);
    const bad = rawSocket(`${h.url}/owp/board?token=owp_not-a-real-token`);
    const c1 = await none.closed;
    const c2 = await bad.closed;
    expect(c1.code).toBe(4401);
    expect(c1.reason).toMatch(/^unauthorized: /);
    expect(c2.code).toBe(4401);
    expect(none.messages).toEqual([]); // not one byte of the doc
    expect(bad.messages).toEqual([]);
  });

  it('a stock client with a bad token stops reconnecting', async () => {
    const c = h.connect('owp/board', 'owp_wrong');
    await waitFor(() => c.closes.length > 0, 10_000, 'close');
    expect(c.closes[0].code).toBe(4401);
    expect(c.provider.shouldConnect).toBe(false);
  });

  it('an unknown document is closed with 4404', async () => {
    const token = (await h.tokens.create({ role: 'admin' })).token;
    const s = rawSocket(`${h.url}/owp/secrets?token=${token}`);
    expect((await s.closed).code).toBe(4404);
    const s2 = rawSocket(`${h.url}/owp/inbox/..%2Fboard?token=${token}`);
    expect((await s2.closed).code).toBe(4404);
  });

  it('revoking a token closes its open sockets at once with 4410, and it cannot reconnect', async () => {
    const admin = (await h.tokens.create({ role: 'admin' })).token;
    const w = await h.tokens.create({ role: 'worker', workerId: 'w1' });
    const other = h.connect('owp/board', admin);
    const inbox = h.connect('owp/inbox/w1', w.token);
    const board = h.connect('owp/board', w.token);
    await Promise.all([other.synced(), inbox.synced(), board.synced()]);
    await h.tokens.revoke(w.id);
    await waitFor(() => inbox.closes.length > 0 && board.closes.length > 0, 10_000, 'both sockets to close');
    expect(inbox.closes[0].code).toBe(4410);
    expect(board.closes[0].reason).toMatch(/^token-revoked: /);
    expect(other.closes).toEqual([]);
    const again = rawSocket(`${h.url}/owp/board?token=${w.token}`);
    expect((await again.closed).code).toBe(4410);
  });
});

describe('limits and shutdown', () => {
  it('a message over 1 MiB closes the socket with 4413 and is not applied', async () => {
    const token = (await h.tokens.create({ role: 'admin' })).token;
    const s = rawSocket(`${h.url}/owp/board?token=${token}`);
    await s.opened;
    const scratch = new Y.Doc();
    scratch.getMap('tasks').set('huge', 'x'.repeat(1024 * 1024 + 10));
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 0);
    encoding.writeVarUint(e, 2);
    encoding.writeVarUint8Array(e, Y.encodeStateAsUpdate(scratch));
    s.ws.send(encoding.toUint8Array(e));
    const c = await s.closed;
    expect(c.code).toBe(4413);
    expect(c.reason).toMatch(/^payload-too-large/);
    expect((await h.docs.get('owp/board')).getMap('tasks').has('huge')).toBe(false);
  });

  it('a malformed message closes with 4400 and the relay keeps serving', async () => {
    const token = (await h.tokens.create({ role: 'admin' })).token;
    const s = rawSocket(`${h.url}/owp/board?token=${token}`);
    await s.opened;
    s.ws.send(new Uint8Array([0, 2, 200])); // an update whose length runs past the end
    expect((await s.closed).code).toBe(4400);
    const c = h.connect('owp/board', token);
    await c.synced();
  });

  it('close() closes every socket with 1001', async () => {
    const token = (await h.tokens.create({ role: 'viewer' })).token;
    const s = rawSocket(`${h.url}/owp/ledger?token=${token}`);
    await s.opened;
    await h.sync.close();
    expect((await s.closed).code).toBe(1001);
  });
});

describe('awareness', () => {
  it('a worker’s awareness is a heartbeat, reaches other readers, and leaves when it closes', async () => {
    const admin = (await h.tokens.create({ role: 'admin' })).token;
    const w1 = (await h.tokens.create({ role: 'worker', workerId: 'w1' })).token;
    const observer = h.connect('owp/inbox/w1', admin);
    await observer.synced();
    const before = await docKeyCount();
    const worker = h.connect('owp/inbox/w1', w1, { awareness: { workerId: 'w1', leases: { 'acme/app#1': 3 } } });
    await worker.synced();
    await waitFor(() => h.awarenessSeen.some((a) => a.principal.workerId === 'w1' && a.docName === 'owp/inbox/w1'), 10_000, 'the heartbeat');
    const seen = h.awarenessSeen.find((a) => a.principal.workerId === 'w1')!;
    expect(seen.state).toEqual({ workerId: 'w1', leases: { 'acme/app#1': 3 } });
    const workerClient = worker.doc.clientID;
    await waitFor(() => observer.provider.awareness.getStates().has(workerClient), 10_000, 'the observer to see the worker');
    // Many beats later, persisted documents have not grown.
    for (let i = 0; i < 30; i++) worker.provider.awareness.setLocalState({ workerId: 'w1', leases: { 'acme/app#1': 3 }, beat: i });
    await waitFor(() => (observer.provider.awareness.getStates().get(workerClient) as { beat?: number })?.beat === 29, 10_000, 'the last beat');
    expect(await docKeyCount()).toBe(before);
    worker.destroy();
    await waitFor(() => !observer.provider.awareness.getStates().has(workerClient), 10_000, 'the worker’s state to leave');
  });

  it('a worker naming another worker id in its awareness is ignored', async () => {
    const admin = (await h.tokens.create({ role: 'admin' })).token;
    const w1 = (await h.tokens.create({ role: 'worker', workerId: 'w1' })).token;
    const observer = h.connect('owp/board', admin);
    await observer.synced();
    const liar = h.connect('owp/board', w1, { awareness: { workerId: 'w2', leases: { t: 1 } } });
    await liar.synced();
    // Barrier: an honest state from the same socket arrives after the lie.
    liar.provider.awareness.setLocalState({ workerId: 'w1', leases: {} });
    await waitFor(() => h.awarenessSeen.some((a) => a.state.workerId === 'w1'), 10_000, 'the honest beat');
    expect(h.awarenessSeen.filter((a) => a.state.workerId === 'w2')).toEqual([]);
    expect(liar.closes).toEqual([]);
  });

  it('one socket cannot overwrite another socket’s awareness client', async () => {
    const admin = (await h.tokens.create({ role: 'admin' })).token;
    const viewer = (await h.tokens.create({ role: 'viewer' })).token;
    const observer = h.connect('owp/board', admin);
    await observer.synced();
    const honest = h.connect('owp/board', viewer, { awareness: { name: 'honest' } });
    await waitFor(() => observer.provider.awareness.getStates().get(honest.doc.clientID) !== undefined, 10_000, 'honest state');
    const s = rawSocket(`${h.url}/owp/board?token=${viewer}`);
    await s.opened;
    const fake = new awarenessProtocol.Awareness(new Y.Doc());
    fake.clientID = honest.doc.clientID;
    fake.setLocalState({ name: 'impostor' });
    fake.setLocalState({ name: 'impostor', n: 2 }); // a higher clock than the honest one
    fake.setLocalState({ name: 'impostor', n: 3 });
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 1);
    encoding.writeVarUint8Array(e, awarenessProtocol.encodeAwarenessUpdate(fake, [fake.clientID]));
    s.ws.send(encoding.toUint8Array(e));
    // Barrier: the honest client changes its state afterwards; the observer sees that, never the impostor.
    honest.provider.awareness.setLocalState({ name: 'honest', n: 9 });
    await waitFor(() => (observer.provider.awareness.getStates().get(honest.doc.clientID) as { n?: number })?.n === 9, 10_000, 'honest update');
    expect(h.awarenessSeen.some((a) => a.state.name === 'impostor')).toBe(false);
    fake.destroy();
    s.ws.close();
  });
});

describe('awareness limits', () => {
  it('one socket owns at most a few awareness clients', async () => {
    const viewer = (await h.tokens.create({ role: 'viewer' })).token;
    const s = rawSocket(`${h.url}/owp/board?token=${viewer}`);
    await s.opened;
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, 1);
    const entries = Array.from({ length: 50 }, (_, i) => ({ clientID: 1000 + i, clock: 1, state: { i } }));
    encoding.writeVarUint8Array(e, encodeAwarenessEntries(entries));
    s.ws.send(encoding.toUint8Array(e));
    await waitFor(() => h.awarenessSeen.length > 0, 10_000, 'the accepted states');
    await waitFor(() => (h.sync.awareness('owp/board')?.getStates().size ?? 0) > 0, 10_000, 'states applied');
    expect(h.sync.awareness('owp/board')!.getStates().size).toBe(MAX_AWARENESS_CLIENTS_PER_SOCKET);
    expect(h.awarenessSeen).toHaveLength(MAX_AWARENESS_CLIENTS_PER_SOCKET);
    s.ws.close();
    await waitFor(() => h.sync.awareness('owp/board')!.getStates().size === 0, 10_000, 'states removed on close');
  });
});

describe('persistence through the sync server', () => {
  it('client writes survive a restart of the relay, after compaction too', async () => {
    await h.stop();
    h = await startHarness(dir, { compactEvery: 4 });
    const w1 = (await h.tokens.create({ role: 'worker', workerId: 'w1' })).token;
    const writer = h.connect('owp/inbox/w1', w1);
    await writer.synced();
    const intents = writer.doc.getArray<{ id: string }>('intents');
    for (let i = 0; i < 30; i++) intents.push([{ id: `i${i}` }]);
    writer.doc.getMap('profile').set('capacity', 5);
    const server = await h.docs.get('owp/inbox/w1');
    await waitFor(() => server.getArray('intents').length === 30 && server.getMap('profile').get('capacity') === 5, 10_000, 'the relay to have them');
    await h.docs.flush();
    expect(await h.store.getBinary('doc/owp%2Finbox%2Fw1/snap')).toBeDefined(); // compaction happened
    expect((await h.store.keys('doc/owp%2Finbox%2Fw1/u/')).length).toBeLessThan(4);
    await h.stop();
    h = await startHarness(dir, { compactEvery: 4 });
    const reader = h.connect('owp/inbox/w1', w1);
    await reader.synced();
    expect(reader.doc.getArray('intents').toJSON()).toEqual(Array.from({ length: 30 }, (_, i) => ({ id: `i${i}` })));
    expect(reader.doc.getMap('profile').get('capacity')).toBe(5);
  });
});
