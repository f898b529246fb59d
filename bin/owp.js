#!/usr/bin/env node
// The `owp` command: runs the compiled CLI in dist/, which `npm ci` builds (the `prepare`
// script; `npm run build:server` rebuilds it after changing the sources).
import module from 'node:module';

// Node 22.1+: keep compiled code between runs (a faster start); older Node has no cache.
module.enableCompileCache?.();
let cli;
try {
  cli = await import('../dist/owp.js');
} catch (e) {
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes('dist/owp.js')) throw e;
  process.stderr.write('owp: the compiled CLI (dist/owp.js) is missing; run `npm ci` or `npm run build:server` in the OWP Pool folder.\n');
  process.exit(1);
}
const code = await cli.run(process.argv.slice(2));
if (typeof code === 'number') process.exitCode = code;
