/**
 * The stats index opens on a month of audit as big as a busy pool writes (300,000 lease
 * grants): the relay's start-up fold. It overflowed the call stack (one spread of every fact
 * into an array) after the benchmark's 100,000 task lifecycles, and the relay could not start.
 */
import { describe, expect, it } from 'vitest';
import { auditKey } from '../../server/audit/index.js';
import { StatsIndex } from '../../server/stats/index.js';
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
});
