/**
 * Summarise a V8 CPU profile (`node --cpu-prof`, or OWP_BENCH_PROF=dir for the bench's
 * relay): self time by function and by file, and total (inclusive) time of the functions
 * named on the command line. For reading profiles in a terminal; changes nothing.
 *
 * `node --import tsx bench/profile-summary.ts FILE.cpuprofile [--top=40] [--last=S] [fnName ...]`
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'))!;
const top = Number(args.find((a) => a.startsWith('--top='))?.slice(6) ?? 40);
const names = args.filter((a) => !a.startsWith('--') && a !== file);
/** --last=S: only the last S seconds of the profile (e.g. the measured part after seeding). */
const lastS = Number(args.find((a) => a.startsWith('--last='))?.slice(7) ?? Infinity);
const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const selfUs = new Map<number, number>();
const from = p.endTime - lastS * 1e6;
for (let i = 0, t = p.startTime; i < p.samples.length; i++) {
  t += p.timeDeltas[i] ?? 0;
  if (t >= from) selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
}
const short = (u: string) => u.replace(/^.*\/(node_modules\/)/, '$1').replace(/^file:\/\/.*?\/(server|shared|bench)\//, '$1/');
const label = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${short(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
const fnSelf = new Map<string, number>();
const fileSelf = new Map<string, number>();
let total = 0;
for (const [id, us] of selfUs) {
  const n = byId.get(id)!;
  total += us;
  fnSelf.set(label(n), (fnSelf.get(label(n)) ?? 0) + us);
  const f = short(n.callFrame.url) || `(${n.callFrame.functionName})`;
  fileSelf.set(f, (fileSelf.get(f) ?? 0) + us);
}
const ms = (us: number) => (us / 1000).toFixed(0).padStart(7);
const pc = (us: number) => ((100 * us) / total).toFixed(1).padStart(5) + '%';
console.log(`profile ${((p.endTime - p.startTime) / 1e6).toFixed(1)} s, sampled ${(total / 1e6).toFixed(1)} s`);
console.log('\nself time by function:');
for (const [k, v] of [...fnSelf].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(v)} ms ${pc(v)}  ${k}`);
console.log('\nself time by file:');
for (const [k, v] of [...fileSelf].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${ms(v)} ms ${pc(v)}  ${k}`);
for (const name of names) {
  // Inclusive: samples with a frame of this name on their stack (counted once per sample).
  let inc = 0;
  for (const [id, us] of selfUs) {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      if (byId.get(cur)!.callFrame.functionName === name) {
        inc += us;
        break;
      }
    }
  }
  console.log(`\ntotal in ${name}: ${ms(inc)} ms ${pc(inc)}`);
}
