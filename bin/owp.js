#!/usr/bin/env node
// The `owp` command. Runs the TypeScript sources through tsx so a clone works without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../server/cli/main.ts');
const code = await main(process.argv.slice(2));
if (typeof code === 'number') process.exitCode = code;
