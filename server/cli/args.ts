/**
 * Argument parsing for the `owp` CLI: node:util parseArgs with the global flags, plus the
 * value parsers every command shares (durations, times, tiers, lists).
 *
 * Invariants:
 * - Bad usage is always a UsageError (exit code 2) whose message says what to type instead.
 * - Parsers are pure: `now` is passed in, never read here.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { ErrorCode } from '../../shared/errors.js';
import { RISK_TIERS, type RiskTier } from '../../shared/model.js';

import { GLOBAL_OPTIONS, type OptionSpecs } from './help.js';

export { GLOBAL_OPTIONS, type OptionSpec, type OptionSpecs } from './help.js';

/** Wrong flags or arguments: exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The relay (or a local check standing for it) said no: exit 1 with a stable code. */
export class RefusedError extends Error {
  constructor(
    readonly code: ErrorCode | string,
    message: string,
    readonly status?: number,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'RefusedError';
  }
}

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** A negative number (`-5`, `-0.5`) is an argument, never a flag (no option is a digit). */
const NEGATIVE = /^-\d+(?:\.\d+)?$/;
/** What a negative number travels as through parseArgs (which would read it as a flag). */
const ESCAPE = '\u0000';

export function parseCommandArgs(argv: string[], specs: OptionSpecs): Parsed {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, s] of Object.entries({ ...GLOBAL_OPTIONS, ...specs })) {
    options[name] = { type: s.type, ...(s.short ? { short: s.short } : {}), ...(s.multiple ? { multiple: true } : {}) };
  }
  const end = argv.indexOf('--');
  const args = argv.map((a, i) => ((end < 0 || i < end) && NEGATIVE.test(a) ? ESCAPE + a : a));
  const back = (v: string): string => (v.startsWith(ESCAPE) ? v.slice(1) : v);
  try {
    const r = parseArgs({ args, options, allowPositionals: true, strict: true });
    const values: Parsed['values'] = {};
    for (const [k, v] of Object.entries(r.values)) values[k] = typeof v === 'string' ? back(v) : Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? back(x) : String(x))) : v;
    return { values, positionals: r.positionals.map(back) };
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify a positional.*$/s, '.'));
  }
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function flag(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `10m`, `2h`, `1d`, `1h30m`, `500ms` -> milliseconds. */
export function parseDuration(text: string, what = 'duration'): number {
  const t = text.trim();
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t))) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (!t || matched !== t.length) throw new UsageError(`${what} "${text}" is not a duration: use a number with a unit, like 90s, 10m, 2h or 1d`);
  return Math.round(total);
}

/** `--since`: an ISO time (2026-01-31, 2026-01-31T10:00:00Z) or a duration ago (2h). */
export function parseSince(text: string, now: number): number {
  if (/^\d+(?:\.\d+)?(ms|s|m|h|d)/.test(text.trim())) return now - parseDuration(text, '--since');
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new UsageError(`--since "${text}" is neither an ISO time (2026-01-31T10:00:00Z) nor a duration ago (2h)`);
  return t;
}

export function parseIntArg(text: string, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^-?\d+$/.test(text.trim())) throw new UsageError(`${what} must be a whole number, got "${text}"`);
  const n = Number(text);
  if (n < min || n > max) throw new UsageError(`${what} must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function parseTier(text: string, what = 'tier'): RiskTier {
  const n = parseIntArg(text, what, 0, 3);
  return n as RiskTier;
}

export function parseTiers(text: string): RiskTier[] {
  const tiers = parseList(text).map((t) => parseTier(t, '--tiers'));
  return [...new Set(tiers)].sort((a, b) => a - b).filter((t) => RISK_TIERS.includes(t));
}

export function parseList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function parseRepoArg(text: string | undefined, cmd: string): { owner: string; name: string; repo: string } {
  if (!text) throw new UsageError(`${cmd} needs a repository as OWNER/NAME`);
  const m = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(text);
  if (!m) throw new UsageError(`"${text}" is not a repository: use OWNER/NAME, e.g. acme/widgets`);
  return { owner: m[1]!, name: m[2]!, repo: text };
}

export function formatDuration(ms: number): string {
  const neg = ms < 0;
  if (Math.abs(ms) < 1000 && ms !== 0) return `${Math.round(ms)}ms`;
  let s = Math.round(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts = d ? [`${d}d`, `${h}h`] : h ? [`${h}h`, `${m}m`] : m ? [`${m}m`, `${s}s`] : [`${s}s`];
  return (neg ? '-' : '') + parts.filter((p, i) => i === 0 || !/^0/.test(p)).join('');
}
