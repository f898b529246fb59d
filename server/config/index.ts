/**
 * The relay's configuration (docs/CONFIG.md): one schema (fields.ts), one loader (load.ts),
 * and the views of it: the effective settings as `owp config` prints them, and the parts of
 * RelayConfig that come from it.
 *
 * Invariants:
 * - `describeConfig` never shows a secret's value: only whether it is set.
 * - `relayTuning` maps every limit to the option the relay reads; a field with no mapping
 *   here is either read by main.ts or `reserved` (fields.ts).
 */
import { FIELDS, FIELD_KEYS, envName, type Config, type Field, type FieldKey } from './fields.js';
import type { LoadedConfig, Source } from './load.js';

export { FIELDS, FIELD_KEYS, envName, type Config, type FieldKey } from './fields.js';
export { ConfigError, DEFAULT_CONFIG_FILE, loadConfig, quote, type ConfigIssue, type LoadedConfig, type Source } from './load.js';

export interface ConfigRow {
  key: FieldKey;
  env: string;
  flag?: string;
  /** The value as text; `(hidden)` for a set secret, `(unset)` for nothing. */
  value: string;
  source: Source;
  secret: boolean;
  /** Accepted but not yet read by the relay: who wires it. */
  reserved?: string;
  help: string;
}

export function showValue(value: unknown, secret: boolean): string {
  if (value === undefined) return '(unset)';
  if (secret) return '(hidden)';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export function describeConfig(loaded: LoadedConfig): ConfigRow[] {
  return FIELD_KEYS.map((key) => {
    const f: Field<unknown> = FIELDS[key];
    const secret = f.secret === true;
    return {
      key,
      env: envName(key),
      ...(f.flag ? { flag: `--${f.flag}` } : {}),
      value: showValue(loaded.values[key], secret),
      source: loaded.sources[key],
      secret,
      ...(f.reserved ? { reserved: f.reserved } : {}),
      help: f.help,
    };
  });
}

/** The relay's limits and timings (RelayConfig fields), from the configuration. */
export function relayTuning(c: Config) {
  return {
    tickMs: c['engine.tick'],
    retentionMs: c['engine.retention'],
    rateLimit: { ratePerSec: c['limits.requestsPerSecond'], burst: c['limits.requestBurst'] },
    authFailureLimit: { ratePerSec: c['limits.refusedTokensPerSecond'], burst: c['limits.refusedTokenBurst'] },
    limits: {
      sseClients: c['limits.eventStreams'],
      ssePerToken: c['limits.eventStreamsPerToken'],
      sseBufferBytes: c['limits.eventReplayBytes'],
      socketsPerToken: c['limits.socketsPerToken'],
      socketMessages: { ratePerSec: c['limits.socketMessagesPerSecond'], burst: c['limits.socketMessageBurst'] },
      socketMessageBytes: c['limits.socketMessageBytes'],
      requestTimeoutMs: c['limits.requestTimeout'],
      keepAliveMs: c['limits.keepAlive'],
      bodyBytes: c['limits.bodyBytes'],
      jsonDepth: c['limits.jsonDepth'],
    },
  };
}
