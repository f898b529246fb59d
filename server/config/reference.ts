/**
 * The configuration's reference texts, generated from fields.ts so they cannot drift: the
 * settings table of docs/CONFIG.md and the whole of .env.example. `npm run config:docs`
 * writes both; test/relay/config.test.ts fails when either is out of date.
 */
import { FIELDS, FIELD_KEYS, envName, type Field } from './fields.js';

export const TABLE_BEGIN = '<!-- settings:begin (npm run config:docs) -->';
export const TABLE_END = '<!-- settings:end -->';

function defaultText(f: Field<unknown>): string {
  if (f.default === undefined) return '';
  return typeof f.default === 'string' ? f.default : JSON.stringify(f.default);
}

/** The settings table in Markdown, between its markers. */
export function settingsTable(): string {
  const rows = FIELD_KEYS.map((k) => {
    const f: Field<unknown> = FIELDS[k];
    const notes = [f.flag ? `flag \`--${f.flag}\`` : '', f.secret ? `secret (also \`${envName(k)}_FILE\`)` : '', f.reserved ? `not read yet: ${f.reserved}` : ''].filter(Boolean).join('; ');
    const dflt = defaultText(f);
    return `| \`${k}\` | \`${envName(k)}\` | ${dflt ? `\`${dflt}\`` : ''} | ${f.help}${notes ? ` (${notes})` : ''} |`;
  });
  return [TABLE_BEGIN, '', '| File key | Variable | Default | Meaning |', '| --- | --- | --- | --- |', ...rows, '', TABLE_END].join('\n');
}

/** Settings written uncommented in .env.example: what a first deployment sets. */
const EXAMPLE_SET = new Set(['adminToken', 'publicDashboard', 'github.token', 'github.webhookSecret']);

/** .env.example: every variable, with its meaning and default. */
export function envExample(): string {
  const lines = [
    '# OWP Pool relay settings (docs/CONFIG.md). Copy to .env beside docker-compose.yml and fill in.',
    '# Generated from server/config/fields.ts by `npm run config:docs`; do not edit by hand.',
    '# An empty value counts as unset. Secrets may instead be read from a file: OWP_<NAME>_FILE=/path.',
    '# Durations take a unit (250ms, 30s, 5m, 7d) and sizes one (512KiB, 64MiB); plain numbers are ms and bytes.',
  ];
  let section = '';
  for (const k of FIELD_KEYS) {
    const f: Field<unknown> = FIELDS[k];
    const s = k.includes('.') ? k.slice(0, k.indexOf('.')) : '';
    if (s !== section || lines.length === 4) lines.push('');
    section = s;
    lines.push(`# ${f.help}${f.reserved ? ` (not read yet: ${f.reserved})` : ''}`);
    const value = EXAMPLE_SET.has(k) ? (k === 'publicDashboard' ? '0' : '') : defaultText(f);
    lines.push(`${EXAMPLE_SET.has(k) ? '' : '# '}${envName(k)}=${value}`);
  }
  return lines.join('\n') + '\n';
}
