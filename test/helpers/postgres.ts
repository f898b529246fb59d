/**
 * A private PostgreSQL cluster for tests: initdb and pg_ctl (PostgreSQL 15, on PATH or in
 * /usr/lib/postgresql/15/bin) in a temp folder, on a free port, trust auth on 127.0.0.1,
 * fsync off (tests throw the data away). PostgreSQL refuses to run as root: as root the
 * cluster runs as the `postgres` user (Debian's package creates it); the benchmarks start it
 * `durable`. `stop()` shuts it down
 * and removes the folder. `database()` gives each test a fresh, empty database.
 */
import { execFileSync, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const PG_BIN_DIRS = ['/usr/lib/postgresql/15/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/17/bin'];

function pgBin(name: string): string {
  for (const dir of PG_BIN_DIRS) if (existsSync(join(dir, name))) return join(dir, name);
  return name; // on PATH
}

function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function run(cmd: string, args: string[], opts: SpawnSyncOptions): void {
  const r = spawnSync(pgBin(cmd), args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.error?.message}): ${String(r.stderr)}${String(r.stdout)}`);
}

export interface TestPostgres {
  port: number;
  /** postgres://... of a database of that name (not created). */
  url(database?: string): string;
  /** A fresh empty database; returns its URL. */
  database(): Promise<string>;
  drop(url: string): Promise<void>;
  /** Run one statement as the superuser on `database` (a URL from `database()`; default the `postgres` database). */
  query(text: string, values?: unknown[], database?: string): Promise<unknown[]>;
  /** A connection of its own on `database` (a test holds a transaction, and its locks, open with it). */
  session(database: string): Promise<{ query(text: string, values?: unknown[]): Promise<unknown[]>; close(): Promise<void> }>;
  stop(): Promise<void>;
}

let counter = 0;

/** `durable`: fsync, synchronous commit and full-page writes on, as a production server (the benchmarks); tests leave them off. */
export async function startPostgres(options: { durable?: boolean } = {}): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'owp-pg-'));
  const data = join(dir, 'data');
  const owner = runAs();
  if (owner) {
    chownSync(dir, owner.uid, owner.gid);
    chmodSync(dir, 0o700);
  }
  const opts: SpawnSyncOptions = { ...(owner ?? {}), cwd: dir, env: { ...process.env, LC_ALL: 'C' } };
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'], opts);
  const port = await freePort();
  const durability = options.durable ? '' : ' -c fsync=off -c synchronous_commit=off -c full_page_writes=off';
  const settings = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1${durability} -c max_connections=200`;
  run('pg_ctl', ['-D', data, '-o', settings, '-l', join(dir, 'log'), '-w', '-t', '120', 'start'], opts);
  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>, on = url()): Promise<T> => {
    const c = new pg.Client({ connectionString: on });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  return {
    port,
    url,
    async database() {
      const name = `t${process.pid}_${++counter}`;
      await admin((c) => c.query(`CREATE DATABASE ${name}`));
      return url(name);
    },
    async drop(dbUrl) {
      const name = new URL(dbUrl).pathname.slice(1);
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
    async query(text, values, database) {
      return admin(async (c) => (await c.query(text, values)).rows as unknown[], database);
    },
    async session(database) {
      const c = new pg.Client({ connectionString: database });
      await c.connect();
      return { query: async (text, values) => (await c.query(text, values)).rows as unknown[], close: () => c.end() };
    },
    async stop() {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'], opts);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
