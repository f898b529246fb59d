/**
 * Benchmark harness: start the relay as `npm start` starts it, call its HTTP API with a
 * keep-alive agent, seed the benchmark pool.
 *
 * Invariants: no benchmark logic here (bench/relay.ts: burst, bench/steady.ts: steady state);
 * every relay runs in its own temp data folder the caller removes.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'node:http';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const ADMIN = 'owp_bench_admin_token_0123456789abcdef';
export const TASKS = 10_000;
export const REPOS = 10;

/**
 * The per-token HTTP rate limit of the bench's relays (the default is 50 requests/s, burst
 * 100): a saturating bench worker sends ~100/s, and the admin token creates thousands of
 * tokens. The limiter still runs on every request; it just never says no.
 */
export const BENCH_LIMITS: Record<string, string> = { OWP_LIMITS_REQUESTS_PER_SECOND: '100000', OWP_LIMITS_REQUEST_BURST: '200000' };

export const agent = new Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: Infinity });

/** Setup calls: wait out 429s (the admin token creates hundreds of tokens in a row). */
export async function setup(base: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  for (;;) {
    const r = await call(base, token, method, path, body);
    if (r.status !== 429) return r;
    await new Promise((res) => setTimeout(res, 250));
  }
}

export function call(base: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const u = new URL(path, base);
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers: { authorization: `Bearer ${token}`, ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/**
 * The relay as `npm start` starts it: the `node` command of package.json's `start` script,
 * run directly (no npm in between, so SIGTERM reaches the relay). OWP_BENCH_NODE_FLAGS:
 * extra `node` flags (e.g. `--max-semi-space-size=64`), for experiments; OWP_BENCH_PROF=dir
 * writes a CPU profile of the relay there; output(), once stopped: its last 64 KiB of log. `env` adds variables (OWP_LIMITS_REQUESTS_PER_SECOND, ...: docs/CONFIG.md).
 */
export async function startRelay(dataDir: string, env: Record<string, string> = {}): Promise<{ url: string; pid: number; stop(): Promise<void>; output(): string }> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
  const [cmd, ...startArgs] = pkg.scripts.start.split(/\s+/);
  if (cmd !== 'node') throw new Error(`bench: package.json's start script does not run node: ${pkg.scripts.start}`);
  const nodeFlags = (process.env.OWP_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const prof = process.env.OWP_BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.OWP_BENCH_PROF}`] : [];
  // The relay runs compiled JavaScript; the monitor is TypeScript, so tsx loads it.
  const loopmon = process.env.OWP_BENCH_LOOPMON ? ['--import', 'tsx', '--import', './bench/loop-monitor.ts'] : [];
  // OWP_BENCH_ALLOC=dir: allocation sampling between two SIGUSR2 (bench/alloc-monitor.mjs).
  const alloc = process.env.OWP_BENCH_ALLOC ? ['--import', './bench/alloc-monitor.mjs'] : [];
  const server = await startServer([...nodeFlags, ...prof, ...loopmon, ...alloc, ...startArgs], { OWP_HOST: '127.0.0.1', OWP_PORT: '0', OWP_DATA: dataDir, OWP_ADMIN_TOKEN: ADMIN, ...env });
  let output = '';
  return {
    ...server,
    output: () => output,
    async stop() {
      const out = (output = await server.stop());
      // Lines a preloaded observer printed on exit (bench/loop-monitor.ts, `bench-*:` lines).
      for (const m of out.matchAll(/^.*?((?:loop-monitor|bench-[a-z]+): .*)$/gm)) console.log(`  relay ${m[1]}`);
    },
  };
}

/** A node child process that prints `listening on <url>` when ready; stop() resolves its output. */
export async function startServer(args: string[], env: Record<string, string>): Promise<{ url: string; pid: number; stop(): Promise<string> }> {
  const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  // Keep the start of the output (the listening line) and its last 64 KiB: the relay logs a
  // line per request, which must not pile up in the load generator's memory.
  let head = '';
  let out = '';
  const keep = (d: Buffer) => {
    if (head.length < 16_384) head += String(d);
    out += String(d);
    if (out.length > 131_072) out = out.slice(-65_536);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const exited = new Promise<number | null>((r) => proc.on('exit', (c) => r(c)));
  const url = await new Promise<string>((resolve, reject) => {
    const t = setInterval(() => {
      const m = /listening on (http:\/\/[^\s"]+)/.exec(head);
      if (m) {
        clearInterval(t);
        resolve(m[1]);
      }
    }, 20);
    void exited.then((c) => {
      clearInterval(t);
      reject(new Error(`server exited (${c}): ${head}${out.slice(-4000)}`));
    });
  });
  return {
    url,
    pid: proc.pid!,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
      return out;
    },
  };
}

export function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Claim latency as the client saw it (ms), and the relay's own figures over the same span. */
export interface ClaimFigures {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  batches: number;
  maxBatchMs: number;
  /** Queue-to-answer time inside the relay (no HTTP, no client), p50 / p99 ms. */
  relayP50: number;
  relayP99: number;
  /** Where the relay's batch time went (ms summed over the measured batches). */
  scheduleMs: number;
  persistMs: number;
  applyMs: number;
}

/** `latencies` sorted ascending; `before` / `after` are the engine part of `GET /api/status`. */
export function claimFigures(latencies: number[], before: any, after: any): ClaimFigures {
  return {
    p50: pct(latencies, 50),
    p90: pct(latencies, 90),
    p99: pct(latencies, 99),
    max: latencies[latencies.length - 1] ?? NaN,
    batches: after.batches - before.batches,
    maxBatchMs: after.maxBatchMs,
    relayP50: after.latency.p50,
    relayP99: after.latency.p99,
    scheduleMs: after.scheduleMs - before.scheduleMs,
    persistMs: after.persistMs - before.persistMs,
    applyMs: after.applyMs - before.applyMs,
  };
}

/** 10,000 queued tasks over ten repos (budgets that never bind) and `workers` registered workers. */
export async function seedPool(base: string, workers: number): Promise<{ maint: string; tokens: string[] }> {
  const maint = (await call(base, ADMIN, 'POST', '/api/tokens', { role: 'maintainer' })).body.token as string;
  // Ten repos so review budgets (at most 1000 each) never bind: this measures arbitration.
  for (let r = 0; r < REPOS; r++) await call(base, maint, 'PUT', `/api/repos/bench/pool${r}`, { reviewBudget: 1000, dailyQuota: 10_000 });
  for (let start = 0; start < TASKS; start += 2500) {
    const tasks = Array.from({ length: 2500 }, (_, i) => {
      const n = start + i + 1;
      return { id: `bench/pool${n % REPOS}#${n}`, repo: `bench/pool${n % REPOS}`, title: `Task ${n}`, skills: ['ts'], priority: n % 7 };
    });
    const r = await call(base, maint, 'POST', '/api/tasks', { createRepo: true, tasks });
    if (r.status !== 200) throw new Error(`seeding failed: ${JSON.stringify(r.body)}`);
  }
  const tokens: string[] = [];
  for (let i = 0; i < workers; i++) {
    const t = (await setup(base, ADMIN, 'POST', '/api/tokens', { role: 'worker', workerId: `bw${i}` })).body.token as string;
    const reg = await setup(base, t, 'POST', '/api/workers/register', { skills: ['ts'], capacity: 100, maxConcurrent: 50, maxOpenPrs: 50 });
    if (reg.status !== 200) throw new Error(`register failed: ${JSON.stringify(reg.body)}`);
    tokens.push(t);
  }
  return { maint, tokens };
}

