/**
 * The stats index opens on a month of audit as big as a busy pool writes (300,000 lease
 * grants): the relay's start-up fold. It overflowed the call stack (one spread of every fact
 * into an array) after the benchmark's 100,000 task lifecycles, and the relay could not start.
 * And with more than 4,096 tasks remembered, what fell out of the retention window still
 * leaves (the per-task memory is walked only once something in it can be that old).
 */
import { describe, expect, it } from 'vitest';
import { auditKey } from '../../server/audit/index.js';
import { STATS_RETENTION_MS, StatsIndex } from '../../server/stats/index.js';
import { openMemoryStore } from '../../server/store/index.js';

describe('stats index at scale', () => {
  it('opens on 300,000 audit entries and folds every one', async () => {
    const store = openMemoryStore();
    const now = Date.UTC(2026, 10, 27);
    const n = 300_000;
    for (let start = 0; start < n; start += 10_000) {
      const ops = Array.from({ length: 10_000 }, (_, i) => {
        const seq = start + i + 1;
        const event = { seq, prevHash: '', hash: '', at: now - 1000, kind: 'lease-granted', taskId: `a/b#${seq}`, workerId: 'w1', from: 'queued', to: 'leased' };
        return { type: 'put' as const, key: auditKey(seq), value: event };
      });
      await store.batch(ops);
    }
    const empty = { tasks: {}, repos: {}, trust: {} };
    const index = await StatsIndex.open(store, { board: () => empty as never, ledger: () => ({ tasks: {} }) as never, now: () => now });
    expect(index.since(now - 60_000).filter((f) => f.kind === 'grant')).toHaveLength(n);
  });

  it('forgets tasks past the retention window, also when the walk is skipped in between', async () => {
    let now = Date.UTC(2026, 10, 27);
    const empty = { tasks: {}, repos: {}, trust: {} };
    const index = await StatsIndex.open(openMemoryStore(), { board: () => empty as never, ledger: () => ({ tasks: {} }) as never, now: () => now });
    const pr = (taskId: string) => ({ batch: 1, at: now, kind: 'pr-submitted' as const, taskId, workerId: 'w1', actor: 'w1', from: 'leased' as const, to: 'pr_open' as const });
    const start = now;
    index.ingest(Array.from({ length: 5000 }, (_, i) => pr(`a/b#${i}`)));
    now = start + 1000;
    index.ingest([pr('a/b#late')]);
    expect(index.prOpenedAt('a/b#0')).toBe(start);
    expect(index.prOpenedAt('a/b#late')).toBe(start + 1000);
    now = start + STATS_RETENTION_MS + 500;
    index.ingest([pr('a/b#new')]);
    expect(index.prOpenedAt('a/b#0')).toBeUndefined();
    expect(index.prOpenedAt('a/b#4999')).toBeUndefined();
    expect(index.prOpenedAt('a/b#late')).toBe(start + 1000);
    index.ingest(Array.from({ length: 5000 }, (_, i) => pr(`c/d#${i}`)));
    now = start + STATS_RETENTION_MS + 2000;
    index.ingest([]);
    expect(index.prOpenedAt('a/b#late')).toBeUndefined();
    expect(index.prOpenedAt('a/b#new')).toBe(start + STATS_RETENTION_MS + 500);
  });
});
