/**
 * `owp serve` / `npm start` / the container's entry: run the relay until SIGTERM or SIGINT.
 *
 * Invariants:
 * - Flags win over env: --host/OWP_HOST (127.0.0.1), --port/OWP_PORT (8787),
 *   --data/OWP_DATA (./data); OWP_DATABASE_URL (PostgreSQL instead of LevelDB); OWP_RELAY_ID
 *   and OWP_ELECTION_LEASE_MS (several relays on that database, docs/SCALING.md). OWP_ADMIN_TOKEN, OWP_PUBLIC_DASHBOARD, OWP_NOTIFY_URL and OWP_NOTIFY_SECRET (outgoing webhook), OWP_GITHUB_* (OWP_GITHUB_HOST: see pr-links.ts).
 * - A created admin token is printed once (only its hash is stored).
 * - On SIGTERM/SIGINT: stop accepting, finish the tick in flight, flush, close sockets,
 *   resolve 0. Bad flags or a failed start resolve 2 / 1 with a sentence on stderr; a
 *   start that fails for a reason the operator can fix (port in use or not allowed, data
 *   folder not writable or held by another relay) says which flag or variable to change
 *   (`startFailureMessage`), never just `listen EADDRINUSE`.
 * - The GitHub and dashboard features are loaded only if their modules exist.
 */
import { existsSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { RelayFeature, RelayPort } from './ports.js';
import { consoleLogger, startRelay } from './relay.js';
import { describeDatabaseUrl } from './store/postgres.js';
import { githubHostFrom } from '../shared/scheduler/pr-links.js';

export interface ServeOptions {
  host: string;
  port: number;
  dataDir: string;
  /** OWP_DATABASE_URL: PostgreSQL instead of LevelDB under dataDir. */
  databaseUrl?: string;
  /** OWP_RELAY_ID (with OWP_DATABASE_URL): several relays on one database elect one arbiter. */
  relayId?: string;
  /** OWP_ELECTION_LEASE_MS: the arbiter's lease (default 2500). */
  electionLeaseMs?: number;
  adminToken?: string;
  publicDashboard: boolean;
  github?: { token: string; apiUrl?: string; webhookSecret?: string };
  /** OWP_NOTIFY_URL / OWP_NOTIFY_SECRET: outgoing webhook notifications (off without a URL). */
  notify?: { url: string; secret?: string };
  /** Where submitted pull request links must point (OWP_GITHUB_HOST, else derived from OWP_GITHUB_API_URL). */
  githubHost: string;
}

export function parseServeArgs(argv: string[], env: NodeJS.ProcessEnv): ServeOptions {
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const m = /^--(host|port|data)(?:=(.*))?$/.exec(a);
    if (!m) {
      if (a === 'serve' && i === 0) continue;
      throw new Error(`unknown argument ${a}; use --host HOST, --port PORT, --data DIR`);
    }
    const v = m[2] ?? argv[++i];
    if (v === undefined) throw new Error(`--${m[1]} needs a value`);
    flags[m[1]] = v;
  }
  const portText = flags.port ?? env.OWP_PORT ?? '8787';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`port must be a number 0..65535, got ${portText}`);
  const truthy = (v: string | undefined) => v !== undefined && /^(1|true|yes|on)$/i.test(v);
  const opts: ServeOptions = {
    host: flags.host ?? env.OWP_HOST ?? '127.0.0.1',
    port,
    dataDir: resolve(flags.data ?? env.OWP_DATA ?? './data'),
    databaseUrl: env.OWP_DATABASE_URL || undefined,
    adminToken: env.OWP_ADMIN_TOKEN || undefined,
    publicDashboard: truthy(env.OWP_PUBLIC_DASHBOARD),
    githubHost: githubHostFrom(env),
  };
  if (env.OWP_RELAY_ID) {
    if (!opts.databaseUrl) throw new Error('OWP_RELAY_ID needs OWP_DATABASE_URL: several relays share one PostgreSQL database (docs/SCALING.md)');
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(env.OWP_RELAY_ID)) throw new Error('OWP_RELAY_ID must be 1-64 letters, digits, _ . or -, unique per relay (e.g. relay-1)');
    opts.relayId = env.OWP_RELAY_ID;
  }
  if (env.OWP_ELECTION_LEASE_MS) {
    const ms = Number(env.OWP_ELECTION_LEASE_MS);
    if (!Number.isInteger(ms) || ms < 100 || ms > 60_000) throw new Error(`OWP_ELECTION_LEASE_MS must be a whole number of milliseconds 100..60000, got ${env.OWP_ELECTION_LEASE_MS}`);
    opts.electionLeaseMs = ms;
  }
  if (env.OWP_NOTIFY_URL) {
    if (!/^https?:\/\//.test(env.OWP_NOTIFY_URL)) throw new Error('OWP_NOTIFY_URL must be an http(s) URL, such as a Slack incoming webhook');
    opts.notify = { url: env.OWP_NOTIFY_URL, secret: env.OWP_NOTIFY_SECRET || undefined };
  }
  if (env.OWP_GITHUB_TOKEN) {
    opts.github = { token: env.OWP_GITHUB_TOKEN, apiUrl: env.OWP_GITHUB_API_URL || undefined, webhookSecret: env.OWP_GITHUB_WEBHOOK_SECRET || undefined };
  }
  return opts;
}

type GithubModule = { createGithubFeature(port: RelayPort, opts: { token: string; apiUrl?: string; webhookSecret?: string }): RelayFeature };
type DashboardModule = { createDashboardFeature(port: RelayPort, opts: { publicDashboard: boolean }): RelayFeature };

async function optionalModule<T>(rel: string): Promise<T | undefined> {
  const here = fileURLToPath(new URL('.', import.meta.url));
  if (!existsSync(resolve(here, rel + '.ts')) && !existsSync(resolve(here, rel + '.js'))) return undefined;
  return (await import(`./${rel}.js`)) as T;
}

/** A node or LevelDB error, as far as this file reads it. */
interface StartError {
  name?: string;
  message?: string;
  code?: string;
  syscall?: string;
  path?: string;
  cause?: { message?: string; code?: string };
}

const FOLDER_ERRORS = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EEXIST', 'ENOSPC', 'ENOENT']);

/** Why the relay did not start, as a sentence that says what to change. */
export function startFailureMessage(error: unknown, opts: Pick<ServeOptions, 'host' | 'port' | 'dataDir'>): string {
  const e = (error ?? {}) as StartError;
  const detail = e.message ?? String(error);
  if (e.syscall === 'listen' || e.code === 'EADDRINUSE' || e.code === 'EADDRNOTAVAIL') {
    if (e.code === 'EADDRINUSE') {
      return `Port ${opts.port} on ${opts.host} is already in use: another relay may be running. Stop it, or pick another port with --port or OWP_PORT.`;
    }
    if (e.code === 'EACCES' || e.code === 'EPERM') {
      return `This process may not listen on port ${opts.port} on ${opts.host} (ports below 1024 usually need extra privileges). Pick a port of 1024 or more with --port or OWP_PORT.`;
    }
    if (e.code === 'EADDRNOTAVAIL') {
      return `${opts.host} is not an address of this machine. Listen on 127.0.0.1 (this machine only) or 0.0.0.0 (every interface) with --host or OWP_HOST.`;
    }
  }
  if (e.name === 'StoreError' && (e.code === 'locked' || e.code === 'unavailable')) {
    return `${detail}. Set OWP_DATABASE_URL to a database this relay may use, or unset it to use LevelDB under --data / OWP_DATA.`;
  }
  if (e.code === 'LEVEL_DATABASE_NOT_OPEN' || e.code?.startsWith('LEVEL_')) {
    if (e.cause?.code === 'LEVEL_LOCKED' || e.code === 'LEVEL_LOCKED') {
      return `The data folder ${opts.dataDir} is in use by another relay (its database is locked). Stop that relay, or give this one its own folder with --data or OWP_DATA.`;
    }
    return `The data folder ${opts.dataDir} could not be opened as the relay's database (${e.cause?.message ?? detail}). Check that this user can write it, or pick another folder with --data or OWP_DATA.`;
  }
  const inDataDir = typeof e.path === 'string' && (e.path === opts.dataDir || e.path.startsWith(opts.dataDir + sep));
  if (e.code && FOLDER_ERRORS.has(e.code) && inDataDir) {
    return `The data folder ${opts.dataDir} cannot be created or written (${detail}). Pick a folder this user can write with --data or OWP_DATA.`;
  }
  return `could not start the relay: ${detail}`;
}

export async function runServe(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let opts: ServeOptions;
  try {
    opts = parseServeArgs(argv, env);
  } catch (e) {
    console.error(`owp serve: ${(e as Error).message}`);
    return 2;
  }
  const github = opts.github ? await optionalModule<GithubModule>('github/index') : undefined;
  const dashboard = await optionalModule<DashboardModule>('web/index');
  if (opts.github && !github) console.warn('warn: OWP_GITHUB_TOKEN is set but this build has no GitHub module; GitHub sync is off.');
  let relay: Awaited<ReturnType<typeof startRelay>>;
  try {
    relay = await startRelay({
      dataDir: opts.dataDir,
      databaseUrl: opts.databaseUrl,
      relayId: opts.relayId,
      electionLeaseMs: opts.electionLeaseMs,
      host: opts.host,
      port: opts.port,
      adminToken: opts.adminToken,
      publicDashboard: opts.publicDashboard,
      githubHost: opts.githubHost,
      notify: opts.notify,
      log: consoleLogger,
      features: (port) => {
        const fs: RelayFeature[] = [];
        if (dashboard) fs.push(dashboard.createDashboardFeature(port, { publicDashboard: opts.publicDashboard }));
        if (github && opts.github) fs.push(github.createGithubFeature(port, opts.github));
        return fs;
      },
    });
  } catch (e) {
    console.error(`owp serve: ${startFailureMessage(e, opts)}`);
    return 1;
  }
  // A stray rejected promise (a feature's background job, a client gone mid-answer) is
  // logged, not fatal: the arbiter's own state is only changed after its writes succeed.
  const onRejection = (reason: unknown) => consoleLogger.error('unhandled rejection', { reason: String((reason as Error)?.stack ?? reason) });
  process.on('unhandledRejection', onRejection);
  console.log(`OWP relay listening on ${relay.url} (data in ${opts.databaseUrl ? describeDatabaseUrl(opts.databaseUrl) : opts.dataDir})`);
  if (!dashboard) console.log('Dashboard: not included in this build');
  else if (opts.publicDashboard) console.log(`Dashboard: ${relay.url}/ (public: no token needed)`);
  else {
    console.log(`Dashboard: ${relay.url}/#token=<token>`);
    console.log('  (any token opens it; make a read-only one with: owp token create --role viewer)');
  }
  if (relay.createdAdminToken) {
    console.log('Created an admin token. It is shown only this once; store it now:');
    console.log(`  OWP_ADMIN_TOKEN=${relay.createdAdminToken}`);
  }
  await new Promise<void>((done) => {
    const stop = (sig: string) => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      console.log(`${sig}: shutting down (finishing the current batch, flushing)`);
      done();
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
  try {
    await relay.close();
    process.off('unhandledRejection', onRejection);
  } catch (e) {
    console.error(`owp serve: error while shutting down: ${(e as Error).message}`);
    return 1;
  }
  console.log('relay stopped');
  return 0;
}

// Run directly (the container's CMD): node --import tsx server/main.ts
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const code = await runServe(process.argv.slice(2), process.env);
  process.exit(code);
}
