/**
 * Intent outcomes past the retention window (server/engine/outcomes.ts): they leave the
 * relay's memory (bounded by the window's traffic, not by history) and what it reads at start,
 * yet a repeated id still gets its stored outcome, never a second arbitration, also after a
 * restart; another sender's reuse of an archived id is still `conflict`. Real relay, real
 * LevelDB in a temp folder; the clock is moved by hand, nothing waits on time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestRelay, waitFor, type TestRelay } from '../../helpers/relay.js';

const enc = encodeURIComponent;
let relays: TestRelay[] = [];
let dirs: string[] = [];

afterEach(async () => {
  for (const r of relays.reverse()) await r.close();
  relays = [];
  for (const d of dirs) await rm(d, { recursive: true, force: true });
  dirs = [];
});

const RETENTION_MS = 60_000;

async function relay(dataDir: string, now: () => number): Promise<TestRelay> {
  const r = await startTestRelay({ rateLimit: false, dataDir, now, retentionMs: RETENTION_MS, archiveEveryMs: 10, sweepMs: 20 });
  relays.push(r);
  return r;
}

const inMemory = (r: TestRelay) => Object.keys(r.relay.engine.ledger().outcomes).length;

/** `count` tasks claimed and completed by one worker, intent ids `<prefix>-claim-<i>` / `<prefix>-done-<i>`. */
async function lifecycles(r: TestRelay, maint: string, worker: string, prefix: string, count: number): Promise<void> {
  const tasks = Array.from({ length: count }, (_, i) => ({ id: `o/r#${prefix}${i}`, repo: 'o/r', title: `${prefix} ${i}`, skills: [] }));
  expect((await r.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks })).status).toBe(200);
  for (let i = 0; i < count; i++) {
    const c = await r.api(worker, 'POST', '/api/claim', { taskId: `o/r#${prefix}${i}`, intentId: `${prefix}-claim-${i}` });
    expect(c.status).toBe(200);
    const d = await r.api(worker, 'POST', `/api/tasks/${enc(`o/r#${prefix}${i}`)}/complete`, { fencingToken: c.body.lease.fencingToken, intentId: `${prefix}-done-${i}` });
    expect(d.status).toBe(200);
  }
}

describe('intent outcomes past the retention window', () => {
  it('leave memory and the start-up read; a repeated id still gets its stored outcome, also after a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'owp-outcomes-'));
    dirs.push(dir);
    let now = Date.now();
    let r = await relay(dir, () => now);
    const maint = await r.token('maintainer');
    const worker = await r.token('worker', 'w1');
    const other = await r.token('worker', 'w2');
    for (const t of [worker, other]) expect((await r.api(t, 'POST', '/api/workers/register', { skills: [], capacity: 100, maxConcurrent: 5 })).status).toBe(200);
    expect((await r.api(maint, 'PUT', '/api/repos/o/r', { dailyQuota: 1000 })).status).toBe(200);
    const keep = await r.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id: 'o/r#keep', repo: 'o/r', title: 'keep', skills: [] }] });
    expect(keep.status).toBe(200);
    const cancel = await r.api(maint, 'POST', `/api/tasks/${enc('o/r#keep')}/requeue`, { intentId: 'requeue-keep' });
    expect(cancel.status).toBe(200);

    await lifecycles(r, maint, worker, 'a', 10);
    expect(inMemory(r)).toBe(21);

    // Past the window: the sweep moves every outcome out of memory (the finished tasks leave too).
    now += RETENTION_MS + 1000;
    await waitFor(() => inMemory(r) === 0, 10_000, 'outcomes archived');
    // The next round's outcomes are all memory holds: the window's traffic, not history.
    await lifecycles(r, maint, worker, 'b', 10);
    expect(inMemory(r)).toBe(20);

    // A repeat of an archived id: the same outcome, not a second effect.
    const again = await r.api(maint, 'POST', `/api/tasks/${enc('o/r#keep')}/requeue`, { intentId: 'requeue-keep' });
    expect(again.body.outcome).toEqual(cancel.body.outcome);
    const claimAgain = await r.api(worker, 'POST', '/api/claim', { intentId: 'a-claim-3' });
    expect(claimAgain.body.outcome).toMatchObject({ intentId: 'a-claim-3', status: 'granted', taskId: 'o/r#a3', workerId: 'w1' });
    expect((await r.api(worker, 'GET', '/api/status')).body.leases ?? []).toEqual([]);
    // Another sender's reuse of an archived id is refused, never answered with w1's outcome.
    const stolen = await r.api(other, 'POST', '/api/claim', { intentId: 'a-claim-4' });
    expect(stolen.status).toBe(409);
    expect(stolen.body.error.code).toBe('conflict');
    expect(stolen.body.outcome).toBeUndefined();

    // Restart on the same folder: only the window's outcomes are read back, the old ids still answer.
    await r.close();
    relays = relays.filter((x) => x !== r);
    r = await relay(dir, () => now);
    expect(inMemory(r)).toBe(20);
    const afterRestart = await r.api(worker, 'POST', `/api/tasks/${enc('o/r#a5')}/complete`, { fencingToken: 1, intentId: 'a-done-5' });
    expect(afterRestart.body.outcome).toMatchObject({ intentId: 'a-done-5', status: 'applied', workerId: 'w1' });
    // A fresh id is arbitrated as usual.
    const fresh = await r.api(worker, 'POST', '/api/claim', { taskId: 'o/r#keep', intentId: 'fresh-claim' });
    expect(fresh.status).toBe(200);
    expect(fresh.body.outcome.status).toBe('granted');
    expect((await r.api(maint, 'GET', '/api/audit/verify')).body.ok).toBe(true);
  }, 60_000);
});
