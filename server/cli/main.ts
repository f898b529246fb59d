/**
 * `owp`: the command line client of OWP Pool (and `owp serve`, the relay).
 *
 * Invariants:
 * - Exit codes: 0 success, 1 the request was refused (stderr `owp: <code>: <message>`),
 *   2 bad usage (stderr `owp: usage: ...` and where to get help). --help always exits 0.
 *   A refusal may add a line `hint: <what to do>` (hints.ts).
 * - Every command accepts --json, --url, --token and --help.
 * - Nothing but `serve` loads the relay.
 */
import { RefusedError, UsageError, parseCommandArgs } from './args.js';
import { commandHelp as helpOf, globalHelp as globalHelpOf, groupOf, helpAnswer, resolveCommand as resolveIn } from './help.js';
import { Context, type Command } from './command.js';
import { Output } from './output.js';
import { serve } from './commands/serve.js';
import { backup, restore } from './commands/backup.js';
import { migrate } from './commands/migrate.js';
import { config } from './commands/config.js';
import { tokenCreate, tokenList, tokenRevoke } from './commands/token.js';
import { areaFreeze, areaUnfreeze, repoAdd, repoDelete, repoList, repoSet } from './commands/repo.js';
import { trust } from './commands/trust.js';
import { importYaml } from './commands/import.js';
import { workerRegister, workers } from './commands/workers.js';
import { workerRun, workerTools } from './commands/worker-run.js';
import { claimCmd, completeCmd, failCmd, heartbeatCmd, releaseCmd, submitCmd } from './commands/lease.js';
import { cancel, requeue, review } from './commands/review.js';
import { status, tasks } from './commands/tasks.js';
import { audit, auditVerify } from './commands/audit.js';
import { githubSync } from './commands/github.js';
import { conformance } from './commands/conformance.js';
import { credits, stats } from './commands/stats.js';
import { reviews, taskShow } from './commands/task-show.js';
import { taskHold, taskPriority, taskUnhold } from './commands/task-edit.js';
import { refusalHint } from './hints.js';

export const COMMANDS: Command[] = [
  serve,
  config,
  tokenCreate,
  tokenList,
  tokenRevoke,
  repoAdd,
  repoList,
  repoSet,
  repoDelete,
  areaFreeze,
  areaUnfreeze,
  trust,
  importYaml,
  workerRegister,
  workerRun,
  workerTools,
  claimCmd,
  heartbeatCmd,
  releaseCmd,
  submitCmd,
  completeCmd,
  failCmd,
  review,
  requeue,
  cancel,
  tasks,
  taskShow,
  taskHold,
  taskUnhold,
  taskPriority,
  reviews,
  workers,
  status,
  stats,
  credits,
  audit,
  auditVerify,
  githubSync,
  conformance,
  backup,
  restore,
  migrate,
];

/** `owp <command>` resolved against every command (see help.ts). */
export function resolveCommand(argv: string[]): { command?: Command; rest: string[]; words: string[] } {
  return resolveIn(argv, COMMANDS);
}

export function commandHelp(c: Command): string {
  return helpOf(c);
}

export function globalHelp(prefix?: string): string {
  return globalHelpOf(COMMANDS, prefix);
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const jsonWanted = argv.includes('--json');
  const out = new Output(jsonWanted);
  const answer = helpAnswer(argv, COMMANDS);
  if (answer !== undefined) {
    process.stdout.write(answer);
    return 0;
  }
  const { command, rest, words } = resolveCommand(argv);
  if (!command) {
    const group = groupOf(words, COMMANDS);
    const msg = !words.length ? 'no command given' : group ? `"owp ${group}" needs a subcommand` : `unknown command "${words.join(' ')}"`;
    out.usage(msg, group ? globalHelp(group) : 'Run `owp --help` for the list of commands.');
    return 2;
  }
  let ctx: Context | undefined;
  try {
    const p = parseCommandArgs(rest, command.options ?? {});
    ctx = new Context(p, out, env, rest);
    return await command.run(ctx);
  } catch (e) {
    if (e instanceof UsageError) {
      out.usage(e.message, `Run \`owp ${command.name} --help\` for usage.`);
      return 2;
    }
    if (e instanceof RefusedError) {
      out.refused(e.code, e.message, e.code === 'invalid-yaml' ? e.details : undefined, refusalHint(e.code, command.name, ctx?.url ?? ''));
      return 1;
    }
    out.refused('internal', `unexpected error: ${(e as Error).stack ?? String(e)}`);
    return 1;
  } finally {
    ctx?.close();
  }
}
