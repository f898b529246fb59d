/**
 * The relay's configuration (server/config, docs/CONFIG.md): flags over variables over
 * owp.config.yaml over defaults; every bad field a stable code and a sentence; secrets never
 * shown; the limits it sets take effect on a real relay; `owp config` and `owp serve` as
 * child processes.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, FIELDS, FIELD_KEYS, describeConfig, envName, loadConfig, relayTuning } from '../../server/config/index.js';
import { envExample, settingsTable } from '../../server/config/reference.js';
import { owp } from '../helpers/cli-run.js';
import { startTestRelay } from '../helpers/relay.js';

const dirs: string[] = [];
const tempDir = async () => {
  const d = await mkdtemp(join(tmpdir(), 'owp-config-'));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** The issues of a load that must fail. */
function issuesOf(f: () => unknown) {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('defaults alone: every field has its default and the source "default"', async () => {
    const cwd = await tempDir();
    const { values, sources, file } = loadConfig({ env: {}, cwd });
    expect(file).toBeUndefined();
    expect(values.port).toBe(8787);
    expect(values.host).toBe('127.0.0.1');
    expect(values['limits.bodyBytes']).toBe(1024 * 1024);
    expect(values.adminToken).toBeUndefined();
    for (const k of FIELD_KEYS) expect(sources[k]).toEqual({ kind: 'default', name: 'default' });
  });

  it('flags win over variables, which win over the file, which wins over defaults', async () => {
    const cwd = await tempDir();
    await writeFile(join(cwd, 'owp.config.yaml'), 'port: 9001\nhost: 0.0.0.0\ndata: /srv/file\nlimits:\n  bodyBytes: 2MiB\n  requestTimeout: 45s\n');
    const { values, sources, file } = loadConfig({ flags: { port: '9003' }, env: { OWP_PORT: '9002', OWP_HOST: '10.0.0.1' }, cwd });
    expect(file).toBe(join(cwd, 'owp.config.yaml'));
    expect([values.port, sources.port]).toEqual([9003, { kind: 'flag', name: '--port' }]);
    expect([values.host, sources.host]).toEqual(['10.0.0.1', { kind: 'env', name: 'OWP_HOST' }]);
    expect([values.data, sources.data.kind]).toEqual(['/srv/file', 'file']);
    expect(values['limits.bodyBytes']).toBe(2 * 1024 * 1024);
    expect(values['limits.requestTimeout']).toBe(45_000);
    expect(values['limits.socketsPerToken']).toBe(64);
  });

  it('an empty variable or YAML value counts as unset (compose writes ${X:-})', async () => {
    const cwd = await tempDir();
    await writeFile(join(cwd, 'owp.config.yaml'), 'adminToken:\nport: 9100\n');
    const { values, sources } = loadConfig({ env: { OWP_PORT: '', OWP_ADMIN_TOKEN: '', OWP_GITHUB_TOKEN: '  ' }, cwd });
    expect(values.port).toBe(9100);
    expect(values.adminToken).toBeUndefined();
    expect(values['github.token']).toBeUndefined();
    expect(sources.adminToken.kind).toBe('default');
  });

  it('an unknown key in the file names the nearest known key, at the top and in a section', async () => {
    const cwd = await tempDir();
    await writeFile(join(cwd, 'owp.config.yaml'), 'prot: 1\nlimits:\n  bodyByte: 5\n  zzzzzzzzzzzzz: 1\nwhatever:\n  x: 1\n');
    const issues = issuesOf(() => loadConfig({ env: {}, cwd }));
    const file = join(cwd, 'owp.config.yaml');
    expect(issues).toEqual([
      { code: 'config-unknown-key', name: 'prot', message: `prot in ${file} is not a setting of the relay (did you mean port?). Fix or remove it.` },
      { code: 'config-unknown-key', name: 'limits.bodyByte', message: `limits.bodyByte in ${file} is not a setting of the relay (did you mean limits.bodyBytes?). Fix or remove it.` },
      expect.objectContaining({ code: 'config-unknown-key', name: 'limits.zzzzzzzzzzzzz', message: expect.stringMatching(/the nearest known key is \S+; docs\/CONFIG\.md lists them all/) }),
      expect.objectContaining({ code: 'config-unknown-key', name: 'whatever' }),
    ]);
  });

  it('an unknown OWP_* variable is an error naming the nearest; the CLI\'s and the tests\' variables are known', async () => {
    const cwd = await tempDir();
    const issues = issuesOf(() => loadConfig({ env: { OWP_PROT: '1', OWP_ADMIN_TOKN: 'x', PATH: '/bin', OWP_URL: 'http://x', OWP_TOKEN: 't', OWP_HOME: '/h', OWP_TEST_WAIT_SCALE: '2', OWP_BENCH_TAIL: '1' }, cwd }));
    expect(issues).toEqual([
      { code: 'config-unknown-env', name: 'OWP_PROT', message: 'OWP_PROT is not a setting of the relay (did you mean OWP_PORT?). Fix its name or unset it.' },
      { code: 'config-unknown-env', name: 'OWP_ADMIN_TOKN', message: 'OWP_ADMIN_TOKN is not a setting of the relay (did you mean OWP_ADMIN_TOKEN?). Fix its name or unset it.' },
    ]);
  });

  it('every bad value is reported at once, bounded, and a secret\'s value never appears', async () => {
    const cwd = await tempDir();
    const secret = 'short-secret';
    const long = 'x'.repeat(5000);
    const issues = issuesOf(() =>
      loadConfig({ flags: { port: '70000' }, env: { OWP_ADMIN_TOKEN: secret, OWP_PUBLIC_DASHBOARD: 'maybe', OWP_LIMITS_BODY_BYTES: long, OWP_NOTIFY_URL: 'ftp://hook' }, cwd }),
    );
    expect(issues.map((i) => [i.code, i.name])).toEqual([
      ['config-invalid-value', '--port'],
      ['config-invalid-value', 'OWP_ADMIN_TOKEN'],
      ['config-invalid-value', 'OWP_PUBLIC_DASHBOARD'],
      ['config-invalid-value', 'OWP_NOTIFY_URL'],
      ['config-invalid-value', 'OWP_LIMITS_BODY_BYTES'],
    ]);
    expect(issues[0]!.message).toBe('--port is "70000": it must be a whole number from 0 to 65535.');
    expect(issues[1]!.message).toBe('OWP_ADMIN_TOKEN (value not shown) must be at least 16 characters.');
    expect(issues[2]!.message).toBe('OWP_PUBLIC_DASHBOARD is "maybe": it must be true or false (also 1/0, yes/no, on/off).');
    expect(issues[3]!.message).toBe('OWP_NOTIFY_URL (value not shown) must be a http or https URL, such as https://example.com/hook.');
    expect(issues[4]!.message).toBe(`OWP_LIMITS_BODY_BYTES is "${'x'.repeat(40)}…": it must be a size of at least 1024 bytes, such as 1048576, 512KiB or 64MiB.`);
    for (const i of issues) expect(i.message).not.toContain(secret);
  });

  it('a secret may come from a file (OWP_X_FILE); both forms at once, or an unreadable file, is an error', async () => {
    const cwd = await tempDir();
    const path = join(cwd, 'admin-token');
    await writeFile(path, 'owp_from_a_secret_file_0123456789\n');
    const { values, sources } = loadConfig({ env: { OWP_ADMIN_TOKEN_FILE: path }, cwd });
    expect(values.adminToken).toBe('owp_from_a_secret_file_0123456789');
    expect(sources.adminToken).toEqual({ kind: 'env', name: 'OWP_ADMIN_TOKEN_FILE' });
    expect(issuesOf(() => loadConfig({ env: { OWP_ADMIN_TOKEN_FILE: path, OWP_ADMIN_TOKEN: 'owp_other_token_0123456789' }, cwd }))[0]).toMatchObject({
      code: 'config-invalid-value',
      message: 'Both OWP_ADMIN_TOKEN and OWP_ADMIN_TOKEN_FILE are set; set only one of them.',
    });
    expect(issuesOf(() => loadConfig({ env: { OWP_GITHUB_TOKEN_FILE: join(cwd, 'nope') }, cwd }))[0]).toMatchObject({ code: 'config-file-unreadable', name: 'OWP_GITHUB_TOKEN_FILE' });
    // Only secrets have a _FILE form.
    expect(issuesOf(() => loadConfig({ env: { OWP_PORT_FILE: path }, cwd }))[0]).toMatchObject({ code: 'config-unknown-env', name: 'OWP_PORT_FILE' });
  });

  it('--config / OWP_CONFIG name a file that must exist; bad YAML and a list where a section belongs are errors', async () => {
    const cwd = await tempDir();
    expect(issuesOf(() => loadConfig({ flags: { config: 'missing.yaml' }, env: {}, cwd }))[0]).toMatchObject({ code: 'config-file-unreadable', name: 'missing.yaml' });
    await writeFile(join(cwd, 'bad.yaml'), 'port: [1\n');
    expect(issuesOf(() => loadConfig({ env: { OWP_CONFIG: 'bad.yaml' }, cwd }))[0]).toMatchObject({ code: 'config-invalid-yaml' });
    await writeFile(join(cwd, 'list.yaml'), 'limits:\n  - 1\nport:\n  nested: 1\n');
    const issues = issuesOf(() => loadConfig({ env: { OWP_CONFIG: 'list.yaml' }, cwd }));
    expect(issues.map((i) => [i.code, i.name])).toEqual([
      ['config-invalid-value', 'limits'],
      ['config-invalid-value', 'port'],
    ]);
    await writeFile(join(cwd, 'other.yaml'), 'port: 4242\n');
    expect(loadConfig({ flags: { config: 'other.yaml' }, env: {}, cwd }).values.port).toBe(4242);
  });

  it('the schema: defaults pass their own parsers, names are unique, docs/CONFIG.md and .env.example are up to date', async () => {
    const names = FIELD_KEYS.map(envName);
    expect(new Set(names).size).toBe(names.length);
    for (const k of FIELD_KEYS) {
      const f = FIELDS[k] as { default: unknown; schema: { safeParse(v: unknown): { success: boolean } } };
      if (f.default !== undefined) expect(f.schema.safeParse(f.default).success, k).toBe(true);
    }
    const doc = await readFile(new URL('../../docs/CONFIG.md', import.meta.url), 'utf8');
    const example = await readFile(new URL('../../.env.example', import.meta.url), 'utf8');
    expect(doc.includes(settingsTable()), 'docs/CONFIG.md is out of date: run npm run config:docs').toBe(true);
    expect(example === envExample(), '.env.example is out of date: run npm run config:docs').toBe(true);
    for (const n of names) expect(example).toMatch(new RegExp(`^(# )?${n}=`, 'm'));
    // The example, as it is, is a valid configuration.
    const env = Object.fromEntries(example.split('\n').filter((l) => /^OWP_\w+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(Object.keys(env).length).toBeGreaterThan(0);
    expect(() => loadConfig({ env, cwd: tmpdir() })).not.toThrow();
  });

  it('describeConfig masks every set secret and says where each value came from', async () => {
    const cwd = await tempDir();
    const token = 'owp_describe_secret_0123456789';
    const rows = describeConfig(loadConfig({ env: { OWP_ADMIN_TOKEN: token, OWP_NOTIFY_URL: 'https://hooks.example/T0/B0/secretpart' }, cwd }));
    expect(JSON.stringify(rows)).not.toContain(token);
    expect(JSON.stringify(rows)).not.toContain('secretpart');
    expect(rows.find((r) => r.key === 'adminToken')).toMatchObject({ value: '(hidden)', source: { kind: 'env', name: 'OWP_ADMIN_TOKEN' } });
    expect(rows.find((r) => r.key === 'metrics.token')).toMatchObject({ value: '(unset)' });
  });
});

describe('limits set by configuration, on a real relay', () => {
  it('body size and request rate come from the configuration', async () => {
    const cwd = await tempDir();
    await writeFile(join(cwd, 'owp.config.yaml'), 'limits:\n  bodyBytes: 2KiB\n  requestBurst: 3\n  requestsPerSecond: 0.001\n');
    const tuning = relayTuning(loadConfig({ env: {}, cwd }).values);
    const relay = await startTestRelay({ ...tuning });
    try {
      const maint = await relay.token('maintainer');
      const big = await relay.api(maint, 'POST', '/api/tasks', { tasks: [{ id: 'o/r#1', repo: 'o/r', title: 'x'.repeat(3000) }] });
      expect(big.status).toBe(413);
      expect(big.body.error.code).toBe('payload-too-large');
      // The 413 took one of the three; two more pass, the next is braked.
      expect((await relay.api(maint, 'GET', '/api/tasks')).status).toBe(200);
      expect((await relay.api(maint, 'GET', '/api/tasks')).status).toBe(200);
      const braked = await relay.api(maint, 'GET', '/api/tasks');
      expect(braked.status).toBe(429);
      expect(braked.headers.get('retry-after')).toBeTruthy();
    } finally {
      await relay.close();
    }
  });
});

describe('owp config and owp serve as child processes', () => {
  it('`owp config` prints every setting with its source, secrets masked; --json too', async () => {
    const home = await tempDir();
    const token = 'owp_cli_config_secret_0123456789';
    const r = await owp(['config', '--port', '9999'], { home, cwd: home, env: { OWP_ADMIN_TOKEN: token, OWP_LIMITS_SOCKETS_PER_TOKEN: '7' } });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain(token);
    expect(r.stdout).toMatch(/^port\s+9999\s+flag --port\s+OWP_PORT$/m);
    expect(r.stdout).toMatch(/^adminToken\s+\(hidden\)\s+env OWP_ADMIN_TOKEN\s+OWP_ADMIN_TOKEN$/m);
    expect(r.stdout).toMatch(/^limits\.socketsPerToken\s+7\s+env OWP_LIMITS_SOCKETS_PER_TOKEN/m);
    const j = await owp(['config', '--json'], { home, cwd: home, env: { OWP_ADMIN_TOKEN: token } });
    expect(j.code).toBe(0);
    expect(j.stdout).not.toContain(token);
    const settings = JSON.parse(j.stdout).settings as { key: string; value: string; source: { kind: string } }[];
    expect(settings.find((s) => s.key === 'host')).toMatchObject({ value: '127.0.0.1', source: { kind: 'default' } });
  });

  it('a bad setting: `owp config` and `owp serve` exit 2 with every problem, and serve opens nothing', async () => {
    const home = await tempDir();
    const data = join(home, 'data');
    const env = { OWP_DATA: data, OWP_PROT: '1', OWP_LIMITS_BODY_BYTES: 'lots' };
    const c = await owp(['config'], { home, cwd: home, env });
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('owp: config-unknown-env: OWP_PROT is not a setting of the relay (did you mean OWP_PORT?)');
    expect(c.stderr).toContain('owp: config-invalid-value: OWP_LIMITS_BODY_BYTES is "lots"');
    const s = await owp(['serve', '--port', '0'], { home, cwd: home, env });
    expect(s.code).toBe(2);
    expect(s.stderr).toContain('owp serve: config-unknown-env: OWP_PROT');
    expect(s.stderr).toContain('owp serve: config-invalid-value: OWP_LIMITS_BODY_BYTES');
    expect(existsSync(data)).toBe(false);
  });
});
