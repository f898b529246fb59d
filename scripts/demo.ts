/**
 * `npm run demo`: a relay on a temporary data folder with two sample repos, a few dozen
 * tasks and a handful of simulated workers plus a simulated maintainer, so the dashboard's
 * board, budgets and charts move. Prints the dashboard URL (with a viewer token).
 *
 *   node --import tsx scripts/demo.ts [--port 8788] [--workers 4] [--duration 60s] [--seed 1]
 *
 * Invariants:
 * - Everything goes through the real relay and its HTTP API with real tokens (workers use
 *   worker tokens, the maintainer a maintainer token); nothing pokes the ledger directly.
 * - Deterministic choices: the simulation draws from a seeded PRNG (timing still varies).
 * - SIGINT/SIGTERM or the end of --duration: workers stop, the relay closes, the temporary
 *   folder is removed, exit code 0. A second signal exits at once (code 130).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRelay } from '../server/relay.js';
import { createDashboardFeature } from '../server/web/index.js';
import { demoTasks, isBlocked, DEMO_REPOS, DEMO_WORKERS } from './demo-data.js';
import { mulberry32 as prng } from './prng.js';

interface Options {
  port: number;
  host: string;
  workers: number;
  durationMs?: number;
  seed: number;
  ttlMs: number;
}

export function parseDuration(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000));
}

function parseArgs(argv: string[]): Options {
  const o: Options = { port: 8788, host: '127.0.0.1', workers: 4, seed: 1, ttlMs: 20_000 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) fail(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--port': {
        const p = Number(value());
        if (!Number.isInteger(p) || p < 0 || p > 65535) fail('--port must be a whole number from 0 to 65535 (0 = any free port)');
        o.port = p;
        break;
      }
      case '--host':
        o.host = value();
        break;
      case '--workers': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1 || n > DEMO_WORKERS.length) fail(`--workers must be a whole number from 1 to ${DEMO_WORKERS.length}`);
        o.workers = n;
        break;
      }
      case '--duration': {
        const d = parseDuration(value());
        if (d === undefined || d <= 0) fail('--duration must look like 60s, 2m, 1h or 500ms');
        o.durationMs = d;
        break;
      }
      case '--ttl': {
        const d = parseDuration(value());
        if (d === undefined || d < 1000) fail('--ttl must be at least 1s, e.g. 20s');
        o.ttlMs = d;
        break;
      }
      case '--seed':
        o.seed = Number(value()) | 0;
        break;
      case '--help':
      case '-h':
        process.stdout.write('Usage: npm run demo -- [--port 8788] [--workers 4] [--duration 60s] [--ttl 20s] [--seed 1]\n');
        process.exit(0);
        break;
      default:
        fail(`unknown option ${flag} (try --help)`);
    }
  }
  return o;
}

function fail(msg: string): never {
  process.stderr.write(`demo: ${msg}\n`);
  process.exit(2);
}

const stop = new AbortController();
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (stop.signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      stop.signal.removeEventListener('abort', done);
      resolve();
    }
    stop.signal.addEventListener('abort', done, { once: true });
  });
}

interface Answer {
  status: number;
  body: any;
}

function api(base: string, token: string) {
  return async (method: string, path: string, body?: unknown): Promise<Answer> => {
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(base + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      const parsed = text ? JSON.parse(text) : {};
      if (res.status === 429 && attempt < 5 && !stop.signal.aborted) {
        await sleep(Math.max(1, Number(res.headers.get('retry-after')) || 1) * 1000);
        continue;
      }
      return { status: res.status, body: parsed };
    }
  };
}

type Api = ReturnType<typeof api>;

function must(a: Answer, what: string): any {
  if (a.status >= 300) throw new Error(`${what}: HTTP ${a.status} ${JSON.stringify(a.body)}`);
  return a.body;
}

const enc = encodeURIComponent;

async function workerLoop(call: Api, id: string, rand: () => number, ttlMs: number, log: (s: string) => void): Promise<void> {
  let prNumber = 100 + Math.floor(rand() * 100);
  await sleep(rand() * 1500);
  while (!stop.signal.aborted) {
    let r: Answer;
    try {
      r = await call('POST', '/api/claim', {});
    } catch {
      await sleep(1000);
      continue;
    }
    if (r.status !== 200 || !r.body?.lease) {
      await sleep(3000 + rand() * 3000);
      continue;
    }
    const taskId: string = r.body.lease.taskId;
    const fencingToken: number = r.body.lease.fencingToken;
    log(`${id} claimed ${taskId}`);
    const fate = rand();
    if (fate < 0.12) {
      // Walk away: the lease lapses after its TTL and the sweeper requeues the task.
      log(`${id} lets ${taskId} lapse`);
      await sleep(1000 + rand() * 2000);
      continue;
    }
    const workMs = 3000 + rand() * 9000;
    const started = Date.now();
    while (!stop.signal.aborted && Date.now() - started < workMs) {
      await sleep(Math.min(ttlMs / 4, workMs));
      if (stop.signal.aborted) break;
      await call('POST', `/api/tasks/${enc(taskId)}/heartbeat`, { fencingToken }).catch(() => undefined);
    }
    if (stop.signal.aborted) break;
    if (fate < 0.2) {
      await call('POST', `/api/tasks/${enc(taskId)}/release`, { fencingToken }).catch(() => undefined);
      log(`${id} released ${taskId}`);
    } else if (fate < 0.27) {
      await call('POST', `/api/tasks/${enc(taskId)}/fail`, { fencingToken, reason: 'tests did not pass locally' }).catch(() => undefined);
      log(`${id} failed ${taskId}`);
    } else {
      const repo = taskId.split('#')[0]!;
      const prUrl = `https://github.com/${repo}/pull/${prNumber++}`;
      await call('POST', `/api/tasks/${enc(taskId)}/submit`, { fencingToken, prUrl }).catch(() => undefined);
      log(`${id} opened ${prUrl}`);
    }
    await sleep(500 + rand() * 1500);
  }
}

async function maintainerLoop(call: Api, rand: () => number, log: (s: string) => void): Promise<void> {
  let next = 1000;
  while (!stop.signal.aborted) {
    await sleep(2000 + rand() * 3000);
    if (stop.signal.aborted) break;
    try {
      const open = must(await call('GET', '/api/tasks?state=pr_open'), 'list PRs').tasks as { task: { id: string } }[];
      for (const { task } of open) {
        const p = rand();
        if (p < 0.55) {
          await call('POST', `/api/tasks/${enc(task.id)}/review`, { result: 'merged' });
          log(`maintainer merged ${task.id}`);
        } else if (p < 0.65) {
          await call('POST', `/api/tasks/${enc(task.id)}/review`, { result: 'closed' });
          log(`maintainer closed the PR of ${task.id}`);
        }
      }
      // Keep the queue from running dry in long demos.
      // Count only tasks someone can take (no worker knows rust; src/billing/ is frozen).
      const queued = must(await call('GET', '/api/tasks?state=queued'), 'list queue').tasks as { task: { skills: string[]; area: string } }[];
      const takeable = queued.filter(({ task }) => !isBlocked(task));
      if (takeable.length < 6) {
        const more = demoTasks(rand, Date.now(), 8, next);
        next += 8;
        must(await call('POST', '/api/tasks', { createRepo: true, tasks: more }), 'add tasks');
        log(`maintainer added ${more.length} tasks`);
      }
    } catch (e) {
      if (!stop.signal.aborted) log(`maintainer: ${(e as Error).message}`);
    }
  }
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  const verbose = process.env.OWP_DEMO_VERBOSE === '1';
  const log = (s: string): void => {
    if (verbose) process.stdout.write(`  ${s}\n`);
  };
  const dataDir = await mkdtemp(join(tmpdir(), 'owp-demo-'));
  const adminToken = `owp_${randomBytes(32).toString('base64url')}`;
  const quiet = { info() {}, warn() {}, error: (m: string, f?: Record<string, unknown>) => process.stderr.write(`relay: ${m} ${f ? JSON.stringify(f) : ''}\n`) };
  let relay: Awaited<ReturnType<typeof startRelay>> | undefined;
  let shuttingDown: Promise<void> | undefined;

  // One shutdown, whoever asks first (signal or --duration); later callers await the same.
  const shutdown = (why: string): Promise<void> =>
    (shuttingDown ??= (async () => {
      process.stdout.write(`\nStopping the demo (${why})…\n`);
      stop.abort();
      await Promise.allSettled(loops);
      await relay?.close().catch((e) => process.stderr.write(`demo: relay close: ${(e as Error).message}\n`));
      await rm(dataDir, { recursive: true, force: true });
      process.stdout.write('Demo stopped; temporary data removed.\n');
    })());
  const loops: Promise<void>[] = [];
  let signals = 0;
  const onSignal = (sig: string) => () => {
    signals += 1;
    if (signals > 1) process.exit(130);
    void shutdown(sig).then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal('SIGINT'));
  process.on('SIGTERM', onSignal('SIGTERM'));

  try {
    relay = await startRelay({
      dataDir,
      host: o.host,
      port: o.port,
      adminToken,
      log: quiet,
      features: (port) => [createDashboardFeature(port, { publicDashboard: false })],
    });
  } catch (e) {
    await rm(dataDir, { recursive: true, force: true });
    process.stderr.write(`demo: could not start the relay on ${o.host}:${o.port}: ${(e as Error).message}. Try --port 0 for any free port.\n`);
    return 1;
  }
  const base = relay.url.replace(/\/+$/, '');
  const rand = prng(o.seed);

  const maintainer = await relay.tokens.create({ role: 'maintainer', name: 'demo maintainer' });
  const viewer = await relay.tokens.create({ role: 'viewer', name: 'demo viewer' });
  const m = api(base, maintainer.token);
  for (const repo of DEMO_REPOS) {
    const [owner, name] = repo.repo.split('/');
    must(await m('PUT', `/api/repos/${owner}/${name}`, { ...repo, leaseTtlMs: o.ttlMs }), `create ${repo.repo}`);
  }
  must(await m('POST', '/api/tasks', { createRepo: true, tasks: demoTasks(rand, Date.now(), 36, 1) }), 'add tasks');

  const workers = DEMO_WORKERS.slice(0, o.workers);
  for (const w of workers) {
    must(await m('PUT', `/api/trust/${w.id}`, { tier: w.trust }), `trust ${w.id}`);
    const t = await relay.tokens.create({ role: 'worker', workerId: w.id, name: w.name });
    const call = api(base, t.token);
    must(await call('POST', '/api/workers/register', { name: w.name, skills: w.skills, capacity: w.capacity, maxConcurrent: w.maxConcurrent }), `register ${w.id}`);
    loops.push(workerLoop(call, w.id, prng(o.seed * 1000 + w.id.length * 17 + w.capacity), o.ttlMs, log));
  }
  loops.push(maintainerLoop(m, prng(o.seed + 7), log));

  process.stdout.write(
    [
      `OWP Pool demo relay listening on ${base}`,
      `Dashboard: ${base}/#token=${viewer.token}`,
      `Admin token (for the owp CLI): ${adminToken}`,
      `${workers.length} simulated workers, lease TTL ${Math.round(o.ttlMs / 1000)} s, data in ${dataDir}`,
      o.durationMs ? `Stopping by itself after ${Math.round(o.durationMs / 1000)} s; Ctrl-C stops it sooner.` : 'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );

  if (o.durationMs) {
    await sleep(o.durationMs);
    await shutdown('duration reached');
    return 0;
  }
  await new Promise<void>(() => undefined); // run until a signal
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`demo: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  },
);
