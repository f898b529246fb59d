/**
 * The side-by-side bench (bench/side.ts) runs end to end at tiny sizes: the bare HTTP
 * server, BullMQ on a redis-server it starts, and the relay as `npm start` starts it (over
 * HTTP and over its intent channel), each
 * completing the cycles it was given without errors. Shape only: no timing is asserted.
 * Also the hand-written SVG chart (bench/svg.ts).
 */
import { describe, expect, it } from 'vitest';
import { Window } from 'happy-dom';
import { runSystem, parseSideArgs, sideTable, type SideRow } from '../../bench/side.js';
import { lineChart, niceMax } from '../../bench/svg.js';
import { agent } from '../../bench/harness.js';

describe('side-by-side bench', () => {
  it('each system completes its budget of take-then-complete cycles without errors', async () => {
    const rows: SideRow[] = [];
    try {
      for (const system of ['bare', 'bullmq', 'owp', 'owp-ws'] as const) {
        const r = await runSystem(system, 3, 40, 12);
        expect(r).toMatchObject({ workers: 3, tasks: 12, errors: 0 });
        expect(r.cyclesPerSec).toBeGreaterThan(0);
        expect(r.p50).toBeLessThanOrEqual(r.p99);
        rows.push({ system, workers: 3, runs: [r], median: r, load: '-' });
      }
    } finally {
      agent.destroy();
    }
    const table = sideTable(rows);
    expect(table.split('\n')).toHaveLength(6);
    // Both OWP rows carry their ratios to the limit and to BullMQ.
    expect(table).toMatch(/\| 3 \| owp \| \d+ \| \d+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|/);
    expect(table).toMatch(/\| 3 \| owp-ws \| \d+ \| \d+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|/);
    expect(table).toMatch(/\| 3 \| bare \| \d+ \| \d+ \| [\d.]+ \| [\d.]+ \|  \|  \|/);
  });

  it('reads its flags, with the issue sizes as defaults', () => {
    expect(parseSideArgs([])).toEqual({ workers: [200, 1000], tasks: 40_000, cycles: 10_000, runs: 3, systems: ['bare', 'bullmq', 'owp', 'owp-ws'] });
    expect(parseSideArgs(['--workers=5', '--runs=1', '--systems=owp'])).toMatchObject({ workers: [5], runs: 1, systems: ['owp'] });
  });
});

describe('svg line chart', () => {
  it('draws one line per series with its points, and escapes labels', () => {
    const svg = lineChart({ title: 'a <b> & c', xLabel: 'workers', xs: [100, 1000, 5000], leftLabel: 'cycles/s', rightLabel: 'p99', series: [
      { name: 'cycles', ys: [10, 20, NaN], axis: 'left', color: '#00f' },
      { name: 'p99', ys: [1, 2, 3], axis: 'right', color: '#f00' },
    ] });
    const win = new Window();
    const doc = new win.DOMParser().parseFromString(svg, 'image/svg+xml');
    const lines = doc.querySelectorAll('polyline');
    expect(lines).toHaveLength(2);
    expect(lines[0]!.getAttribute('points')!.split(' ')).toHaveLength(2); // NaN leaves a gap
    expect(lines[1]!.getAttribute('points')!.split(' ')).toHaveLength(3);
    expect(svg).toContain('a &lt;b&gt; &amp; c');
    expect(niceMax(0)).toBe(1);
    expect(niceMax(730)).toBe(1000);
    expect(niceMax(2100)).toBe(5000);
  });
});
