/**
 * A small SVG line chart for the benchmark's scaling curves (docs/BENCHMARKS.md): a log x
 * axis, two y axes (left: the first series' unit, right: the second's), points joined by
 * lines, a legend. Written by hand to keep the bench free of a charting dependency.
 *
 * Invariants: pure (figures in, SVG text out); every label is escaped.
 */
export interface Series {
  name: string;
  /** One value per x; NaN leaves a gap. */
  ys: number[];
  axis: 'left' | 'right';
  color: string;
}

export interface Chart {
  title: string;
  xLabel: string;
  xs: number[];
  leftLabel: string;
  rightLabel: string;
  series: Series[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (n: number) => (n >= 10_000 ? `${Math.round(n / 1000)}k` : n >= 1000 ? `${(n / 1000).toFixed(1).replace(/\.0$/, '')}k` : String(Math.round(n * 10) / 10));

/** A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten, at least `max`. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

/** The chart's size and margins (px): room for the title above, the axes' labels around. */
const BOX = { width: 640, height: 340, left: 70, right: 70, top: 40, bottom: 60 } as const;

export function lineChart(c: Chart): string {
  const { width: W, height: H, left: L, top: T } = BOX;
  const pw = W - L - BOX.right;
  const ph = H - T - BOX.bottom;
  const lx = c.xs.map((x) => Math.log10(x));
  const x0 = Math.min(...lx);
  const x1 = Math.max(...lx);
  const X = (i: number) => L + (x1 === x0 ? pw / 2 : ((lx[i]! - x0) / (x1 - x0)) * pw);
  const maxOf = (axis: Series['axis']) => niceMax(Math.max(0, ...c.series.filter((s) => s.axis === axis).flatMap((s) => s.ys.filter(Number.isFinite))));
  const top = { left: maxOf('left'), right: maxOf('right') };
  const Y = (v: number, axis: Series['axis']) => T + ph - (v / top[axis]) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${esc(c.title)}</text>`);
  for (let k = 0; k <= 4; k++) {
    const y = T + ph - (k / 4) * ph;
    out.push(`<line x1="${L}" y1="${y}" x2="${L + pw}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${L - 6}" y="${y + 4}" text-anchor="end">${fmt((top.left * k) / 4)}</text>`);
    out.push(`<text x="${L + pw + 6}" y="${y + 4}">${fmt((top.right * k) / 4)}</text>`);
  }
  c.xs.forEach((x, i) => {
    out.push(`<line x1="${X(i)}" y1="${T + ph}" x2="${X(i)}" y2="${T + ph + 5}" stroke="#333"/>`);
    out.push(`<text x="${X(i)}" y="${T + ph + 18}" text-anchor="middle">${fmt(x)}</text>`);
  });
  out.push(`<line x1="${L}" y1="${T + ph}" x2="${L + pw}" y2="${T + ph}" stroke="#333"/>`);
  out.push(`<text x="${L + pw / 2}" y="${H - 22}" text-anchor="middle">${esc(c.xLabel)} (log scale)</text>`);
  out.push(`<text transform="translate(16 ${T + ph / 2}) rotate(-90)" text-anchor="middle">${esc(c.leftLabel)}</text>`);
  out.push(`<text transform="translate(${W - 12} ${T + ph / 2}) rotate(90)" text-anchor="middle">${esc(c.rightLabel)}</text>`);
  c.series.forEach((s, si) => {
    const pts = s.ys.map((v, i) => (Number.isFinite(v) ? `${X(i).toFixed(1)},${Y(v, s.axis).toFixed(1)}` : '')).filter(Boolean);
    const dash = s.axis === 'right' ? ' stroke-dasharray="6 4"' : '';
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${pts.join(' ')}"/>`);
    for (const p of pts) {
      const [px, py] = p.split(',');
      out.push(`<circle cx="${px}" cy="${py}" r="3" fill="${s.color}"/>`);
    }
    const ly = H - 8;
    const lxp = L + si * 220;
    out.push(`<line x1="${lxp}" y1="${ly - 4}" x2="${lxp + 24}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${lxp + 30}" y="${ly}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
