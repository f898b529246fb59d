/**
 * `owp serve` / `npm start` / the container's entry: run the relay until SIGTERM or SIGINT.
 *
 * Invariants:
 * - Settings come from server/config (docs/CONFIG.md): flags win over OWP_* variables, which
 *   win over owp.config.yaml, which wins over the defaults. A bad setting exits 2 with one
 *   line per problem (`owp serve: <code>: <sentence>`) before anything is opened.
 * - A created admin token is printed once (only its hash is stored).
 * - On SIGTERM/SIGINT: stop accepting, finish the tick in flight, flush, close sockets,
 *   resolve 0. Bad flags or a failed start resolve 2 / 1 with a sentence on stderr; a
 *   start that fails for a reason the operator can fix (port in use or not allowed, data
 *   folder not writable or held by another relay) says which flag or variable to change
 *   (`startFailureMessage`), never just `listen EADDRINUSE`.
 * - The GitHub module is loaded only when a GitHub token is configured.
 */
import { resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RelayFeature, RelayPort } from './ports.js';
import { createLogger, type LogFormat, type RelayLogger } from './log/index.js';
import type { LevelWithSilent } from 'pino';
import { startRelay } from './relay.js';
import type { Durability } from './store/port.js';
import { githubHostFrom } from '../shared/scheduler/pr-links.js';
import { githubAuthFrom, type GithubAuth } from './github/app-config.js';
import { ConfigError, FIELDS, FIELD_KEYS, loadConfig, relayTuning, type FieldKey, type LoadedConfig } from './config/index.js';

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
  /** OWP_DURABILITY: fsync (default) or os. */
  durability: Durability;
  adminToken?: string;
  publicDashboard: boolean;
  github?: GithubAuth & { apiUrl?: string; webhookSecret?: string };
  /** OWP_NOTIFY_URL / OWP_NOTIFY_SECRET: outgoing webhook notifications (off without a URL). */
  notify?: { url: string; secret?: string };
  /** Where submitted pull request links must point (OWP_GITHUB_HOST, else derived from OWP_GITHUB_API_URL). */
  githubHost: string;
  /** Limits and timings (docs/CONFIG.md). */
  tuning: ReturnType<typeof relayTuning>;
  /** OWP_LOG_LEVEL (info) and OWP_LOG_FORMAT (auto: readable on a terminal, JSON otherwise). */
  log: { level: LevelWithSilent; format: LogFormat };
  /** GET /metrics without a token (OWP_METRICS_PUBLIC), and a token that may read it (OWP_METRICS_TOKEN). */
  metrics: { public: boolean; token?: string };
  /** OWP_TRUST_PROXY (docs/DEPLOY.md). */
  trustProxy?: string;
  /** Everything, with where each value came from. */
  config: LoadedConfig;
  /** --reset-admin: once listening, revoke every admin token and print a new one. */
  resetAdmin: boolean;
}

/** `--name value` / `--name=value` flags of `owp serve` (the CLI passes its parsed flags on in this form). */
const SERVE_FLAGS = ['host', 'port', 'data', 'config'];
/** Flags without a value. */
const SERVE_SWITCHES = ['reset-admin'];

export function parseServeFlags(argv: string[]): Record<string, string> {
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (m && SERVE_SWITCHES.includes(m[1]) && m[2] === undefined) {
      flags[m[1]] = 'true';
      continue;
    }
    if (!m || !SERVE_FLAGS.includes(m[1])) {
      if (a === 'serve' && i === 0) continue;
      throw new Error(`unknown argument ${JSON.stringify(a.slice(0, 40))}; use --host HOST, --port PORT, --data DIR, --config FILE, --reset-admin`);
    }
    const v = m[2] ?? argv[++i];
    if (v === undefined) throw new Error(`--${m[1]} needs a value`);
    flags[m[1]] = v;
  }
  return flags;
}

/** Flags, environment and owp.config.yaml as the relay's options; throws ConfigError or Error with sentences. */
export function parseServeArgs(argv: string[], env: NodeJS.ProcessEnv, cwd = process.cwd()): ServeOptions {
  const flags = parseServeFlags(argv);
  const config = loadConfig({ flags, env, cwd });
  const c = config.values;
  // The variable would make its token an admin again at once: the reset would not be one.
  if (flags['reset-admin'] && c.adminToken !== undefined) {
    throw new Error(`--reset-admin revokes every admin token, but ${config.sources.adminToken.name} names one that would stay an admin; unset it (or give it a new value instead of resetting)`);
  }
  const opts: ServeOptions = {
    host: c.host,
    port: c.port,
    dataDir: resolve(cwd, c.data),
    databaseUrl: c.databaseUrl,
    durability: c.durability,
    adminToken: c.adminToken,
    publicDashboard: c.publicDashboard,
    githubHost: githubHostFrom({ OWP_GITHUB_HOST: c['github.host'], OWP_GITHUB_API_URL: c['github.apiUrl'] }),
    tuning: relayTuning(c),
    log: { level: c['log.level'], format: c['log.format'] },
    metrics: { public: c['metrics.public'], token: c['metrics.token'] },
    trustProxy: c.trustProxy,
    config,
    resetAdmin: flags['reset-admin'] === 'true',
  };
  if (c.relayId !== undefined) {
    if (!opts.databaseUrl) throw new Error('relayId (OWP_RELAY_ID) needs databaseUrl (OWP_DATABASE_URL): several relays share one PostgreSQL database (docs/SCALING.md)');
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(c.relayId)) throw new Error('relayId (OWP_RELAY_ID) must be 1-64 letters, digits, _ . or -, unique per relay (e.g. relay-1)');
    opts.relayId = c.relayId;
    opts.electionLeaseMs = c['election.lease'];
  }
  if (c['notify.url']) opts.notify = { url: c['notify.url'], secret: c['notify.secret'] };
  const auth = githubAuthFrom({ token: c['github.token'], appId: c['github.app.id'], privateKey: c['github.app.privateKey'], installationId: c['github.app.installationId'] });
  if (auth) opts.github = { ...auth, apiUrl: c['github.apiUrl'], webhookSecret: c['github.webhookSecret'] };
  return opts;
}

type GithubModule = { createGithubFeature(port: RelayPort, opts: GithubAuth & { apiUrl?: string; webhookSecret?: string }): RelayFeature };
type DashboardModule = { createDashboardFeature(port: RelayPort, opts: { publicDashboard: boolean }): RelayFeature };

/** Feature modules, loaded only when used (literal imports, so the compiled build bundles them). */
const FEATURE_MODULES = {
  'github/index': () => import('./github/index.js'),
  'web/index': () => import('./web/index.js'),
};

async function optionalModule<T>(rel: keyof typeof FEATURE_MODULES): Promise<T | undefined> {
  return (await FEATURE_MODULES[rel]()) as T;
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

/** The relay's logger, told every configured secret so no line can carry one. */
function serveLogger(opts: ServeOptions): RelayLogger {
  const log = createLogger({ level: opts.log.level, format: opts.log.format });
  const values = opts.config.values as Record<FieldKey, unknown>;
  for (const k of FIELD_KEYS) if (FIELDS[k].secret && typeof values[k] === 'string') log.addSecret(values[k]);
  return log;
}

export async function runServe(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let opts: ServeOptions;
  try {
    opts = parseServeArgs(argv, env);
  } catch (e) {
    if (e instanceof ConfigError) for (const i of e.issues) console.error(`owp serve: ${i.code}: ${i.message}`);
    else console.error(`owp serve: ${(e as Error).message}`);
    return 2;
  }
  const log = serveLogger(opts);
  const github = opts.github ? await optionalModule<GithubModule>('github/index') : undefined;
  const dashboard = await optionalModule<DashboardModule>('web/index');
  if (opts.github && !github) log.warn('GitHub is configured (OWP_GITHUB_TOKEN or OWP_GITHUB_APP_*) but this build has no GitHub module; GitHub sync is off.');
  let relay: Awaited<ReturnType<typeof startRelay>>;
  try {
    relay = await startRelay({
      dataDir: opts.dataDir,
      databaseUrl: opts.databaseUrl,
      relayId: opts.relayId,
      electionLeaseMs: opts.electionLeaseMs,
      durability: opts.durability,
      host: opts.host,
      port: opts.port,
      adminToken: opts.adminToken,
      resetAdmin: opts.resetAdmin,
      publicDashboard: opts.publicDashboard,
      githubHost: opts.githubHost,
      notify: opts.notify,
      ...opts.tuning,
      metrics: opts.metrics,
      trustProxy: opts.trustProxy,
      log,
      features: (port) => {
        const fs: RelayFeature[] = [];
        if (dashboard) fs.push(dashboard.createDashboardFeature(port, { publicDashboard: opts.publicDashboard }));
        if (github && opts.github) fs.push(github.createGithubFeature(port, opts.github));
        return fs;
      },
    });
  } catch (e) {
    const message = startFailureMessage(e, opts);
    log.error(message, { error: String((e as Error)?.message ?? e) });
    if (!process.stdout.isTTY) console.error(`owp serve: ${message}`);
    return 1;
  }
  // A stray rejected promise (a feature's background job, a client gone mid-answer) is
  // logged, not fatal: the arbiter's own state is only changed after its writes succeed.
  const onRejection = (reason: unknown) => log.error('unhandled rejection', { reason: String((reason as Error)?.stack ?? reason) });
  process.on('unhandledRejection', onRejection);
  const dataIn = opts.databaseUrl ? (await import('./store/postgres.js')).describeDatabaseUrl(opts.databaseUrl) : opts.dataDir;
  log.info(`OWP relay listening on ${relay.url} (data in ${dataIn})`, { url: relay.url });
  if (!dashboard) log.info('Dashboard: not included in this build');
  else if (opts.publicDashboard) log.info(`Dashboard: ${relay.url}/ (public: no token needed)`);
  else log.info(`Dashboard: ${relay.url}/#token=<token> (any token opens it; make a read-only one with: owp token create --role viewer)`);
  // The one secret ever printed: plain lines straight to stdout, not through the log (whose
  // scrubber would hide it). The operator must see it once.
  if (relay.createdAdminToken) {
    console.log(opts.resetAdmin ? 'Revoked every admin token and created a new one. It is shown only this once; store it now:' : 'Created an admin token. It is shown only this once; store it now:');
    console.log(`  OWP_ADMIN_TOKEN=${relay.createdAdminToken}`);
  }
  await new Promise<void>((done) => {
    const stop = (sig: string) => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      log.info(`${sig}: shutting down (finishing the current batch, flushing)`);
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
    log.error(`error while shutting down: ${(e as Error).message}`);
    return 1;
  }
  log.info('relay stopped');
  return 0;
}

// Run directly: `node dist/main.js` (npm start, the container's CMD) or `node --import tsx server/main.ts` (sources).
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const code = await runServe(process.argv.slice(2), process.env);
  process.exit(code);
}
