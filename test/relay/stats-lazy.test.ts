/**
 * The stats index opens after the relay serves (server/stats/lazy.ts): a real relay on
 * LevelDB whose checkpoint read is held back answers /readyz and arbitrates claims while the
 * index is still opening; GET /api/stats made then waits (it cannot answer: the read is held)
 * and, once the read is let go, answers with the batches run meanwhile folded exactly once:
 * the same figures as a relay that folds the whole audit log from scratch.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { STATS_CHECKPOINT_KEY } from '../../server/stats/checkpoint.js';
import { openStore, type Store } from '../../server/store/index.js';
import { getBodies, startTestRelay, type TestRelay } from '../helpers/relay.js';

const enc = encodeURIComponent;
const T0 = Date.now();
const now = () => T0;
const READS = ['/api/stats', '/api/credits', '/api/reviews'];

let relay: TestRelay | undefined;
const dirs: string[] = [];
/** Lets a held checkpoint read go (a failed test must not leave the relay's stop waiting on it). */
let releaseHeld: (() => void) | undefined;
afterEach(async () => {
  releaseHeld?.();
  await relay?.close();
  relay = undefined;
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** The relay's LevelDB, its checkpoint read held until `release()`. */
function heldCheckpoint(dataDir: string): { openStore: () => Promise<Store>; release: () => void; asked: Promise<void> } {
  let release!: () => void;
  let asked!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const askedP = new Promise<void>((r) => (asked = r));
  return {
    release,
    asked: askedP,
    openStore: async () => {
      const inner = await openStore(join(dataDir, 'leveldb'));
      return {
        ...inner,
        getBinary: (key: string) => {
          if (key !== STATS_CHECKPOINT_KEY) return inner.getBinary(key);
          asked();
          return gate.then(() => inner.getBinary(key));
        },
      };
    },
  };
}

async function lifecycle(r: TestRelay, worker: string, n: number, maint: string): Promise<void> {
  const c = await r.api(worker, 'POST', '/api/claim', { taskId: `o/r#${n}` });
  expect(c.body.outcome.status).toBe('granted');
  const fencingToken = c.body.outcome.fencingToken as number;
  if (n % 2 === 0) {
    expect((await r.api(worker, 'POST', `/api/tasks/${enc(`o/r#${n}`)}/submit`, { fencingToken, prUrl: `https://github.com/o/r/pull/${n}` })).status).toBe(200);
    // Merged or closed: no PR stays open (the review budget stays free for the next claim).
    expect((await r.api(maint, 'POST', `/api/tasks/${enc(`o/r#${n}`)}/review`, { result: n % 4 === 0 ? 'merged' : 'closed' })).status).toBe(200);
  } else expect((await r.api(worker, 'POST', `/api/tasks/${enc(`o/r#${n}`)}/complete`, { fencingToken })).status).toBe(200);
}

const figures = (r: TestRelay, token: string): Promise<unknown[]> => getBodies(r, token, READS);

describe('the stats index opens after the relay serves', () => {
  it('a stats request waits for it; batches run meanwhile are folded once', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'owp-stats-lazy-'));
    dirs.push(dataDir);
    relay = await startTestRelay({ dataDir, tickMs: 2, now });
    const maint = await relay.token('maintainer');
    const w1 = await relay.token('worker', 'w1');
    expect((await relay.api(w1, 'POST', '/api/workers/register', { skills: [], capacity: 20, maxConcurrent: 10 })).status).toBe(200);
    const tasks = Array.from({ length: 12 }, (_, i) => ({ id: `o/r#${i + 1}`, repo: 'o/r', title: `T${i + 1}`, points: 1 + (i % 3) }));
    expect((await relay.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks })).status).toBe(200);
    for (let n = 1; n <= 6; n++) await lifecycle(relay, w1, n, maint);
    await relay.close(); // writes the checkpoint

    const held = heldCheckpoint(dataDir);
    releaseHeld = held.release;
    relay = await startTestRelay({ dataDir, tickMs: 2, now, openStore: held.openStore });
    await held.asked;
    expect((await relay.api(undefined, 'GET', '/readyz')).status).toBe(200);
    let answered = false;
    const stats = relay.api(maint, 'GET', '/api/stats').finally(() => (answered = true));
    // The engine does not wait for the index: six more lifecycles while it is held.
    for (let n = 7; n <= 12; n++) await lifecycle(relay, w1, n, maint);
    expect(answered).toBe(false);
    held.release();
    const waited = await stats;
    expect(waited.status).toBe(200);
    const live = await figures(relay, maint);
    expect(live[0]).toEqual(waited.body);
    await relay.close();

    // From scratch (no checkpoint): the whole audit log folded gives the same figures.
    const store = await openStore(join(dataDir, 'leveldb'));
    await store.del(STATS_CHECKPOINT_KEY);
    await store.close();
    relay = await startTestRelay({ dataDir, tickMs: 2, now });
    expect(await figures(relay, maint)).toEqual(live);
  });
});
