/** `owp serve`: run the relay (server/main.ts runServe), loaded lazily so other commands stay light. */
import { str } from '../args.js';
import type { Command } from '../command.js';
import { RESET_ADMIN_OPTION, SERVE_OPTIONS } from './config.js';

export const serve: Command = {
  name: 'serve',
  summary: 'run the relay (HTTP API, Yjs sync, scheduler, dashboard)',
  options: { ...SERVE_OPTIONS, ...RESET_ADMIN_OPTION },
  details: [
    'Settings: flags win over OWP_* variables, which win over owp.config.yaml. Every setting',
    '(limits, GitHub, webhook, OWP_ADMIN_TOKEN...) is in docs/CONFIG.md; `owp config` shows the',
    'effective ones. On its first start, once it listens, the relay prints a new admin token once;',
    'OWP_ADMIN_TOKEN is an additional admin token, live while the variable names it. Lost every',
    'admin token? Stop the relay and start it once with --reset-admin (same data folder).',
    'The relay writes log lines (not JSON) whatever --json says; --url and --token do not apply.',
  ].join('\n'),
  async run(ctx) {
    // Loaded only here: server/main.ts pulls in the whole relay, which no other command needs.
    const mod = await import('../../main.js');
    ctx.noMorePositionals(0);
    const argv: string[] = [];
    for (const k of Object.keys(SERVE_OPTIONS)) {
      const v = str(ctx.p, k);
      if (v !== undefined) argv.push(`--${k}`, v);
    }
    if (ctx.p.values['reset-admin'] === true) argv.push('--reset-admin');
    return mod.runServe(argv, ctx.env);
  },
};
