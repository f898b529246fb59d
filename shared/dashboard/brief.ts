/**
 * A task brief (Markdown as people write it in issues) rendered as DOM, for a small subset:
 * paragraphs, headings, bullet and numbered lists (with task-list boxes), block quotes,
 * fenced code, inline code, bold, italics, and links. Anything else is shown as the text
 * it is: raw HTML stays text, images become links, nothing is fetched.
 *
 * Invariants:
 * - Every piece of the input reaches the DOM through a Text node (dom.ts): there is no
 *   path from the brief to markup, attributes other than `href`, or script.
 * - An `href` is only ever an absolute http(s) URL without whitespace (links get
 *   rel="noopener noreferrer" and open in a new tab); any other link stays text.
 * - Linear time: one pass over the lines, and inline patterns with bounded, non-nested
 *   repeats (at most ~2000 characters looked at from any position, whatever the input);
 *   no recursion, so no depth limit to hit.
 * - Output size is bounded by the input: at most `maxChars` characters are read.
 */
import type { Builder, Child } from './dom.js';

const HTTP_URL = /^https?:\/\/[^\s<>"'`]+$/i;

export function safeHref(u: string | undefined): string | undefined {
  return u && HTTP_URL.test(u) ? u : undefined;
}

/**
 * Inline: `code`, **bold**, __bold__, *em*, _em_ (not inside words), [text](url), ![alt](url)
 * and bare http(s) URLs. Inner text of bold, em and links is plain text (no nesting).
 */
const INLINE =
  /`([^`\n]{1,500})`|\*\*([^*\n]{1,500})\*\*|(?<![A-Za-z0-9_])__([^_\s][^_\n]{0,500})__(?![A-Za-z0-9_])|\*([^*\s][^*\n]{0,500})\*|(?<![A-Za-z0-9_])_([^_\s][^_\n]{0,500})_(?![A-Za-z0-9_])|(!?)\[([^\]\n]{0,500})\]\(([^()\s]{0,2000})\)|(https?:\/\/[^\s<>()"'`]{1,2000})/g;

function link(b: Builder, href: string, text: string): HTMLElement {
  return b.el('a', { href, rel: 'noopener noreferrer', target: '_blank', class: 'owp-brief-link' }, text);
}

export function renderInline(b: Builder, text: string): Child[] {
  const out: Child[] = [];
  let last = 0;
  INLINE.lastIndex = 0;
  for (let m = INLINE.exec(text); m !== null; m = INLINE.exec(text)) {
    if (m.index > last) out.push(text.slice(last, m.index));
    let end = m.index + m[0].length;
    if (m[1] !== undefined) out.push(b.el('code', undefined, m[1]));
    else if (m[2] !== undefined || m[3] !== undefined) out.push(b.el('strong', undefined, m[2] ?? m[3]));
    else if (m[4] !== undefined || m[5] !== undefined) out.push(b.el('em', undefined, m[4] ?? m[5]));
    else if (m[8] !== undefined) {
      const href = safeHref(m[8]);
      const label = m[6] === '!' ? `image: ${m[7] || m[8]}` : m[7] || m[8];
      out.push(href ? link(b, href, label) : m[0]);
    } else if (m[9] !== undefined) {
      // A sentence's full stop or comma after a URL is not part of it.
      const url = m[9].replace(/[.,;:!?]+$/, '');
      end = m.index + url.length;
      out.push(link(b, url, url));
      INLINE.lastIndex = end;
    }
    last = end;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

type Block =
  | { kind: 'p' | 'quote'; lines: string[] }
  | { kind: 'h'; level: number; text: string }
  | { kind: 'ul' | 'ol'; items: string[] }
  | { kind: 'code'; lines: string[] };

const FENCE = /^\s{0,3}(```|~~~)/;
const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const BULLET = /^\s{0,3}[-*+]\s+(.*)$/;
const NUMBERED = /^\s{0,3}\d{1,9}[.)]\s+(.*)$/;
const QUOTE = /^\s{0,3}>\s?(.*)$/;

function parseBlocks(src: string): Block[] {
  const blocks: Block[] = [];
  const lines = src.replace(/\r\n?/g, '\n').split('\n');
  let cur: Block | undefined;
  let fence: string | undefined;
  const flush = (): void => {
    if (cur) blocks.push(cur);
    cur = undefined;
  };
  for (const line of lines) {
    if (fence !== undefined) {
      if (line.trim().startsWith(fence)) {
        fence = undefined;
        flush();
      } else (cur as { lines: string[] }).lines.push(line);
      continue;
    }
    const f = FENCE.exec(line);
    if (f) {
      flush();
      fence = f[1];
      cur = { kind: 'code', lines: [] };
      continue;
    }
    if (line.trim() === '') {
      flush();
      continue;
    }
    const h = HEADING.exec(line);
    const bullet = BULLET.exec(line);
    const num = bullet ? null : NUMBERED.exec(line);
    const quote = QUOTE.exec(line);
    if (h) {
      flush();
      blocks.push({ kind: 'h', level: h[1].length, text: h[2] });
    } else if (bullet || num) {
      const kind = bullet ? 'ul' : 'ol';
      if (cur?.kind !== kind) {
        flush();
        cur = { kind, items: [] };
      }
      (cur as { items: string[] }).items.push((bullet ?? num)![1]);
    } else if (quote) {
      if (cur?.kind !== 'quote') {
        flush();
        cur = { kind: 'quote', lines: [] };
      }
      cur.lines.push(quote[1]);
    } else if ((cur?.kind === 'ul' || cur?.kind === 'ol') && /^\s+\S/.test(line)) {
      // A continuation line of the last list item.
      const items = cur.items;
      items[items.length - 1] += ` ${line.trim()}`;
    } else {
      if (cur?.kind !== 'p') {
        flush();
        cur = { kind: 'p', lines: [] };
      }
      cur.lines.push(line.trim());
    }
  }
  flush();
  return blocks;
}

/** Lines joined with <br> between them, each rendered inline. */
function lines(b: Builder, ls: string[]): Child[] {
  return ls.flatMap((l, i) => (i === 0 ? renderInline(b, l) : [b.el('br'), ...renderInline(b, l)]));
}

function listItem(b: Builder, text: string): HTMLElement {
  const box = /^\[([ xX])\]\s+(.*)$/.exec(text);
  if (!box) return b.el('li', undefined, ...renderInline(b, text));
  const done = box[1] !== ' ';
  return b.el('li', { class: 'owp-brief-check', 'data-checked': done ? 'true' : 'false' }, done ? '☑ ' : '☐ ', ...renderInline(b, box[2]));
}

/** The brief as a `div.owp-brief`; an empty brief says so. */
export function renderBrief(b: Builder, src: string, maxChars = 65_536): HTMLElement {
  const text = src.length > maxChars ? `${src.slice(0, maxChars)}\n\n…` : src;
  const blocks = parseBlocks(text);
  if (blocks.length === 0) return b.el('div', { class: 'owp-brief owp-brief-empty' }, b.el('p', { class: 'owp-empty' }, 'No brief was written for this task.'));
  return b.el(
    'div',
    { class: 'owp-brief' },
    ...blocks.map((bl) => {
      switch (bl.kind) {
        case 'h':
          return b.el(bl.level === 1 ? 'h4' : bl.level === 2 ? 'h5' : 'h6', { class: 'owp-brief-heading' }, ...renderInline(b, bl.text));
        case 'ul':
        case 'ol':
          return b.el(bl.kind, { class: 'owp-brief-list' }, ...bl.items.map((it) => listItem(b, it)));
        case 'quote':
          return b.el('blockquote', undefined, ...lines(b, bl.lines));
        case 'code':
          return b.el('pre', { class: 'owp-brief-code' }, b.el('code', undefined, bl.lines.join('\n')));
        default:
          return b.el('p', undefined, ...lines(b, bl.lines));
      }
    }),
  );
}
