/**
 * The "also measured" benches (bench/extra.ts and its parts) run end to end at tiny sizes
 * against the relay as `npm start` starts it: the plugin's claim path gets every lease it
 * asked for, the vault mirror writes one note per task and exactly one note for one task
 * change (an outcome, not a timing), and the table carries a target and a verdict per row.
 * No timing is asserted.
 */
import { describe, expect, it } from 'vitest';
import { agent } from '../../bench/harness.js';
import { extraTable, med, type ExtraFigures } from '../../bench/extra.js';
import { runClaimPath } from '../../bench/plugin-path.js';
import { runVaultMirror } from '../../bench/vault-mirror.js';

describe('also-measured benches', () => {
  it('the plugin claim path sees every lease it asked for in its ledger copy', async () => {
    try {
      const r = await runClaimPath(3, 10);
      expect(r.claims).toBe(3);
      expect(r.p50).toBeLessThanOrEqual(r.p99);
    } finally {
      agent.destroy();
    }
  });

  it('the vault mirror writes one note per task, and one note for one task change', async () => {
    const r = await runVaultMirror(20);
    expect(r).toMatchObject({ tasks: 20, notes: 20, writesForOneChange: 1 });
  });

  it('the table has a target and a verdict per measure, medians of the runs', () => {
    const fan = { clients: 5, tasks: 1000, rssBeforeMiB: 100, rssWithClientsMiB: 300, connectMs: 1000, changes: 2, fanoutP50: 5, fanoutP99: 50, fanoutMax: 60 };
    const f: ExtraFigures = {
      o: { clients: 5, changes: 2, claims: 3, vaultTasks: 20, lifecycles: 40, wave: 20, runs: 3 },
      fanout: [fan, { ...fan, fanoutP99: 500 }, { ...fan, fanoutP99: 40 }],
      fanoutWire: [{ p50: 10, p99: 30, max: 40 }],
      fanoutSpread: [{ p50: 90, p99: 250, max: 260 }, { p50: 80, p99: 150, max: 160 }, { p50: 70, p99: 120, max: 130 }],
      path: [{ claims: 3, p50: 1, p99: 2, max: 2 }],
      vault: [{ tasks: 20, notes: 20, firstSyncMs: 900, writesForOneChange: 1 }],
      life: { lifecycles: 40, cyclesPerSec: 10, liveTasks: 0, ledgerTasks: 40, docBytesInRetention: { board: 10, ledger: 10 }, docBytes: { board: 2e6, ledger: 0 }, bytesPerLiveTask: 1, coldStartMs: 500, dbBytes: 1 },
      bundleKiB: 300,
      load: { fanout: '1', path: '1', vault: '1', life: '1' },
    };
    const t = extraTable(f);
    expect(t).toMatch(/ledger change to 5 read-only Yjs clients.*\| 5\.0 \/ 50\.0 \/ 60\.0 ms \| p99 50\.0, 500\.0, 40\.0 \| p99 <= 100 ms \| yes \|/);
    expect(t).toMatch(/at the wire: 5 raw sockets.*\| 10\.0 \/ 30\.0 \/ 40\.0 ms \| p99 30\.0 \| p99 <= 100 ms \| yes \|/);
    expect(t).toMatch(/spread over 2 load-generator processes.*\| 80\.0 \/ 150\.0 \/ 160\.0 ms \| p99 250\.0, 150\.0, 120\.0 \| p99 <= 100 ms \| \*\*no\*\* \|/);
    expect(t).toMatch(/relay RSS.*\| 100\.0 \/ 300\.0 MiB .*\| \*\*no\*\* \|/);
    expect(t).toMatch(/beyond the live tasks 1\.9 MiB .*\| \*\*no\*\* \|/);
    expect(t).toMatch(/cold start .*\| 500 ms \| 1 \| <= 1 s \| yes \|/);
    expect(med([3, 1, 2])).toBe(2);
    expect(med([4, 1, 3, 2])).toBe(2);
  });
});
