/**
 * The entry of the compiled `owp` (dist/owp.js, run by bin/owp.js): answers `--help`,
 * `help` and `--version` from the command specs scripts/build.ts embedded at build time
 * (OWP_CLI_SPECS), without loading any command; anything else loads the full CLI
 * (dist/cli.js). Same answers as main.ts: both use help.ts.
 */
import { helpAnswer, type CommandSpec } from './help.js';

declare const OWP_CLI_SPECS: CommandSpec[];

export async function run(argv: string[]): Promise<number> {
  const answer = helpAnswer(argv, OWP_CLI_SPECS);
  if (answer !== undefined) {
    process.stdout.write(answer);
    return 0;
  }
  const { main } = await import('./main.js');
  return main(argv);
}
