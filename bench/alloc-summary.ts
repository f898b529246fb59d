/**
 * Summarise a V8 sampling heap profile (bench/alloc-monitor.mjs writes one; DevTools'
 * .heapprofile): bytes allocated by function (self) and by file, and the total (inclusive)
 * of the functions named on the command line. `--per=N` divides every figure by N (e.g. the
 * measured cycles) and prints KB per unit. For reading profiles in a terminal; changes nothing.
 *
 * `node --import tsx bench/alloc-summary.ts FILE.heapprofile [--top=40] [--per=N] [fnName ...]`
 */
import { readFileSync } from 'node:fs';

interface Node {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: Node[];
}

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'))!;
const top = Number(args.find((a) => a.startsWith('--top='))?.slice(6) ?? 40);
const per = Number(args.find((a) => a.startsWith('--per='))?.slice(6) ?? 1);
const names = new Set(args.filter((a) => !a.startsWith('--') && a !== file));
const head = (JSON.parse(readFileSync(file, 'utf8')) as { head: Node }).head;

const short = (u: string) => u.replace(/^.*\/(node_modules\/)/, '$1').replace(/^file:\/\/.*?\/(server|shared|bench|dist)\//, '$1/');
const label = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
const fnSelf = new Map<string, number>();
const fileSelf = new Map<string, number>();
const inclusive = new Map<string, number>();
let total = 0;

/** Walk the tree; `open` holds the named functions on the stack (each counted once per allocation). */
function walk(n: Node, open: Set<string>): void {
  total += n.selfSize;
  fnSelf.set(label(n), (fnSelf.get(label(n)) ?? 0) + n.selfSize);
  const f = short(n.callFrame.url) || `(${n.callFrame.functionName})`;
  fileSelf.set(f, (fileSelf.get(f) ?? 0) + n.selfSize);
  const name = n.callFrame.functionName;
  const entered = names.has(name) && !open.has(name);
  if (entered) open.add(name);
  for (const o of open) inclusive.set(o, (inclusive.get(o) ?? 0) + n.selfSize);
  for (const c of n.children) walk(c, open);
  if (entered) open.delete(name);
}
walk(head, new Set());

const kb = (b: number) => (b / per / 1024).toFixed(per === 1 ? 0 : 2).padStart(9);
const pc = (b: number) => ((100 * b) / total).toFixed(1).padStart(5) + '%';
console.log(`allocated ${kb(total)} KB${per === 1 ? '' : ` per unit (of ${per})`}`);
console.log('\nby function (self):');
for (const [k, v] of [...fnSelf].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${kb(v)} KB ${pc(v)}  ${k}`);
console.log('\nby file (self):');
for (const [k, v] of [...fileSelf].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${kb(v)} KB ${pc(v)}  ${k}`);
for (const name of names) console.log(`\ntotal in ${name}: ${kb(inclusive.get(name) ?? 0)} KB ${pc(inclusive.get(name) ?? 0)}`);
