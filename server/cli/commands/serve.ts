/** `owp serve`: run the relay (server/main.ts runServe), loaded lazily so other commands stay light. */
import { str } from '../args.js';
import type { Command } from '../command.js';

export const serve: Command = {
  name: 'serve',
  summary: 'run the relay (HTTP API, Yjs sync, scheduler, dashboard)',
  options: {
    host: { type: 'string', arg: 'HOST', help: 'address to listen on (env OWP_HOST, default 127.0.0.1)' },
    port: { type: 'string', arg: 'PORT', help: 'port to listen on, 0 = any free (env OWP_PORT, default 8787)' },
    data: { type: 'string', arg: 'DIR', help: 'data folder for LevelDB (env OWP_DATA, default ./data)' },
  },
  details: [
    'Environment: OWP_ADMIN_TOKEN (use this admin token instead of creating one),',
    'OWP_PUBLIC_DASHBOARD=1 (dashboard and events readable without a token),',
    'OWP_GITHUB_TOKEN, OWP_GITHUB_API_URL, OWP_GITHUB_WEBHOOK_SECRET (GitHub import and PR tracking).',
    'On first start without OWP_ADMIN_TOKEN the relay prints a new admin token once.',
    'The relay writes log lines (not JSON) whatever --json says; --url and --token do not apply.',
  ].join('\n'),
  async run(ctx) {
    // Not a literal import: server/main.ts is optional for every other command and loads the whole relay.
    const relayMain = '../../main.js';
    const mod = (await import(relayMain)) as { runServe(argv: string[], env: NodeJS.ProcessEnv): Promise<number> };
    ctx.noMorePositionals(0);
    const argv: string[] = [];
    for (const k of ['host', 'port', 'data'] as const) {
      const v = str(ctx.p, k);
      if (v !== undefined) argv.push(`--${k}`, v);
    }
    return mod.runServe(argv, ctx.env);
  },
};
