/**
 * BullMQ on a local Redis, the queue users would pick instead: a redis-server the bench
 * starts on a free port (append-only file, fsync every second) in a temp folder and stops
 * afterwards; prioritized jobs; each bench worker is a BullMQ Worker fetching jobs by hand
 * (`getNextJob`, then `moveToCompleted`), the same take-then-complete cycle as the others.
 *
 * Invariants: nothing outlives a run (redis stopped, folder removed). REDIS_SERVER overrides
 * the binary (default: redis-server on PATH, Debian's /usr/bin/redis-server).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker, type Job } from 'bullmq';
import type { CycleDriver } from './cycles.js';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export interface RedisHandle {
  port: number;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<RedisHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'owp-bench-redis-'));
  const port = await freePort();
  const proc = spawn(process.env.REDIS_SERVER ?? 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--maxclients', '20000', '--loglevel', 'warning'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => (out += String(d)));
  proc.stderr.on('data', (d) => (out += String(d)));
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  // Ready when it accepts a connection.
  const { Redis } = await import('ioredis');
  for (let i = 0; ; i++) {
    const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await c.connect();
      await c.ping();
      c.disconnect();
      break;
    } catch {
      c.disconnect();
      if (i > 200 || proc.exitCode !== null) throw new Error(`redis-server did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return {
    port,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const QUEUE = 'owp-bench';

/** `tasks` prioritized jobs (seven priorities, ten repos and skills in the data), `workers` manual workers. */
export async function bullmqSystem(port: number, workers: number, tasks: number): Promise<{ driver: CycleDriver; close(): Promise<void> }> {
  const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
  const queue = new Queue(QUEUE, { connection });
  for (let start = 0; start < tasks; start += 2500) {
    const jobs = Array.from({ length: Math.min(2500, tasks - start) }, (_, i) => {
      const n = start + i + 1;
      return { name: 'task', data: { id: `bench/pool${n % 10}#${n}`, skills: [SKILLS[n % SKILLS.length]] }, opts: { priority: 1 + (n % 7), removeOnComplete: true } };
    });
    await queue.addBulk(jobs);
  }
  const ws = Array.from({ length: workers }, () => new Worker(QUEUE, null, { connection, autorun: false }));
  await Promise.all(ws.map((w) => w.waitUntilReady()));
  const driver: CycleDriver = {
    async take(w) {
      const job = await ws[w]!.getNextJob(`w${w}`, { block: false });
      return job ?? undefined;
    },
    async complete(w, taken) {
      await (taken as Job).moveToCompleted('ok', `w${w}`, false);
    },
  };
  return {
    driver,
    async close() {
      await Promise.all(ws.map((w) => w.close()));
      await queue.obliterate({ force: true }).catch(() => undefined);
      await queue.close();
    },
  };
}

export const SKILLS = ['ts', 'py', 'go', 'rust', 'docs'];
