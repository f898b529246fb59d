/**
 * The relay's logs: pino, one JSON object per line (or readable lines on a terminal).
 *
 * Invariants:
 * - JSON lines unless the output is a terminal (format `auto`); `pretty` needs the optional
 *   pino-pretty package and falls back to JSON without it. Level from OWP_LOG_LEVEL (info).
 * - Secrets never reach the output: fields named like secrets (authorization, token,
 *   secret, password, privateKey, cookie, at any depth up to two levels) are censored
 *   (`censorSecrets`, a copy: the caller's object is never changed), and every finished line is scrubbed of relay tokens (`owp_...`), GitHub
 *   tokens (`ghp_`, `ghs_`, `github_pat_`...), PEM private keys and the literal secrets the
 *   relay was configured with (`addSecret`), whatever field or message they hide in.
 * - The relay's modules see only the small `Logger` port (server/ports.ts).
 */
import { createRequire } from 'node:module';
import pino, { type DestinationStream, type Level, type LevelWithSilent } from 'pino';
import type { Logger } from '../ports.js';

export const LOG_LEVELS: readonly LevelWithSilent[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
export type LogFormat = 'auto' | 'json' | 'pretty';
export const LOG_FORMATS: readonly LogFormat[] = ['auto', 'json', 'pretty'];

export const REDACTED = '[redacted]';

/** Field names whose values are secrets, wherever they appear (up to two levels down). */
const SECRET_KEYS = new Set(['authorization', 'cookie', 'token', 'secret', 'password', 'privateKey', 'webhookSecret', 'githubToken', 'adminToken', 'metricsToken']);

/**
 * The log fields with every secret-named field (at depth 0, 1 or 2) censored. Copy on write:
 * an object without one is returned as it is, one with one is copied, never changed in place.
 * Why not pino's `redact`: its 30 wildcard paths were 7-9% of the relay's CPU under load (one
 * access line per request; docs/BENCHMARKS.md "Profile"); this is one pass over the keys.
 */
export function censorSecrets<T extends object>(obj: T, depth = 0): T {
  let out: Record<string, unknown> | undefined;
  const src = obj as Record<string, unknown>;
  for (const k in src) {
    if (!Object.hasOwn(src, k)) continue;
    const v = src[k];
    let w = v;
    if (SECRET_KEYS.has(k) && v !== undefined) w = REDACTED;
    else if (depth < 2 && v !== null && typeof v === 'object' && !(v instanceof Error)) w = censorSecrets(v, depth + 1);
    if (w !== v) (out ??= (Array.isArray(src) ? [...(src as unknown[])] : { ...src }) as Record<string, unknown>)[k] = w;
  }
  return (out ?? obj) as T;
}

/** Token shapes scrubbed from every line: relay tokens, GitHub tokens, PEM private keys. */
const TOKEN_PATTERN = /\bowp_[A-Za-z0-9_-]{16,}|\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g;

export interface LogOptions {
  /** Default `info`. */
  level?: LevelWithSilent;
  /** Default `auto`: readable lines on a terminal, JSON otherwise. */
  format?: LogFormat;
  /** Where lines go (default stdout). */
  destination?: { write(line: string): unknown; isTTY?: boolean };
  /** Literal secrets to scrub from every line (the admin token from the environment, webhook secrets...). */
  secrets?: readonly string[];
}

export interface RelayLogger extends Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  /** Scrub this literal string from every later line (at least 8 characters; shorter ones are ignored). */
  addSecret(secret: string | undefined): void;
  readonly level: LevelWithSilent;
  readonly pino: pino.Logger;
}

/** Parse OWP_LOG_LEVEL; throws a sentence naming the allowed values. */
export function parseLogLevel(text: string | undefined): LevelWithSilent {
  if (text === undefined || text === '') return 'info';
  const v = text.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(v)) return v as LevelWithSilent;
  throw new Error(`OWP_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}; got ${JSON.stringify(text.slice(0, 40))}`);
}

/** Parse OWP_LOG_FORMAT; throws a sentence naming the allowed values. */
export function parseLogFormat(text: string | undefined): LogFormat {
  if (text === undefined || text === '') return 'auto';
  const v = text.trim().toLowerCase();
  if ((LOG_FORMATS as readonly string[]).includes(v)) return v as LogFormat;
  throw new Error(`OWP_LOG_FORMAT must be one of ${LOG_FORMATS.join(', ')}; got ${JSON.stringify(text.slice(0, 40))}`);
}

/** Remove token shapes and the given literal secrets from one line. */
export function scrub(line: string, secrets: ReadonlySet<string> = new Set()): string {
  let out = line.replace(TOKEN_PATTERN, REDACTED);
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

type Pretty = (line: string) => string;

/** pino-pretty's line formatter, if the optional package is installed. */
function loadPretty(colorize: boolean): Pretty | undefined {
  try {
    const require = createRequire(import.meta.url);
    const mod = require('pino-pretty') as { prettyFactory(o: Record<string, unknown>): Pretty };
    return mod.prettyFactory({ colorize, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true });
  } catch {
    return undefined;
  }
}

export function createLogger(opts: LogOptions = {}): RelayLogger {
  const out = opts.destination ?? process.stdout;
  const format = opts.format ?? 'auto';
  const tty = out.isTTY === true;
  const pretty = format === 'pretty' || (format === 'auto' && tty) ? loadPretty(tty) : undefined;
  const secrets = new Set<string>();
  const addSecret = (s: string | undefined) => {
    if (s && s.length >= 8) secrets.add(s);
  };
  for (const s of opts.secrets ?? []) addSecret(s);
  const destination: DestinationStream = {
    write(line: string) {
      const clean = scrub(line, secrets);
      out.write(pretty ? pretty(clean) : clean);
    },
  };
  const logger = pino(
    {
      level: opts.level ?? 'info',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: (fields) => censorSecrets(fields) },
    },
    destination,
  );
  const at = (level: Level) => (msg: string, fields?: Record<string, unknown>) => {
    if (fields) logger[level](fields, msg);
    else logger[level](msg);
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    addSecret,
    get level() {
      return logger.level as LevelWithSilent;
    },
    pino: logger,
  };
}
