/**
 * Loading the relay's configuration: flags win over environment variables, which win over
 * owp.config.yaml, which wins over the defaults in fields.ts.
 *
 * Invariants:
 * - Every problem is collected, not just the first: a ConfigError holds one issue per bad
 *   field, each a stable code and a sentence naming the variable or key, the value (at most
 *   40 characters, never for a secret) and what to write instead.
 * - An unknown key in the file, and an unknown OWP_* variable, is an error that names the
 *   nearest known one. Variables the CLI and the worker tools read (OWP_URL, OWP_TOKEN,
 *   OWP_TASK_FILE...) and the developer prefixes (OWP_TEST_*, OWP_BENCH_*) are known.
 * - An empty variable counts as unset (compose writes `${X:-}`); so does an empty YAML value.
 * - The file is ./owp.config.yaml when present, or the one named by --config / OWP_CONFIG
 *   (which must then exist). Nothing here touches the network or the data folder.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { closestName, editDistance } from '../../shared/did-you-mean.js';
import { FIELDS, FIELD_KEYS, envName, type Config, type Field, type FieldKey } from './fields.js';

export type ConfigErrorCode = 'config-unknown-key' | 'config-unknown-env' | 'config-invalid-value' | 'config-file-unreadable' | 'config-invalid-yaml';

export interface ConfigIssue {
  code: ConfigErrorCode;
  /** The variable, flag or file key at fault. */
  name: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(issues.map((i) => `${i.code}: ${i.message}`).join('\n'));
    this.name = 'ConfigError';
  }
  get code(): ConfigErrorCode {
    return this.issues[0]!.code;
  }
}

export type SourceKind = 'flag' | 'env' | 'file' | 'default';
export interface Source {
  kind: SourceKind;
  /** `--port`, `OWP_PORT`, `OWP_ADMIN_TOKEN_FILE`, `owp.config.yaml`, `default`. */
  name: string;
}

export interface LoadedConfig {
  values: Config;
  sources: Record<FieldKey, Source>;
  /** The configuration file read, if any. */
  file?: string;
}

export interface LoadOptions {
  /** Flag values by flag name (`port`, `host`, `data`, `config`); undefined = not given. */
  flags?: Record<string, string | undefined>;
  env: NodeJS.ProcessEnv;
  cwd?: string;
}

export const DEFAULT_CONFIG_FILE = 'owp.config.yaml';

/** OWP_* variables read by the CLI and the worker tools, not by the relay. */
const CLIENT_ENV = ['OWP_CONFIG', 'OWP_URL', 'OWP_TOKEN', 'OWP_HOME', 'OWP_TASK_FILE', 'OWP_TASK_ID', 'OWP_TASK_DIR', 'OWP_REPO_DIR', 'OWP_BRANCH', 'OWP_BASE_BRANCH'];
/** Prefixes of variables for tests, benches and demos. */
const DEV_ENV = /^OWP_(TEST|BENCH|DEMO|DEBUG)_|^OWP_(UPDATE_SCREENSHOTS|PYTHON)$/;

const field = (key: FieldKey): Field<unknown> => FIELDS[key];

/** A value quoted for a message: bounded, never a secret's. */
export function quote(value: unknown, secret = false): string {
  if (secret) return '(hidden)';
  const s = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
}

const isEmpty = (v: unknown) => v === undefined || v === null || (typeof v === 'string' && v.trim() === '');

export function loadConfig(o: LoadOptions): LoadedConfig {
  const issues: ConfigIssue[] = [];
  const flags = o.flags ?? {};
  const cwd = o.cwd ?? process.cwd();
  const raw: Partial<Record<FieldKey, { value: unknown; source: Source }>> = {};

  // Lowest first; each later layer overwrites.
  const file = configFile(flags.config ?? (o.env.OWP_CONFIG || undefined), cwd, issues);
  if (file) for (const [key, value] of Object.entries(readConfigFile(file, issues))) raw[key as FieldKey] = { value, source: { kind: 'file', name: file } };
  for (const [key, entry] of Object.entries(readEnv(o.env, issues))) raw[key as FieldKey] = entry;
  for (const key of FIELD_KEYS) {
    const flag = field(key).flag;
    if (flag && flags[flag] !== undefined) raw[key] = { value: flags[flag], source: { kind: 'flag', name: `--${flag}` } };
  }

  const values = {} as Record<FieldKey, unknown>;
  const sources = {} as Record<FieldKey, Source>;
  for (const key of FIELD_KEYS) {
    const f = field(key);
    const given = raw[key];
    if (!given || isEmpty(given.value)) {
      values[key] = f.default;
      sources[key] = { kind: 'default', name: 'default' };
      continue;
    }
    const r = f.schema.safeParse(given.value);
    if (r.success) {
      values[key] = r.data;
      sources[key] = given.source;
    } else {
      const where = given.source.kind === 'file' ? `${key} in ${given.source.name}` : given.source.name;
      const why = r.error.issues[0]?.message ?? 'is not valid';
      const shown = f.secret ? `${where} (value not shown)` : `${where} is ${quote(given.value)}: it`;
      issues.push({ code: 'config-invalid-value', name: given.source.kind === 'file' ? key : given.source.name, message: `${shown} ${why}.` });
    }
  }
  if (issues.length) throw new ConfigError(issues);
  return { values: values as Config, sources, ...(file ? { file } : {}) };
}

function configFile(named: string | undefined, cwd: string, issues: ConfigIssue[]): string | undefined {
  if (named !== undefined) {
    const path = resolve(cwd, named);
    if (existsSync(path)) return path;
    issues.push({ code: 'config-file-unreadable', name: named, message: `The configuration file ${path} does not exist. Fix --config / OWP_CONFIG, or unset it to use ./${DEFAULT_CONFIG_FILE} when present.` });
    return undefined;
  }
  const path = resolve(cwd, DEFAULT_CONFIG_FILE);
  return existsSync(path) ? path : undefined;
}

/** The file's settings by field key; problems go to `issues`. */
function readConfigFile(path: string, issues: ConfigIssue[]): Partial<Record<FieldKey, unknown>> {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.name === 'YAMLParseError') issues.push({ code: 'config-invalid-yaml', name: path, message: `${path} is not valid YAML: ${err.message.split('\n')[0]}` });
    else issues.push({ code: 'config-file-unreadable', name: path, message: `The configuration file ${path} cannot be read (${err.code ?? err.message}).` });
    return {};
  }
  if (doc === null || doc === undefined) return {};
  const out: Partial<Record<FieldKey, unknown>> = {};
  const walk = (obj: unknown, prefix: string) => {
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      issues.push({ code: 'config-invalid-value', name: prefix || path, message: `${prefix ? `${prefix} in ${path}` : path} must be a section of "key: value" lines.` });
      return;
    }
    for (const [k, v] of Object.entries(obj)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (key in FIELDS) out[key as FieldKey] = v;
      else if (FIELD_KEYS.some((f) => f.startsWith(key + '.'))) walk(v, key);
      else {
        const siblings = FIELD_KEYS.filter((f) => f.startsWith(prefix ? prefix + '.' : '')).map((f) => f.slice(prefix ? prefix.length + 1 : 0).split('.')[0]!);
        const near = closestName(k, new Set(siblings));
        const nearest = near ? `did you mean ${prefix ? `${prefix}.` : ''}${near}?` : `the nearest known key is ${nearestOf(key, FIELD_KEYS)}; docs/CONFIG.md lists them all`;
        issues.push({ code: 'config-unknown-key', name: key, message: `${key} in ${path} is not a setting of the relay (${nearest}). Fix or remove it.` });
      }
    }
  };
  walk(doc, '');
  return out;
}

/** Relay settings from OWP_* variables (and their _FILE forms); unknown OWP_* names go to `issues`. */
function readEnv(env: NodeJS.ProcessEnv, issues: ConfigIssue[]): Partial<Record<FieldKey, { value: unknown; source: Source }>> {
  const byEnv = new Map(FIELD_KEYS.map((k) => [envName(k), k] as const));
  const out: Partial<Record<FieldKey, { value: unknown; source: Source }>> = {};
  const known = new Set([...byEnv.keys(), ...CLIENT_ENV, ...FIELD_KEYS.filter((k) => field(k).secret).map((k) => `${envName(k)}_FILE`)]);
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('OWP_') || DEV_ENV.test(name)) continue;
    if (!known.has(name)) {
      const near = closestName(name.slice(4), [...known].map((n) => n.slice(4)));
      const nearest = near ? `did you mean OWP_${near}?` : `the nearest known one is ${nearestOf(name, [...known])}; docs/CONFIG.md lists them all`;
      issues.push({ code: 'config-unknown-env', name, message: `${name} is not a setting of the relay (${nearest}). Fix its name or unset it.` });
      continue;
    }
    const key = byEnv.get(name);
    if (key && !isEmpty(value)) out[key] = { value, source: { kind: 'env', name } };
  }
  for (const key of FIELD_KEYS.filter((k) => field(k).secret)) {
    const name = `${envName(key)}_FILE`;
    const path = env[name];
    if (isEmpty(path)) continue;
    if (out[key]) {
      issues.push({ code: 'config-invalid-value', name, message: `Both ${envName(key)} and ${name} are set; set only one of them.` });
      continue;
    }
    try {
      out[key] = { value: readFileSync(path!, 'utf8').trim(), source: { kind: 'env', name } };
    } catch (e) {
      issues.push({ code: 'config-file-unreadable', name, message: `${name} names ${quote(path)}, which cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'}). Point it at a file this user can read.` });
    }
  }
  return out;
}

/** The candidate with the fewest edits from `name` (ties: the first). */
function nearestOf(name: string, candidates: readonly string[]): string {
  const fold = (s: string) => s.toLowerCase().replace(/[_.-]/g, '');
  let best = candidates[0]!;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = editDistance(fold(name), fold(c));
    if (d < bestDist) [best, bestDist] = [c, d];
  }
  return best;
}
