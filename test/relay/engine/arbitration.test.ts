/**
 * The engine against a real relay: HTTP and inbox intents in one batch, lease expiry by the
 * sweeper, heartbeats that leave no history, inbox outcomes in the ledger, archiving.
 */
import * as Y from 'yjs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Outcome, TaskRuntime } from '../../../shared/model.js';
import { startTestRelay, waitFor, type TestRelay } from '../../helpers/relay.js';
import { connectDoc, type YClient } from '../../helpers/yclient.js';

const enc = encodeURIComponent;
let relays: TestRelay[] = [];
let clients: YClient[] = [];

afterEach(async () => {
  for (const c of clients) c.destroy();
  clients = [];
  for (const r of relays.reverse()) await r.close();
  relays = [];
});

async function relay(opts: Parameters<typeof startTestRelay>[0] = {}): Promise<TestRelay> {
  const r = await startTestRelay({ rateLimit: false, ...opts });
  relays.push(r);
  return r;
}

async function client(r: TestRelay, doc: string, token: string): Promise<YClient> {
  const c = await connectDoc(r.wsUrl, doc, token);
  clients.push(c);
  return c;
}

async function seed(r: TestRelay, maint: string, tasks: { id: string; repo?: string }[], policy: Record<string, unknown> = {}): Promise<void> {
  const repo = tasks[0]?.repo ?? 'o/r';
  expect((await r.api(maint, 'PUT', `/api/repos/${repo}`, policy)).status).toBe(200);
  const res = await r.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks: tasks.map((t) => ({ repo, title: t.id, skills: [], ...t })) });
  expect(res.status).toBe(200);
}

/** A relay ticking every millisecond, one task o/r#1, and worker w1 holding its lease. */
async function leasedTask(): Promise<{ r: TestRelay; maint: string; w: string; c: Awaited<ReturnType<TestRelay['api']>> }> {
  const r = await relay({ tickMs: 1 });
  const maint = await r.token('maintainer');
  const w = await r.token('worker', 'w1');
  await seed(r, maint, [{ id: 'o/r#1' }]);
  await r.api(w, 'POST', '/api/workers/register', { skills: [], capacity: 3, maxConcurrent: 1 });
  const c = await r.api(w, 'POST', '/api/claim', { taskId: 'o/r#1' });
  expect(c.status).toBe(200);
  return { r, maint, w, c };
}

describe('engine', () => {
  it('a claim over HTTP and one through an inbox in the same tick: one grant, one rejection', async () => {
    const r = await relay({ tickMs: 1500 });
    const maint = await r.token('maintainer');
    const wa = await r.token('worker', 'wa');
    const wb = await r.token('worker', 'wb');
    await seed(r, maint, [{ id: 'o/r#1' }]);
    await r.api(wa, 'POST', '/api/workers/register', { skills: [], capacity: 3, maxConcurrent: 1 });
    const inbox = await client(r, 'owp/inbox/wb', wb);
    inbox.doc.transact(() => {
      const p = inbox.doc.getMap('profile');
      p.set('name', 'wb');
      p.set('skills', []);
      p.set('capacity', 3);
      p.set('maxConcurrent', 1);
    });
    const ledger = await client(r, 'owp/ledger', wb);
    await waitFor(async () => (await r.api(maint, 'GET', '/api/workers')).body.workers.some((w: { profile: { id: string } | null }) => w.profile?.id === 'wb'));

    const http = r.api(wa, 'POST', '/api/claim', { taskId: 'o/r#1', intentId: 'http-claim' });
    inbox.doc.getArray('intents').push([{ kind: 'claim', id: 'inbox-claim', workerId: 'wb', taskId: 'o/r#1' }]);
    const httpRes = await http;
    const inboxOutcome = await waitFor(() => ledger.doc.getMap('outcomes').get('inbox-claim') as Outcome | undefined, 10_000, 'inbox outcome');
    const httpOutcome: Outcome = httpRes.body.outcome;

    expect(httpOutcome.batch).toBe(inboxOutcome.batch);
    const statuses = [httpOutcome.status, inboxOutcome.status].sort();
    expect(statuses).toEqual(['granted', 'rejected']);
    const loser = httpOutcome.status === 'rejected' ? httpOutcome : inboxOutcome;
    expect(loser.code).toBeTruthy();
    expect(httpRes.status).toBe(httpOutcome.status === 'granted' ? 200 : 409);
    const rt = (await r.api(maint, 'GET', `/api/tasks/${enc('o/r#1')}`)).body.runtime as TaskRuntime;
    expect(rt.fencingToken).toBe(1);
    expect(rt.lease?.workerId).toBe(httpOutcome.status === 'granted' ? 'wa' : 'wb');
    // the ledger doc shows the same lease, and the grant among its recent events
    await waitFor(() => (ledger.doc.getMap('tasks').get('o/r#1') as TaskRuntime | undefined)?.lease?.fencingToken === 1);
    const recent = ledger.doc.getArray('recent').toArray() as { kind: string; taskId?: string }[];
    expect(recent.some((e) => e.kind === 'lease-granted' && e.taskId === 'o/r#1')).toBe(true);
    expect(recent.length).toBeLessThanOrEqual(100);
  });

  it('inbox intents for another worker, of a maintainer kind, invalid, or heartbeats get one rejected outcome each', async () => {
    const r = await relay();
    const maint = await r.token('maintainer');
    const wb = await r.token('worker', 'wb');
    await seed(r, maint, [{ id: 'o/r#1' }]);
    const inbox = await client(r, 'owp/inbox/wb', wb);
    inbox.doc.getArray('intents').push([
      { kind: 'claim', id: 'spoof', workerId: 'someone-else', taskId: 'o/r#1' },
      { kind: 'cancel', id: 'sneaky', workerId: 'wb', taskId: 'o/r#1' },
      { kind: 'claim', id: 'garbage', workerId: 'wb' },
      { kind: 'heartbeat', id: 'beat', workerId: 'wb', taskId: 'o/r#1', fencingToken: 1 },
    ]);
    const ledger = await client(r, 'owp/ledger', wb);
    const outcomes = ledger.doc.getMap('outcomes');
    await waitFor(() => outcomes.has('spoof') && outcomes.has('sneaky') && outcomes.has('garbage') && outcomes.has('beat'));
    expect((outcomes.get('beat') as Outcome).code).toBe('invalid-intent');
    expect((outcomes.get('spoof') as Outcome).code).toBe('not-authorized');
    expect((outcomes.get('sneaky') as Outcome).code).toBe('not-authorized');
    expect((outcomes.get('garbage') as Outcome).code).toBe('invalid-intent');
    const rt = (await r.api(maint, 'GET', `/api/tasks/${enc('o/r#1')}`)).body.runtime as TaskRuntime;
    expect(rt.state).toBe('queued');
  });

  it("an inbox intent reusing another sender's id is refused with conflict in the inbox's refusals, never answered with the other outcome", async () => {
    const r = await relay();
    const maint = await r.token('maintainer');
    const wa = await r.token('worker', 'wa');
    const wb = await r.token('worker', 'wb');
    await seed(r, maint, [{ id: 'o/r#1' }, { id: 'o/r#2' }]);
    for (const t of [wa, wb]) await r.api(t, 'POST', '/api/workers/register', { skills: [], capacity: 3, maxConcurrent: 2 });
    const first = await r.api(wa, 'POST', '/api/claim', { taskId: 'o/r#1', intentId: 'shared-inbox-id' });
    expect(first.body.outcome.status).toBe('granted');
    const inbox = await client(r, 'owp/inbox/wb', wb);
    const ledger = await client(r, 'owp/ledger', wb);
    // A stored id of another sender, a valid and an invalid entry, and a fresh id after them.
    inbox.doc.getArray('intents').push([
      { kind: 'claim', id: 'shared-inbox-id', workerId: 'wb', taskId: 'o/r#2' },
      { kind: 'claim', id: 'shared-inbox-id', workerId: 'wb' },
      { kind: 'claim', id: 'wb-own', workerId: 'wb', taskId: 'o/r#2' },
    ]);
    const refusals = inbox.doc.getMap('refusals');
    const refused = await waitFor(() => refusals.get('shared-inbox-id') as Outcome | undefined, 10_000, 'inbox refusal');
    expect(refused).toMatchObject({ intentId: 'shared-inbox-id', workerId: 'wb', kind: 'claim', status: 'rejected', code: 'conflict' });
    expect(refused.message).toContain('already used by another sender');
    expect(refused.message).not.toContain('o/r#1');
    expect(refusals.size).toBe(1);
    // The other sender's outcome stays theirs; the fresh id is arbitrated as usual.
    const own = await waitFor(() => ledger.doc.getMap('outcomes').get('wb-own') as Outcome | undefined, 10_000, 'own outcome');
    expect(own).toMatchObject({ workerId: 'wb', status: 'granted', taskId: 'o/r#2' });
    expect(ledger.doc.getMap('outcomes').get('shared-inbox-id')).toMatchObject({ workerId: 'wa', taskId: 'o/r#1', status: 'granted' });
    // HTTP says the same for the same id.
    const http = await r.api(wb, 'POST', '/api/claim', { taskId: 'o/r#2', intentId: 'shared-inbox-id' });
    expect(http.status).toBe(409);
    expect(http.body.error.code).toBe(refused.code);
  });

  it("an inbox intent whose id another sender's queued intent holds is refused in the inbox too", async () => {
    const r = await relay({ tickMs: 3000 });
    const maint = await r.token('maintainer');
    const wa = await r.token('worker', 'wa');
    const wb = await r.token('worker', 'wb');
    await seed(r, maint, [{ id: 'o/r#1' }, { id: 'o/r#2' }]);
    for (const t of [wa, wb]) await r.api(t, 'POST', '/api/workers/register', { skills: [], capacity: 3, maxConcurrent: 2 });
    const inbox = await client(r, 'owp/inbox/wb', wb);
    // wa's intent waits for its batch (3 s tick) when wb's entry with the same id arrives. (On
    // a machine so slow that the batch ran already, the id is stored: the answer is the same.)
    const http = r.api(wa, 'POST', '/api/claim', { taskId: 'o/r#1', intentId: 'queued-id' });
    await waitFor(async () => (await r.api(maint, 'GET', '/api/status')).body.engine.queued >= 1, 10_000, 'the claim waits for its batch');
    inbox.doc.getArray('intents').push([{ kind: 'claim', id: 'queued-id', workerId: 'wb', taskId: 'o/r#2' }]);
    const refused = await waitFor(() => inbox.doc.getMap('refusals').get('queued-id') as Outcome | undefined, 10_000, 'inbox refusal');
    expect(refused).toMatchObject({ workerId: 'wb', status: 'rejected', code: 'conflict' });
    expect((await http).body.outcome).toMatchObject({ workerId: 'wa', status: 'granted', taskId: 'o/r#1' });
    expect((await r.api(maint, 'GET', `/api/tasks/${enc('o/r#2')}`)).body.runtime.state).toBe('queued');
  });

  it('the sweeper expires a lease shortly after its TTL and requeues the task', async () => {
    const r = await relay({ sweepMs: 50 });
    const maint = await r.token('maintainer');
    const w = await r.token('worker', 'w1');
    await seed(r, maint, [{ id: 'o/r#1' }], { leaseTtlMs: 1000, cooldownMs: 0 });
    await r.api(w, 'POST', '/api/workers/register', { skills: [], capacity: 3, maxConcurrent: 1 });
    const c = await r.api(w, 'POST', '/api/claim', { taskId: 'o/r#1' });
    expect(c.status).toBe(200);
    const grantedAt = c.body.lease.grantedAt as number;
    const rt = await waitFor(async () => {
      const t = (await r.api(maint, 'GET', `/api/tasks/${enc('o/r#1')}`)).body.runtime as TaskRuntime;
      return t.state === 'queued' && t.fencingToken === 1 ? t : undefined;
    }, 10_000, 'requeue after expiry');
    expect(rt.lease).toBeUndefined();
    expect(rt.updatedAt - grantedAt).toBeGreaterThanOrEqual(1000);
    const audit = await r.api(maint, 'GET', `/api/audit?task=${enc('o/r#1')}`);
    expect(audit.body.entries.map((e: { kind: string }) => e.kind)).toContain('lease-expired');
    const again = await r.api(w, 'POST', '/api/claim', { taskId: 'o/r#1' });
    expect(again.status).toBe(200);
    expect(again.body.lease.fencingToken).toBe(2);
  });

  it('1,000 heartbeats neither grow the ledger document materially nor add audit entries', async () => {
    const { r, maint, w, c } = await leasedTask();
    const viewer = await r.token('viewer');
    const ledger = await client(r, 'owp/ledger', viewer);
    await waitFor(() => ledger.doc.getMap('tasks').has('o/r#1'));
    const sizeBefore = Y.encodeStateAsUpdate(ledger.doc).length;
    const auditBefore = (await r.api(maint, 'GET', '/api/audit/verify')).body.entries;
    const url = `/api/tasks/${enc('o/r#1')}/heartbeat`;
    for (let i = 0; i < 200; i++) {
      const group = await Promise.all(Array.from({ length: 5 }, () => r.api(w, 'POST', url, { fencingToken: 1 })));
      for (const g of group) expect(g.status).toBe(200);
    }
    // a round trip through the relay so the client has seen everything the relay sent
    await r.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id: 'o/r#2', repo: 'o/r', title: 'marker' }] });
    await r.api(w, 'POST', '/api/claim', { taskId: 'nonexistent#1', intentId: 'marker-intent' });
    await waitFor(() => ledger.doc.getMap('outcomes').has('marker-intent'));
    const sizeAfter = Y.encodeStateAsUpdate(ledger.doc).length;
    const auditAfter = (await r.api(maint, 'GET', '/api/audit/verify')).body.entries;
    // The marker batches add an outcome, a queued task and two audit events (about 0.8 KB);
    // 1,000 heartbeats written into the doc would add several KB.
    expect(sizeAfter - sizeBefore).toBeLessThan(1500);
    const heartbeatEntries = (await r.api(maint, 'GET', `/api/audit?since=${auditBefore}&limit=1000`)).body.entries.filter(
      (e: { kind: string }) => e.kind === 'lease-extended',
    );
    expect(heartbeatEntries).toEqual([]);
    expect(auditAfter - auditBefore).toBeLessThan(5);
    // and the lease really was extended (LevelDB and memory have the exact expiry)
    const rt = (await r.api(maint, 'GET', `/api/tasks/${enc('o/r#1')}`)).body.runtime as TaskRuntime;
    expect(rt.lease!.expiresAt).toBeGreaterThan(c.body.lease.expiresAt);
  });

  it('awareness on the inbox socket is a heartbeat: it extends the lease without an audit entry', async () => {
    const { r, maint, w, c } = await leasedTask();
    const auditBefore = (await r.api(maint, 'GET', '/api/audit/verify')).body.entries;
    const inbox = await client(r, 'owp/inbox/w1', w);
    // a wrong token in the awareness state is ignored; the right one extends the lease
    inbox.provider.awareness.setLocalState({ workerId: 'w1', leases: { 'o/r#1': 99 } });
    inbox.provider.awareness.setLocalState({ workerId: 'w1', leases: { 'o/r#1': 1 } });
    await waitFor(async () => {
      const rt = (await r.api(maint, 'GET', `/api/tasks/${enc('o/r#1')}`)).body.runtime as TaskRuntime;
      return rt.lease!.expiresAt > c.body.lease.expiresAt;
    }, 10_000, 'lease extended by awareness');
    expect((await r.api(maint, 'GET', '/api/audit/verify')).body.entries).toBe(auditBefore);
    const workers = (await r.api(maint, 'GET', '/api/workers')).body.workers;
    expect(workers.find((x: { profile: { id: string } | null }) => x.profile?.id === 'w1').online).toBe(true);
  });

  it('an inbox intent is arbitrated once, also across a restart', async () => {
    const r = await relay();
    const maint = await r.token('maintainer');
    const w = await r.token('worker', 'w1');
    await seed(r, maint, [{ id: 'o/r#1' }, { id: 'o/r#2' }]);
    await r.api(w, 'POST', '/api/workers/register', { skills: [], capacity: 3, maxConcurrent: 3 });
    const inbox = await client(r, 'owp/inbox/w1', w);
    inbox.doc.getArray('intents').push([{ kind: 'claim-next', id: 'once', workerId: 'w1' }]);
    const ledger = await client(r, 'owp/ledger', w);
    const first = await waitFor(() => ledger.doc.getMap('outcomes').get('once') as Outcome | undefined);
    expect(first.status).toBe('granted');
    for (const c of clients) c.destroy();
    clients = [];
    await r.relay.close();
    const again = await startTestRelay({ dataDir: r.dataDir, rateLimit: false });
    relays.push(again);
    const ledger2 = await client(again, 'owp/ledger', w);
    expect(ledger2.doc.getMap('outcomes').get('once')).toEqual(first);
    // the inbox still holds the intent; it is not arbitrated a second time
    const inbox2 = await client(again, 'owp/inbox/w1', w);
    expect(inbox2.doc.getArray('intents').length).toBe(1);
    inbox2.doc.getArray('intents').push([{ kind: 'claim-next', id: 'twice', workerId: 'w1' }]);
    const second = await waitFor(() => ledger2.doc.getMap('outcomes').get('twice') as Outcome | undefined);
    expect(second.status).toBe('granted');
    expect(second.taskId).not.toBe(first.taskId);
    expect((ledger2.doc.getMap('outcomes').get('once') as Outcome).batch).toBe(first.batch);
    const status = (await again.api(maint, 'GET', '/api/status')).body;
    expect(status.leases).toHaveLength(2);
  });

  it('archives finished tasks after the retention window, out of the board and ledger docs', async () => {
    let now = Date.now();
    const r = await relay({ now: () => now, retentionMs: 60_000, archiveEveryMs: 10, sweepMs: 20 });
    const maint = await r.token('maintainer');
    await seed(r, maint, [{ id: 'o/r#1' }, { id: 'o/r#2' }]);
    const c = await r.api(maint, 'POST', `/api/tasks/${enc('o/r#1')}/cancel`, { reason: 'not needed', intentId: 'cancel-1' });
    expect(c.status).toBe(200);
    expect(c.body.runtime.state).toBe('cancelled');
    const viewer = await r.token('viewer');
    const ledger = await client(r, 'owp/ledger', viewer);
    const board = await client(r, 'owp/board', viewer);
    await waitFor(() => ledger.doc.getMap('outcomes').has('cancel-1'));
    now += 61_000;
    await waitFor(async () => (await r.api(maint, 'GET', `/api/tasks/${enc('o/r#1')}`)).status === 404, 10_000, 'archive');
    // out of both live documents; the old outcome leaves the doc but still answers its id
    await waitFor(() => !ledger.doc.getMap('tasks').has('o/r#1') && !board.doc.getMap('tasks').has('o/r#1') && !ledger.doc.getMap('outcomes').has('cancel-1'));
    expect(ledger.doc.getMap('tasks').has('o/r#2')).toBe(true);
    const again = await r.api(maint, 'POST', `/api/tasks/${enc('o/r#1')}/cancel`, { reason: 'not needed', intentId: 'cancel-1' });
    expect(again.body.outcome).toEqual(c.body.outcome);
    const left = (await r.api(maint, 'GET', '/api/tasks')).body.tasks.map((t: { task: { id: string } }) => t.task.id);
    expect(left).toEqual(['o/r#2']);
    expect((await r.api(maint, 'GET', '/api/audit/verify')).body.ok).toBe(true);
  });
});
