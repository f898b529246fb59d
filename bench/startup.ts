/**
 * Start-up figures of the compiled build (issue 14: `/healthz` within 0.5 s of start,
 * `owp --help` within 0.15 s), with the TypeScript sources through tsx for comparison:
 *
 * - `owp --help`: spawn to exit, `node bin/owp.js --help` (compiled) and
 *   `node --import tsx server/cli/main.ts --help`-equivalent (sources);
 * - relay start: spawn of `npm start`'s command to the first 200 from /healthz, on a fresh
 *   data folder and on one with data;
 * - restart: SIGTERM to a running relay, until a new one on the same data answers /healthz.
 *
 * `node --import tsx bench/startup.ts [--runs N]` (default 7); prints the minimum and the
 * median of each (the minimum is what the machine can do; the median what it did under the
 * load of the moment). Never part of `npm test`: tests do not depend on timing.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 7;
const ADMIN = 'owp_bench_startup_admin_token_0123456789';

function exitTime(args: string[]): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${args.join(' ')} exited ${code}`))));
  });
}

interface Relay {
  stop(): Promise<void>;
  pid: number;
  /** ms from spawn to the first 200 of /healthz */
  readyMs: number;
}

/** Start the relay (`args` after `node`) and poll /healthz as soon as it says where it listens. */
async function startRelay(args: string[], dataDir: string): Promise<Relay> {
  const t0 = performance.now();
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, OWP_HOST: '127.0.0.1', OWP_PORT: '0', OWP_DATA: dataDir, OWP_ADMIN_TOKEN: ADMIN, OWP_LOG_LEVEL: 'info', OWP_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += String(d);
      const m = /listening on (http:\/\/[^\s"]+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    void exited.then(() => reject(new Error(`relay exited before listening:\n${out}`)));
  });
  for (;;) {
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
  }
  const readyMs = performance.now() - t0;
  return {
    pid: proc.pid!,
    readyMs,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor(s.length / 2)]! };
};
const fmt = (xs: number[]) => {
  const { min, median } = stats(xs);
  return `min ${(min / 1000).toFixed(3)} s, median ${(median / 1000).toFixed(3)} s`;
};

async function measureHelp(label: string, args: string[]): Promise<void> {
  const xs: number[] = [];
  await exitTime(args); // warm the file cache
  for (let i = 0; i < RUNS; i++) xs.push(await exitTime(args));
  console.log(`  ${label.padEnd(44)} ${fmt(xs)}`);
}

async function measureRelay(label: string, args: string[]): Promise<void> {
  const fresh: number[] = [];
  const withData: number[] = [];
  const restart: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const dir = await mkdtemp(join(tmpdir(), 'owp-startup-'));
    try {
      const a = await startRelay(args, dir);
      fresh.push(a.readyMs);
      // Restart: from SIGTERM to the next relay's /healthz on the same data.
      const t0 = performance.now();
      await a.stop();
      const b = await startRelay(args, dir);
      restart.push(performance.now() - t0);
      withData.push(b.readyMs);
      await b.stop();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  console.log(`  ${`${label}: start to /healthz (new data)`.padEnd(44)} ${fmt(fresh)}`);
  console.log(`  ${`${label}: start to /healthz (with data)`.padEnd(44)} ${fmt(withData)}`);
  console.log(`  ${`${label}: SIGTERM to next /healthz`.padEnd(44)} ${fmt(restart)}`);
}

const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
const startArgs = pkg.scripts.start.split(/\s+/).slice(1);
console.log(`Start-up, Node ${process.version}, ${RUNS} runs each (npm start = ${pkg.scripts.start}):`);
await measureHelp('owp --help (compiled: bin/owp.js)', ['bin/owp.js', '--help']);
await measureHelp('owp --help (sources through tsx)', ['--import', 'tsx', '-e', "const { main } = await import('./server/cli/main.ts'); await main(['--help']);", '--input-type=module']);
await measureRelay('relay (compiled)', startArgs);
await measureRelay('relay (sources through tsx)', ['--import', 'tsx', 'server/main.ts']);
process.exit(0);
