/**
 * WCAG text contrast of elements in a real page: for each selector, the ratio between the
 * first matching element's text colour and the nearest opaque background behind it.
 */
import type { Page } from 'playwright-core';

export async function contrastRatios(page: Page, selectors: readonly string[]): Promise<Record<string, number>> {
  return page.evaluate((sels) => {
    const rgb = (c: string): number[] => (c.match(/[\d.]+/g) ?? []).map(Number);
    const lum = ([r, g, b]: number[]): number => {
      const f = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      return 0.2126 * f(r!) + 0.7152 * f(g!) + 0.0722 * f(b!);
    };
    const background = (el: Element | null): number[] => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length >= 3 && (c.length === 3 || c[3]! > 0.5)) return c.slice(0, 3);
      }
      return [255, 255, 255]; // the canvas
    };
    const out: Record<string, number> = {};
    for (const sel of sels) {
      const el = document.querySelector(sel);
      if (!el) continue;
      const fg = lum(rgb(getComputedStyle(el).color));
      const bg = lum(background(el));
      out[sel] = Math.round(((Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05)) * 100) / 100;
    }
    return out;
  }, selectors);
}
