/**
 * Micro-benchmark of `schedule()` alone: 10,000 queued tasks, 500 worker profiles, batches of
 * 1, 10 and 100 claim-nexts (and the same with named claims). Prints ms per batch.
 * Run: `node --import tsx bench/schedule-profile.ts` (add `--cpu-prof` to node for a profile).
 */
import { schedule } from '../shared/scheduler/index.js';
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

function run(label: string, state: PoolState, batchSize: number, batches: number, kind: 'claim-next' | 'claim'): void {
  let now = 1_700_000_100_000;
  let s = state;
  // warm-up batch: reconcile creates the runtimes
  s = { ...s, ledger: schedule(s, [], now).ledger };
  let seq = 0;
  let named = 1;
  const times: number[] = [];
  for (let b = 0; b < batches; b++) {
    now += 10;
    const intents: Intent[] = [];
    for (let i = 0; i < batchSize; i++) {
      const workerId = `bw${(seq) % WORKERS}`;
      seq++;
      if (kind === 'claim-next') intents.push({ kind: 'claim-next', id: `i${seq}`, workerId } as Intent);
      else { const n = named++; intents.push({ kind: 'claim', id: `i${seq}`, workerId, taskId: `bench/pool${n % 10}#${n}` } as Intent); }
    }
    const t = performance.now();
    const r = schedule({ ...s, ledger: { ...s.ledger, outcomes: {} } }, intents, now, hints);
    times.push(performance.now() - t);
    s = { ...s, ledger: r.ledger };
  }
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  console.log(`${label.padEnd(28)} batch ${String(batchSize).padStart(3)}: mean ${mean.toFixed(2)} ms  p50 ${times[Math.floor(times.length / 2)]!.toFixed(2)}  max ${times[times.length - 1]!.toFixed(2)}`);
}
const hints = process.env.NO_HINTS ? undefined : { changedTasks: [] as string[] };

if (process.env.ONLY) { run(`claim-next ${process.env.ONLY} (only)`, build(process.env.ONLY === "rare" ? "rare" : "same"), Number(process.env.BATCH ?? 1), 100, "claim-next"); process.exit(0); }
for (const mode of ["same", "rare"] as const) {
  for (const n of [1, 10, 100]) run(`claim-next skills=${mode}`, build(mode), n, n === 100 ? 10 : 30, 'claim-next');
}
for (const n of [1, 10, 100]) run('claim (named)', build('same'), n, n === 100 ? 10 : 30, 'claim');
