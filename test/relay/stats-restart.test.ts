/**
 * The stats index across restarts of a real relay, on LevelDB and on PostgreSQL: a clean stop
 * writes its checkpoint, the next start restores it (and says so) and answers /api/stats,
 * /api/credits and /api/reviews exactly as before; without the checkpoint, or with a broken
 * one (logged), the start folds the audit log and still answers the same.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '../../server/ports.js';
import { STATS_CHECKPOINT_KEY, decodeCheckpoint, unpackCheckpoint } from '../../server/stats/checkpoint.js';
import { openPostgresStore, openStore, type Store } from '../../server/store/index.js';
import { join } from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { getBodies, startTestRelay, type TestRelay } from '../helpers/relay.js';

const enc = encodeURIComponent;
const READS = ['/api/stats', '/api/stats?repo=o/r&since=24h', '/api/credits', '/api/reviews'];

function capture(): { log: Logger; lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> } {
  const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push({ level, msg, fields });
  return { lines, log: { info: at('info'), warn: at('warn'), error: at('error') } };
}

/** One instant for every relay: the figures' windows end where they ended before the restart. */
const T0 = Date.now();
const now = () => T0;

/** Every figure the index serves. */
const figures = (r: TestRelay, token: string): Promise<unknown[]> => getBodies(r, token, READS);

/** A few lifecycles: one completed, one merged, one in review, one released. */
async function work(r: TestRelay): Promise<string> {
  const maint = await r.token('maintainer');
  const w1 = await r.token('worker', 'w1');
  expect((await r.api(w1, 'POST', '/api/workers/register', { skills: [], capacity: 10, maxConcurrent: 5 })).status).toBe(200);
  const tasks = [1, 2, 3, 4].map((n) => ({ id: `o/r#${n}`, repo: 'o/r', title: `T${n}`, points: n }));
  expect((await r.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks })).status).toBe(200);
  const claim = async (n: number) => {
    const c = await r.api(w1, 'POST', '/api/claim', { taskId: `o/r#${n}` });
    expect(c.body.outcome.status).toBe('granted');
    return c.body.outcome.fencingToken as number;
  };
  const act = async (token: string, n: number, kind: string, body: Record<string, unknown>) => expect((await r.api(token, 'POST', `/api/tasks/${enc(`o/r#${n}`)}/${kind}`, body)).status).toBe(200);
  await act(w1, 1, 'complete', { fencingToken: await claim(1) });
  await act(w1, 2, 'submit', { fencingToken: await claim(2), prUrl: 'https://github.com/o/r/pull/2' });
  await act(maint, 2, 'review', { result: 'merged' });
  await act(w1, 3, 'submit', { fencingToken: await claim(3), prUrl: 'https://github.com/o/r/pull/3' });
  await act(w1, 4, 'release', { fencingToken: await claim(4) });
  return maint;
}

async function scenario(start: (log: Logger) => Promise<TestRelay>, openData: () => Promise<Store>): Promise<void> {
  let r = await start(capture().log);
  try {
    const maint = await work(r);
    const before = await figures(r, maint);
    const stoppedAt = (await r.api(maint, 'GET', '/api/audit/verify')).body.entries as number;
    await r.close();

    // The clean stop wrote the checkpoint; the start restores it and folds nothing more.
    const restored = capture();
    r = await start(restored.log);
    // The index opens once the relay serves (server/stats/lazy.ts); the reads wait for it.
    expect(await figures(r, maint)).toEqual(before);
    expect(restored.lines.filter((l) => l.msg === 'stats index loaded').map((l) => l.fields)).toEqual([expect.objectContaining({ from: 'checkpoint', seq: stoppedAt, folded: 0 })]);
    await r.close();

    // Broken, then missing: the audit log is folded, with a warning for the broken one.
    for (const value of ['{"v":1,"truncated"', undefined]) {
      const store = await openData();
      if (value === undefined) await store.del(STATS_CHECKPOINT_KEY);
      else await store.put(STATS_CHECKPOINT_KEY, value);
      await store.close();
      const c = capture();
      r = await start(c.log);
      expect(await figures(r, maint)).toEqual(before);
      expect(c.lines.filter((l) => l.level === 'warn' && /stats checkpoint not used/.test(l.msg))).toHaveLength(value === undefined ? 0 : 1);
      expect(c.lines.find((l) => l.msg === 'stats index loaded')?.fields).toMatchObject({ from: 'audit' });
      await r.close();
    }
  } finally {
    await r.close().catch(() => undefined);
  }
}

describe('stats after a restart', () => {
  it('on LevelDB: the checkpoint restored, the same figures; none or a broken one: the audit log folded, the same figures', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'owp-stats-restart-'));
    try {
      await scenario(
        (log) => startTestRelay({ dataDir, log, tickMs: 2, now }),
        () => openStore(join(dataDir, 'leveldb')),
      );
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('remembers only live tasks: the checkpoint of a relay that finished tasks holds no memory of them', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'owp-stats-memory-'));
    try {
      const r = await startTestRelay({ dataDir, log: capture().log, tickMs: 2, now });
      try {
        const maint = await work(r);
        // Twenty more lifecycles, and one task cancelled before it was ever claimed.
        const w1 = await r.token('worker', 'w1');
        expect((await r.api(maint, 'PUT', '/api/repos/o/r', { dailyQuota: 1000 })).status).toBe(200);
        const more = Array.from({ length: 20 }, (_, i) => ({ id: `o/r#${10 + i}`, repo: 'o/r', title: `More ${i}` }));
        expect((await r.api(maint, 'POST', '/api/tasks', { tasks: [...more, { id: 'o/r#99', repo: 'o/r', title: 'Dropped' }] })).status).toBe(200);
        expect((await r.api(maint, 'POST', `/api/tasks/${enc('o/r#99')}/cancel`, { reason: 'not needed' })).status).toBe(200);
        for (const t of more) {
          const c = await r.api(w1, 'POST', '/api/claim', { taskId: t.id });
          expect(c.body.error).toBeUndefined();
          expect((await r.api(w1, 'POST', `/api/tasks/${enc(t.id)}/complete`, { fencingToken: c.body.outcome.fencingToken })).status).toBe(200);
        }
      } finally {
        await r.close();
      }
      const store = await openStore(join(dataDir, 'leveldb'));
      try {
        const decoded = decodeCheckpoint(unpackCheckpoint((await store.getBinary(STATS_CHECKPOINT_KEY))!));
        if ('error' in decoded) throw new Error(decoded.error);
        // Live: o/r#3 (in review) and o/r#4 (released, queued again). Done or cancelled: forgotten.
        expect([...decoded.state.memory.keys()].sort()).toEqual(['o/r#3', 'o/r#4']);
        expect(decoded.state.facts.filter((f) => f.kind === 'complete')).toHaveLength(21);
      } finally {
        await store.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  describe('on PostgreSQL', () => {
    let pg: TestPostgres;
    beforeAll(async () => {
      pg = await startPostgres();
    });
    afterAll(async () => {
      await pg?.stop();
    });
    it('the same', async () => {
      const databaseUrl = await pg.database();
      try {
        await scenario(
          (log) => startTestRelay({ databaseUrl, log, tickMs: 2, now }),
          () => openPostgresStore(databaseUrl),
        );
      } finally {
        await pg.drop(databaseUrl);
      }
    });
  });
});
