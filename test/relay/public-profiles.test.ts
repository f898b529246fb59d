/**
 * Capacity visible to every role, on a real relay: the public worker projection in the
 * `owp/ledger` document (read by a viewer's Yjs client, as the plugin does) and in the
 * event stream (the public dashboard), kept up to date and across a restart; and
 * `GET /api/tasks/:id/explain` answering a viewer with the scheduler's reasons.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDoc } from '../helpers/yclient.js';
import { startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';
import { openSse, type SseStream } from '../helpers/sse.js';

describe('public worker profiles', () => {
  let dataDir: string;
  let r: TestRelay;
  let viewer: string;
  let maint: string;
  let alice: string;
  const streams: SseStream[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'owp-profiles-'));
    r = await startTestRelay({ dataDir, publicDashboard: true });
    viewer = await r.token('viewer');
    maint = await r.token('maintainer');
    alice = await r.token('worker', 'alice');
    await r.api(alice, 'POST', '/api/workers/register', { name: 'Alice', skills: ['ts', 'docs'], capacity: 5, maxConcurrent: 2 });
  });
  afterAll(async () => {
    for (const s of streams) s.close();
    await r?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("publishes what the scheduler uses in owp/ledger for a viewer, and nothing else of the inbox", async () => {
    const c = await connectDoc(r.wsUrl, 'owp/ledger', viewer);
    try {
      const p = await waitFor(() => c.doc.getMap('profiles').get('alice') as Record<string, unknown> | undefined);
      expect(p).toEqual({ id: 'alice', name: 'Alice', skills: ['ts', 'docs'], capacity: 5, maxConcurrent: 2, available: true });
      await r.api(alice, 'POST', '/api/workers/register', { name: 'Alice', skills: ['ts', 'docs'], capacity: 7, maxConcurrent: 2, available: false });
      await waitFor(() => (c.doc.getMap('profiles').get('alice') as { capacity?: number }).capacity === 7, 10_000, 'capacity 7');
      expect(c.doc.getMap('profiles').get('alice')).toMatchObject({ capacity: 7, available: false });
    } finally {
      c.destroy();
    }
  });

  it('sends the projection to the public event stream: in the snapshot, then as a ledger delta', async () => {
    const s = await openSse(`${r.url}/api/events`);
    streams.push(s);
    const snap = await waitFor(() => s.events.find((e) => e.event === 'snapshot'));
    expect(snap.data.profiles.alice).toMatchObject({ capacity: 7, maxConcurrent: 2, skills: ['ts', 'docs'] });
    await r.api(alice, 'POST', '/api/workers/register', { name: 'Alice', skills: ['ts'], capacity: 4, maxConcurrent: 1, available: true });
    const delta = await waitFor(() => s.events.find((e) => e.event === 'ledger' && e.data.profiles?.alice));
    expect(delta.data.profiles.alice).toEqual({ id: 'alice', name: 'Alice', skills: ['ts'], capacity: 4, maxConcurrent: 1, available: true });
  });

  it('keeps the projection across a restart', async () => {
    await r.close();
    r = await startTestRelay({ dataDir, publicDashboard: true });
    const s = await openSse(`${r.url}/api/events`);
    streams.push(s);
    const snap = await waitFor(() => s.events.find((e) => e.event === 'snapshot'));
    expect(snap.data.profiles.alice).toMatchObject({ capacity: 4, maxConcurrent: 1 });
  });

  it("explains a queued task to a viewer with the scheduler's filters", async () => {
    await r.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id: 'o/r#1', repo: 'o/r', title: 'Port the parser', skills: ['rust'] }] });
    const res = await r.api(viewer, 'GET', `/api/tasks/${encodeURIComponent('o/r#1')}/explain`);
    expect(res.status).toBe(200);
    expect(res.body.explanation).toMatchObject({ taskId: 'o/r#1', state: 'queued', fits: [], workers: [{ workerId: 'alice', online: false, refusal: { code: 'skill-mismatch' } }] });
    expect(res.body.explanation.summary).toBe('Nobody can take it now: no available worker has skill rust.');
    const missing = await r.api(viewer, 'GET', `/api/tasks/${encodeURIComponent('o/r#404')}/explain`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('unknown-task');
  });
});
