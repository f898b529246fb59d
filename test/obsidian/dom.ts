/**
 * Test double, DOM part: one happy-dom Window for every double, with the helpers Obsidian
 * adds to HTMLElement (createEl, createDiv, createSpan, empty, setText, addClass, ...).
 *
 * Invariant: the helpers behave like Obsidian's (text is set as text, never as HTML).
 */
import { Window } from 'happy-dom';

export interface DomElementInfo {
  cls?: string | string[];
  text?: string;
  attr?: Record<string, string | number | boolean | null>;
  title?: string;
  type?: string;
  value?: string;
  placeholder?: string;
  href?: string;
}

export const happyWindow = new Window({ url: 'app://obsidian.md/index.html' });
export const doc = happyWindow.document as unknown as Document;

type El = Record<string, unknown>;

function applyInfo(el: HTMLElement, o?: DomElementInfo | string): void {
  if (!o) return;
  if (typeof o === 'string') {
    el.className = o;
    return;
  }
  if (o.cls) el.classList.add(...(Array.isArray(o.cls) ? o.cls : o.cls.split(' ')).filter(Boolean));
  if (o.text !== undefined) el.textContent = o.text;
  if (o.title !== undefined) el.title = o.title;
  for (const [k, v] of Object.entries(o.attr ?? {})) if (v !== null && v !== false) el.setAttribute(k, String(v));
  for (const k of ['type', 'value', 'placeholder', 'href'] as const) if (o[k] !== undefined) el.setAttribute(k, o[k]!);
}

function install(): void {
  const proto = (happyWindow as unknown as { HTMLElement: { prototype: El } }).HTMLElement.prototype;
  const nodeProto = (happyWindow as unknown as { Node: { prototype: Record<string, unknown> } }).Node.prototype;
  proto.createEl = function (this: HTMLElement, tag: string, o?: DomElementInfo | string, cb?: (el: HTMLElement) => void) {
    const el = this.ownerDocument.createElement(tag);
    applyInfo(el, o);
    this.appendChild(el);
    cb?.(el);
    return el;
  };
  proto.createDiv = function (this: El, o?: DomElementInfo | string, cb?: (el: HTMLElement) => void) {
    return (this.createEl as (t: string, o?: unknown, cb?: unknown) => HTMLElement)('div', o, cb);
  };
  proto.createSpan = function (this: El, o?: DomElementInfo | string, cb?: (el: HTMLElement) => void) {
    return (this.createEl as (t: string, o?: unknown, cb?: unknown) => HTMLElement)('span', o, cb);
  };
  nodeProto.empty = function (this: Node) {
    while (this.firstChild) this.removeChild(this.firstChild);
  };
  proto.setText = function (this: HTMLElement, t: string) {
    this.textContent = t;
  };
  proto.addClass = function (this: HTMLElement, ...c: string[]) {
    this.classList.add(...c);
  };
  proto.removeClass = function (this: HTMLElement, ...c: string[]) {
    this.classList.remove(...c);
  };
  proto.toggleClass = function (this: HTMLElement, c: string, on: boolean) {
    this.classList.toggle(c, on);
  };
  proto.setAttr = function (this: HTMLElement, k: string, v: string | number | boolean | null) {
    if (v === null) this.removeAttribute(k);
    else this.setAttribute(k, String(v));
  };
}
install();

// Obsidian code calls window.setInterval / window.setTimeout; in Node there is no window.
const g = globalThis as Record<string, unknown>;
if (g.window === undefined) g.window = globalThis;

export function createElement(tag = 'div'): HTMLElement {
  return doc.createElement(tag);
}
