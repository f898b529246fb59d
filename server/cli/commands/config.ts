/**
 * `owp config [--host H] [--port P] [--data DIR] [--config FILE]`: the relay's effective
 * configuration as `owp serve` with the same flags and environment would use it, each value
 * with where it came from (flag, variable, file or default). Secrets show only as set or not.
 *
 * Exit 0 when the configuration is valid, 2 with one line per problem when not (the same
 * lines `owp serve` would print). Loaded lazily: the schema pulls in zod and yaml.
 */
import { str } from '../args.js';
import type { Command } from '../command.js';
import { table } from '../output.js';

export const SERVE_OPTIONS = {
  host: { type: 'string', arg: 'HOST', help: 'address to listen on (env OWP_HOST, default 127.0.0.1)' },
  port: { type: 'string', arg: 'PORT', help: 'port to listen on, 0 = any free (env OWP_PORT, default 8787)' },
  data: { type: 'string', arg: 'DIR', help: 'data folder for LevelDB (env OWP_DATA, default ./data)' },
  config: { type: 'string', arg: 'FILE', help: 'configuration file (env OWP_CONFIG, default ./owp.config.yaml when present)' },
} as const;

/** `owp serve` only. */
export const RESET_ADMIN_OPTION = {
  'reset-admin': { type: 'boolean', help: 'once listening, revoke every admin token and print a new one (lost admin token; OWP_ADMIN_TOKEN must be unset)' },
} as const;

export const config: Command = {
  name: 'config',
  summary: "print the relay's effective configuration (secrets masked) and where each value comes from",
  options: SERVE_OPTIONS,
  details: 'Every setting, its variable and its file key: docs/CONFIG.md. Exit 2 lists each bad setting.',
  async run(ctx) {
    ctx.noMorePositionals(0);
    const { ConfigError, describeConfig, loadConfig } = await import('../../config/index.js');
    const flags = Object.fromEntries(Object.keys(SERVE_OPTIONS).map((k) => [k, str(ctx.p, k)]));
    let loaded;
    try {
      loaded = loadConfig({ flags, env: ctx.env });
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      if (ctx.out.json) ctx.out.result({ error: { code: e.code, message: e.issues[0]!.message, issues: e.issues } }, () => '');
      for (const i of e.issues) ctx.out.streams.stderr.write(`owp: ${i.code}: ${i.message}\n`);
      return 2;
    }
    const rows = describeConfig(loaded);
    ctx.out.result({ file: loaded.file ?? null, settings: rows.map(({ help: _help, ...r }) => r) }, () => [
      `Configuration file: ${loaded.file ?? '(none)'}`,
      '',
      ...table(
        ['SETTING', 'VALUE', 'FROM', 'VARIABLE'],
        rows.map((r) => [r.key, r.value + (r.reserved ? ' (not used yet)' : ''), r.source.kind === 'default' ? 'default' : `${r.source.kind} ${r.source.name}`, r.env]),
      ),
    ]);
    return 0;
  },
};
