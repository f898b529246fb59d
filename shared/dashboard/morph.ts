/**
 * Keyed in-place update of a DOM subtree: make `from`'s children look like `to`'s while
 * reusing the nodes that are already there.
 *
 * Invariants:
 * - After `morphChildren(from, to)`, `from` has exactly the structure, attributes and text
 *   of `to` (whatever it held before, including foreign nodes, is patched or removed).
 * - Element children with a key (`data-task-id`, `data-lease-task-id`, `data-worker-id`, `data-repo`,
 *   `data-column`, `data-chart`, or `id`) are matched by key among their siblings, others
 *   in order by tag; a node is reused at most once (a repeated key gets a new node).
 * - Nodes carry no per-node listeners in the dashboard (events are delegated on the root),
 *   so reusing a node can never leave a stale handler behind.
 * - Only DOM methods; no HTML strings.
 */

function keyOf(n: Node): string | undefined {
  if (n.nodeType !== 1) return undefined;
  const e = n as Element;
  for (const attr of ['data-task-id', 'data-lease-task-id', 'data-worker-id', 'data-repo', 'data-column', 'data-chart']) {
    const v = e.getAttribute(attr);
    if (v !== null) return `${e.nodeName}|${attr}|${v}`;
  }
  return e.id ? `${e.nodeName}|id|${e.id}` : undefined;
}

function sameKind(a: Node, b: Node): boolean {
  if (a.nodeType !== b.nodeType) return false;
  if (a.nodeType !== 1) return true;
  return a.nodeName === b.nodeName && (a as Element).namespaceURI === (b as Element).namespaceURI;
}

function morphElement(from: Element, to: Element): void {
  for (const a of Array.from(from.attributes)) if (!to.hasAttribute(a.name)) from.removeAttribute(a.name);
  for (const a of Array.from(to.attributes)) if (from.getAttribute(a.name) !== a.value) from.setAttribute(a.name, a.value);
  morphChildren(from, to);
}

export function morphChildren(from: Node, to: Node): void {
  const oldKids = Array.from(from.childNodes);
  const keyed = new Map<string, Node>();
  const unkeyed: Node[] = [];
  for (const k of oldKids) {
    const key = keyOf(k);
    if (key === undefined) unkeyed.push(k);
    else if (!keyed.has(key)) keyed.set(key, k);
  }
  const used = new Set<Node>();
  const result: Node[] = [];
  let u = 0;
  for (const nk of Array.from(to.childNodes)) {
    const key = keyOf(nk);
    let match: Node | undefined;
    if (key !== undefined) {
      const c = keyed.get(key);
      if (c && !used.has(c) && sameKind(c, nk)) match = c;
    } else {
      const c = unkeyed[u];
      if (c && sameKind(c, nk)) {
        match = c;
        u += 1;
      }
    }
    if (!match) {
      result.push(nk);
      continue;
    }
    used.add(match);
    if (match.nodeType === 1) morphElement(match as Element, nk as Element);
    else if (match.nodeValue !== nk.nodeValue) match.nodeValue = nk.nodeValue;
    result.push(match);
  }
  for (const k of oldKids) if (!used.has(k)) from.removeChild(k);
  let ref: Node | null = from.firstChild;
  for (const n of result) {
    if (n === ref) ref = ref.nextSibling;
    else from.insertBefore(n, ref);
  }
}
