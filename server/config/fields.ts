/**
 * The relay's configuration fields: ONE list, read by the loader (load.ts), `owp config`,
 * docs/CONFIG.md and .env.example. Adding a setting is adding one entry here.
 *
 * Invariants:
 * - A field's key is its path in owp.config.yaml (`limits.bodyBytes` is `limits:` then
 *   `bodyBytes:`); its environment variable is OWP_ + the key in upper snake case
 *   (`OWP_LIMITS_BODY_BYTES`) unless `env` names another.
 * - A field with `secret` is masked by `owp config` and may also be given as a file:
 *   `OWP_<NAME>_FILE=/run/secrets/x` (Docker and Kubernetes secrets).
 * - A field with `reserved` is accepted and validated but not yet read by the relay (its
 *   owner wires it); `owp config` says so.
 * - Defaults match what the relay did before the field existed.
 */
import type { z } from 'zod';
import { bool, bytes, duration, int, oneOf, positive, text, trustProxy, url } from './parse.js';

export interface Field<T = unknown> {
  schema: z.ZodType<T, unknown>;
  default: T;
  help: string;
  /** Environment variable, when not OWP_ + SNAKE(key). */
  env?: string;
  /** `owp serve --<flag>`. */
  flag?: string;
  secret?: boolean;
  /** Validated, not yet used: who wires it. */
  reserved?: string;
}

/** A field without a default: undefined until given. */
function opt<T>(schema: z.ZodType<T, unknown>, meta: Omit<Field, 'schema' | 'default'>): Field<T | undefined> {
  return { schema, default: undefined, ...meta };
}
function def<T>(schema: z.ZodType<T, unknown>, dflt: T, meta: Omit<Field, 'schema' | 'default'>): Field<T> {
  return { schema, default: dflt, ...meta };
}

export const FIELDS = {
  // Where it listens and keeps its data
  host: def(text(), '127.0.0.1', { flag: 'host', help: 'address to listen on: 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)' }),
  port: def(int(0, 65535), 8787, { flag: 'port', help: 'port to listen on; 0 = any free port' }),
  data: def(text(), './data', { flag: 'data', help: 'data folder (LevelDB); relative to the working directory' }),
  databaseUrl: opt(url(['postgres', 'postgresql'], 'postgres://owp@db/owp'), { secret: true, help: 'PostgreSQL instead of LevelDB (docs/STORAGE.md)' }),
  relayId: opt(text(), { help: 'this relay\'s name among several on one PostgreSQL (with databaseUrl): they elect one arbiter (docs/SCALING.md)' }),
  'election.lease': def(duration(100), 2500, { help: 'the arbiter\'s lease with several relays; another relay arbitrates within twice this after a crash' }),
  durability: def(oneOf(['fsync', 'os']), 'fsync', { help: 'fsync: every write is synced to disk before anyone is answered (docs/RELIABILITY.md); os: leave flushing to the OS' }),

  // Access
  adminToken: opt(text(16), { secret: true, help: 'an additional admin token (at least 16 characters), live while set: a new value revokes the previous one (docs/CONFIG.md)' }),
  publicDashboard: def(bool(), false, { help: 'dashboard and event stream readable without a token' }),

  // Logs, metrics, proxies
  'log.level': def(oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), 'info', { help: 'least important log level written' }),
  'log.format': def(oneOf(['auto', 'json', 'pretty']), 'auto', { help: 'json: one JSON object a line; pretty: readable lines; auto: pretty on a terminal, else json' }),
  trustProxy: opt(trustProxy(), { help: 'proxies whose X-Forwarded-For gives the client address (brakes, limits, logs): a hop count such as 1, or ranges such as 10.0.0.0/8,loopback; unset: trust nothing (docs/DEPLOY.md)' }),
  'metrics.public': def(bool(), false, { help: 'GET /metrics without a token (docs/DEPLOY.md)' }),
  'metrics.token': opt(text(16), { secret: true, help: 'bearer token that may read GET /metrics and nothing else; admin tokens may too' }),

  // Outgoing webhook
  'notify.url': opt(url(), { secret: true, help: 'outgoing webhook (Slack incoming webhook or any JSON endpoint); off when unset' }),
  'notify.secret': opt(text(), { secret: true, help: 'HMAC secret that signs outgoing webhook bodies' }),

  // GitHub
  'github.token': opt(text(), { secret: true, help: 'GitHub token: import issues, track pull requests, write back' }),
  'github.apiUrl': opt(url(['http', 'https'], 'https://github.example.com/api/v3'), { help: 'GitHub API base URL (GitHub Enterprise: https://HOST/api/v3); default api.github.com' }),
  'github.webhookSecret': opt(text(), { secret: true, help: 'secret of the GitHub webhook that points at /github/webhook' }),
  'github.host': opt(text(), { help: 'host submitted pull request links must be on; default derived from github.apiUrl, else github.com' }),
  'github.app.id': opt(text(), { help: 'GitHub App id (instead of github.token; docs/GITHUB.md)' }),
  'github.app.privateKey': opt(text(), { secret: true, help: 'GitHub App private key (PEM; literal \\n accepted)' }),
  'github.app.installationId': opt(text(), { help: 'GitHub App installation id (a number)' }),

  // Limits (defaults: server/ratelimit, server/http, server/sync)
  'limits.requestsPerSecond': def(positive(), 50, { help: 'HTTP requests per token (per address without one), sustained' }),
  'limits.requestBurst': def(int(1), 100, { help: 'HTTP requests per token allowed at once' }),
  'limits.refusedTokensPerSecond': def(positive(), 1, { help: 'refused tokens per address, sustained, before that address gets 429' }),
  'limits.refusedTokenBurst': def(int(1), 30, { help: 'refused tokens per address allowed at once' }),
  'limits.socketMessagesPerSecond': def(positive(), 200, { help: 'Yjs socket messages per token, sustained' }),
  'limits.socketMessageBurst': def(int(1), 2000, { help: 'Yjs socket messages per token allowed at once' }),
  'limits.socketMessageBytes': def(bytes(1024), 1024 * 1024, { help: 'largest Yjs socket message' }),
  'limits.socketsPerToken': def(int(1), 64, { help: 'Yjs sockets one token may hold open' }),
  'limits.bodyBytes': def(bytes(1024), 1024 * 1024, { help: 'largest HTTP request body' }),
  'limits.requestTimeout': def(duration(1000), 30_000, { help: 'time a client has to send a whole HTTP request' }),
  'limits.keepAlive': def(duration(1000), 65_000, { help: 'how long an idle kept-alive HTTP connection stays open (keep it above a proxy\'s idle timeout)' }),
  'limits.eventStreams': def(int(1), 1000, { help: 'event streams (dashboards) open at once' }),
  'limits.eventStreamsPerToken': def(int(1), 32, { help: 'event streams one token (or address) may hold' }),
  'limits.eventReplayBytes': def(bytes(1024), 64 * 1024 * 1024, { help: 'memory for replaying missed events to a reconnecting stream' }),
  'limits.jsonDepth': def(int(8, 1024), 64, { help: 'deepest nesting of a JSON request body' }),

  // Scheduler timing
  'engine.tick': def(duration(0), 0, { help: 'how long intents are gathered into one batch; 0: group commit (a batch starts as soon as the one before it is written)' }),
  'engine.retention': def(duration(60_000), 7 * 86_400_000, { help: 'how long answered intents are kept for retries' }),
} satisfies Record<string, Field<unknown>>;

export type FieldKey = keyof typeof FIELDS;
export type Config = { [K in FieldKey]: (typeof FIELDS)[K] extends Field<infer T> ? T : never };

const snake = (key: string) => key.replace(/\./g, '_').replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

export function envName(key: FieldKey): string {
  const f: Field<unknown> = FIELDS[key];
  return f.env ?? `OWP_${snake(key)}`;
}

export const FIELD_KEYS = Object.keys(FIELDS) as FieldKey[];
