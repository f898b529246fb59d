/**
 * Micro-benchmark of `schedule()` alone: 10,000 queued tasks, 500 worker profiles, batches of
 * 1, 10 and 100 claim-nexts (and named claims), each on the previous batch's ledger: by
 * plain schedule() (full scan) and by a SchedulerSession as the relay runs it. Prints ms
 * per batch as a table.
 * Run: `node --import tsx bench/schedule-profile.ts [--write]` (--write updates
 * docs/BENCHMARKS.md; add `--cpu-prof` to node for a profile).
 *
 * Invariants: deterministic input (no randomness); only the scheduling call is timed.
 */
import { SchedulerSession, schedule } from '../shared/scheduler/index.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import type { Intent, Ledger, PoolState, Task, WorkerProfile } from '../shared/model.js';

const TASKS = Number(process.env.TASKS ?? 10_000);
const WORKERS = 500;
const SKILLS = ['ts', 'rust', 'go', 'docs', 'css', 'py'];

function build(skillsMode: 'same' | 'rare'): PoolState {
  const tasks: Record<string, Task> = {};
  const t0 = 1_700_000_000_000;
  for (let n = 1; n <= TASKS; n++) {
    const id = `bench/pool${n % 10}#${n}`;
    tasks[id] = {
      id, repo: `bench/pool${n % 10}`, title: `Task ${n}`, body: '', skills: skillsMode === 'same' ? ['ts'] : [SKILLS[n % SKILLS.length]!],
      points: 1, priority: n % 7, tier: 0, labels: [], source: 'api', area: '', createdAt: t0, held: false, cancelled: false,
    } as unknown as Task;
  }
  const repos: PoolState['board']['repos'] = {};
  for (let r = 0; r < 10; r++) repos[`bench/pool${r}`] = { repo: `bench/pool${r}`, reviewBudget: 1000, allowedTiers: [0, 1, 2, 3], leaseTtlMs: 600_000, maxAttempts: 3, cooldownMs: 0, dailyQuota: 10_000, frozenAreas: [] } as never;
  const profiles: Record<string, WorkerProfile> = {};
  for (let i = 0; i < WORKERS; i++) profiles[`bw${i}`] = { id: `bw${i}`, name: `bw${i}`, skills: skillsMode === 'same' ? ['ts'] : ['docs'], capacity: 100, maxConcurrent: 50, available: true };
  const ledger: Ledger = { batch: 0, tasks: {}, workers: {}, outcomes: {} };
  return { board: { tasks, repos, trust: {} }, ledger, profiles };
}

interface Timing {
  mean: number;
  p50: number;
  max: number;
}

function run(state: PoolState, batchSize: number, batches: number, kind: 'claim-next' | 'claim', hinted: boolean): Timing {
  let now = 1_700_000_100_000;
  // First batch: reconcile creates the runtimes (not measured).
  let s: PoolState = { ...state, ledger: schedule(state, [], now).ledger };
  const session = new SchedulerSession(s.ledger);
  session.commit(session.schedule(s, [], now, null));
  let seq = 0;
  let named = 1;
  const times: number[] = [];
  for (let b = 0; b < batches; b++) {
    now += 10;
    const intents: Intent[] = [];
    for (let i = 0; i < batchSize; i++) {
      const workerId = `bw${seq % WORKERS}`;
      seq++;
      if (kind === 'claim-next') intents.push({ kind: 'claim-next', id: `i${seq}`, workerId });
      else {
        const n = named++;
        intents.push({ kind: 'claim', id: `i${seq}`, workerId, taskId: `bench/pool${n % 10}#${n}` });
      }
    }
    if (hinted) {
      const t = performance.now();
      const r = session.schedule(s, intents, now, []);
      times.push(performance.now() - t);
      session.commit(r);
      // As the relay does between batches (not timed): the next working copy, by recycling.
      session.prepare();
      continue;
    }
    const t = performance.now();
    const r = schedule({ ...s, ledger: { ...s.ledger, outcomes: {} } }, intents, now);
    times.push(performance.now() - t);
    s = { ...s, ledger: r.ledger };
  }
  times.sort((a, b) => a - b);
  return { mean: times.reduce((a, b) => a + b, 0) / times.length, p50: times[Math.floor(times.length / 2)]!, max: times[times.length - 1]! };
}

const f2 = (n: number) => n.toFixed(1);
const rows: string[] = [];
const cases: [string, 'same' | 'rare', 'claim-next' | 'claim'][] = [
  ['claim-next, every worker fits every task', 'same', 'claim-next'],
  ['claim-next, a worker fits one task in six', 'rare', 'claim-next'],
  ['named claim', 'same', 'claim'],
];
for (const [label, mode, kind] of cases) {
  for (const n of [1, 10, 100]) {
    const batches = n === 100 ? 10 : 30;
    const full = run(build(mode), n, batches, kind, false);
    const carried = run(build(mode), n, batches, kind, true);
    const row = `| ${label} | ${n} | ${f2(full.p50)} / ${f2(full.max)} | ${f2(carried.p50)} / ${f2(carried.max)} |`;
    console.log(row);
    rows.push(row);
  }
}
const table = [
  '| batch of | claims | schedule() (full scan): p50 / max ms | session (relay path): p50 / max ms |',
  '|---|---:|---:|---:|',
  ...rows,
].join('\n');
console.log('\n' + table);
if (process.argv.includes('--write')) {
  const file = new URL('../docs/BENCHMARKS.md', import.meta.url);
  const text = readFileSync(file, 'utf8');
  const START = '<!-- schedule-profile:start -->';
  const END = '<!-- schedule-profile:end -->';
  const c = cpus();
  const block = `${START}\nMeasured ${new Date().toISOString()} on ${c.length} x ${c[0]?.model ?? 'CPU'}, Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' / ')}.\n\n${table}\n${END}`;
  writeFileSync(file, text.slice(0, text.indexOf(START)) + block + text.slice(text.indexOf(END) + END.length));
  console.log('wrote docs/BENCHMARKS.md');
}
