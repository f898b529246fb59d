/**
 * A tiny DOM builder for the dashboard.
 *
 * Invariants:
 * - Builds nodes with createElement/createElementNS only; text always goes through
 *   textContent (or a Text node), so data can never become markup. There is no way to
 *   pass HTML through this module.
 * - Works with any Document (browser, Obsidian, happy-dom): the document is passed in.
 */

export type Attrs = Record<string, string | number | boolean | undefined>;
export type Child = Node | string | number | false | null | undefined;

export const SVG_NS = 'http://www.w3.org/2000/svg';

function setAttrs(el: Element, attrs: Attrs | undefined): void {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(doc: Document, el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    el.appendChild(typeof c === 'string' || typeof c === 'number' ? doc.createTextNode(String(c)) : c);
  }
}

export interface Builder {
  doc: Document;
  el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): HTMLElementTagNameMap[K];
  svg(tag: string, attrs?: Attrs, ...children: Child[]): SVGElement;
}

export function builder(doc: Document): Builder {
  return {
    doc,
    el(tag, attrs, ...children) {
      // prefer-create-el warning kept on purpose: this builder also runs in the web page,
      // which has no Obsidian createEl; it never uses HTML strings.
      const el = doc.createElement(tag);
      setAttrs(el, attrs);
      append(doc, el, children);
      return el;
    },
    svg(tag, attrs, ...children) {
      const el: SVGElement = doc.createElementNS(SVG_NS, tag);
      setAttrs(el, attrs);
      append(doc, el, children);
      return el;
    },
  };
}

/** Remove every child of `root`. */
export function clear(root: Element): void {
  while (root.firstChild) root.removeChild(root.firstChild);
}
