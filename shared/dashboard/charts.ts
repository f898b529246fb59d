/**
 * Inline SVG charts drawn from a ChartSeries (no library, nothing fetched).
 *
 * Invariants:
 * - Pure DOM building through dom.ts; every number placed in an attribute is finite.
 * - Each chart is an <svg role="img"> with a <title> and a text summary next to it, so a
 *   screen reader gets the gist (total and peak) without reading 60 bars.
 */
import type { Builder } from './dom.js';
import { formatMinute } from './format.js';
import type { ChartSeries } from './series.js';

const W = 600;
const H = 120;
const PAD_L = 30;
const PAD_B = 18;
const PAD_T = 8;

const fin = (n: number): number => (Number.isFinite(n) ? Math.round(n * 100) / 100 : 0);

export function summarise(series: ChartSeries): string {
  const values = series.points.map((p) => p.value);
  const peak = Math.max(0, ...values);
  if (series.key === 'utilisation') {
    const last = values[values.length - 1] ?? 0;
    return `Now ${last} ${series.unit}, peak ${peak} ${series.unit} over the last ${values.length} minutes.`;
  }
  const total = values.reduce((s, v) => s + v, 0);
  return `${total} ${series.unit} in the last ${values.length} minutes, at most ${peak} in one minute.`;
}

export function renderChart(b: Builder, series: ChartSeries): HTMLElement {
  const n = series.points.length;
  const plotW = W - PAD_L - 4;
  const plotH = H - PAD_B - PAD_T;
  const step = n > 0 ? plotW / n : plotW;
  const y = (v: number): number => PAD_T + plotH - (Math.min(v, series.max) / series.max) * plotH;
  const titleId = `owp-chart-${series.key}-title`;

  const svg = b.svg(
    'svg',
    {
      class: `owp-chart-svg owp-chart-${series.key}`,
      viewBox: `0 0 ${W} ${H}`,
      role: 'img',
      'aria-labelledby': titleId,
      preserveAspectRatio: 'none',
      'data-series': series.key,
    },
    b.svg('title', { id: titleId }, `${series.title}: ${summarise(series)}`),
  );
  // Axes and max label.
  svg.appendChild(b.svg('line', { class: 'owp-chart-axis', x1: PAD_L, y1: PAD_T + plotH, x2: W - 4, y2: PAD_T + plotH }));
  svg.appendChild(b.svg('text', { class: 'owp-chart-label', x: PAD_L - 4, y: PAD_T + 8, 'text-anchor': 'end' }, String(series.max)));
  svg.appendChild(b.svg('text', { class: 'owp-chart-label', x: PAD_L - 4, y: PAD_T + plotH, 'text-anchor': 'end' }, '0'));
  if (n > 0) {
    svg.appendChild(b.svg('text', { class: 'owp-chart-label', x: PAD_L, y: H - 4 }, formatMinute(series.points[0].at)));
    svg.appendChild(
      b.svg('text', { class: 'owp-chart-label', x: W - 4, y: H - 4, 'text-anchor': 'end' }, formatMinute(series.points[n - 1].at)),
    );
  }

  if (series.key === 'utilisation') {
    const coords = series.points.map((p, i) => `${fin(PAD_L + i * step + step / 2)},${fin(y(p.value))}`);
    if (coords.length > 0) {
      const base = fin(PAD_T + plotH);
      const firstX = fin(PAD_L + step / 2);
      const lastX = fin(PAD_L + (n - 1) * step + step / 2);
      svg.appendChild(b.svg('polygon', { class: 'owp-chart-area', points: `${firstX},${base} ${coords.join(' ')} ${lastX},${base}` }));
      svg.appendChild(b.svg('polyline', { class: 'owp-chart-line', points: coords.join(' '), fill: 'none' }));
    }
  } else {
    series.points.forEach((p, i) => {
      if (p.value <= 0) return;
      const top = y(p.value);
      svg.appendChild(
        b.svg(
          'rect',
          {
            class: 'owp-chart-bar',
            x: fin(PAD_L + i * step + 0.5),
            y: fin(top),
            width: fin(Math.max(1, step - 1)),
            height: fin(PAD_T + plotH - top),
            'data-at': p.at,
            'data-value': p.value,
          },
          b.svg('title', undefined, `${formatMinute(p.at)}: ${p.value}`),
        ),
      );
    });
  }

  return b.el(
    'figure',
    { class: 'owp-chart', 'data-chart': series.key },
    b.el('figcaption', { class: 'owp-chart-title' }, series.title),
    svg,
    b.el('p', { class: 'owp-chart-summary' }, summarise(series)),
  );
}
