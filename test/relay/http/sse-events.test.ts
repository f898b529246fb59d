/**
 * `GET /api/events` against a real relay: snapshot first, a ledger delta after a claim,
 * resume with Last-Event-ID (no snapshot, only what was missed), auth and revocation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, waitFor, type TestRelay } from '../../helpers/relay.js';
import { openSse as openStream, type SseStream as Stream } from '../../helpers/sse.js';

describe('SSE /api/events', () => {
  let r: TestRelay;
  let maint: string;
  let w: string;
  let viewer: string;
  const streams: Stream[] = [];

  beforeAll(async () => {
    r = await startTestRelay({ rateLimit: false });
    maint = await r.token('maintainer');
    w = await r.token('worker', 'w1');
    viewer = await r.token('viewer');
    await r.api(maint, 'POST', '/api/tasks', {
      createRepo: true,
      tasks: [1, 2, 3].map((n) => ({ id: `o/r#${n}`, repo: 'o/r', title: `T${n}` })),
    });
    await r.api(w, 'POST', '/api/workers/register', { skills: [], capacity: 5, maxConcurrent: 3 });
  });
  afterAll(async () => {
    for (const s of streams) s.close();
    await r?.close();
  });

  it('sends a snapshot, then a ledger delta after a claim, and resumes with Last-Event-ID', async () => {
    const s1 = await openStream(`${r.url}/api/events`, { authorization: `Bearer ${viewer}` });
    streams.push(s1);
    expect(s1.status).toBe(200);
    const snap = await waitFor(() => s1.events.find((e) => e.event === 'snapshot'));
    expect(Object.keys(snap.data.board.tasks).sort()).toEqual(['o/r#1', 'o/r#2', 'o/r#3']);
    expect(snap.id).toMatch(/^[0-9a-z]+-\d+$/);

    const c1 = await r.api(w, 'POST', '/api/claim', { taskId: 'o/r#1' });
    expect(c1.status).toBe(200);
    const delta = await waitFor(() => s1.events.find((e) => e.event === 'ledger' && e.data.tasks?.['o/r#1']?.state === 'leased'));
    expect(delta.data.tasks['o/r#1'].lease.workerId).toBe('w1');
    expect(delta.data.events.map((e: { kind: string }) => e.kind)).toContain('lease-granted');
    s1.close();

    // Things happen while we are away...
    const c2 = await r.api(w, 'POST', '/api/claim', { taskId: 'o/r#2' });
    expect(c2.status).toBe(200);
    await r.api(maint, 'PATCH', `/api/tasks/${encodeURIComponent('o/r#3')}`, { priority: 5 });

    // ...and come back with the last id we saw.
    const s2 = await openStream(`${r.url}/api/events?token=${viewer}`, { 'last-event-id': delta.id! });
    streams.push(s2);
    const missedClaim = await waitFor(() => s2.events.find((e) => e.event === 'ledger' && e.data.tasks?.['o/r#2']?.state === 'leased'));
    const missedEdit = await waitFor(() => s2.events.find((e) => e.event === 'board' && e.data.tasks?.['o/r#3']?.priority === 5));
    expect(s2.events.some((e) => e.event === 'snapshot')).toBe(false);
    expect(s2.events.some((e) => e.event === 'ledger' && e.data.tasks?.['o/r#1'])).toBe(false);
    const seq = (id: string) => Number(id.split('-')[1]);
    expect(seq(missedClaim.id!)).toBeGreaterThan(seq(delta.id!));
    expect(seq(missedEdit.id!)).toBeGreaterThan(seq(delta.id!));

    // An id this relay does not know gets a fresh snapshot.
    const s3 = await openStream(`${r.url}/api/events`, { authorization: `Bearer ${viewer}`, 'last-event-id': 'zzz-5' });
    streams.push(s3);
    const snap3 = await waitFor(() => s3.events.find((e) => e.event === 'snapshot'));
    expect(snap3.data.ledger.tasks['o/r#2'].state).toBe('leased');
    expect(snap3.data.recent.map((e: { kind: string }) => e.kind)).toContain('lease-granted');
  });

  it('refuses a stream without a token, and closes it when the token is revoked', async () => {
    const anon = await openStream(`${r.url}/api/events`, {});
    expect(anon.status).toBe(401);
    const t = await r.api(r.adminToken, 'POST', '/api/tokens', { role: 'viewer' });
    const s = await openStream(`${r.url}/api/events`, { authorization: `Bearer ${t.body.token}` });
    streams.push(s);
    await waitFor(() => s.events.find((e) => e.event === 'snapshot'));
    await r.api(r.adminToken, 'DELETE', `/api/tokens/${t.body.id}`);
    await waitFor(() => s.ended, 10_000, 'stream closed after revocation');
  });

  it('with publicDashboard a stream needs no token', async () => {
    const pub = await startTestRelay({ publicDashboard: true });
    try {
      const s = await openStream(`${pub.url}/api/events`, {});
      streams.push(s);
      expect(s.status).toBe(200);
      await waitFor(() => s.events.find((e) => e.event === 'snapshot'));
      s.close();
    } finally {
      await pub.close();
    }
  });
});
