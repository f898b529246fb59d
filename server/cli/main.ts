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
import { GLOBAL_OPTIONS, RefusedError, UsageError, parseCommandArgs, type OptionSpecs } from './args.js';
import { Context, type Command } from './command.js';
import { Output } from './output.js';
import { serve } from './commands/serve.js';
import { backup, restore } from './commands/backup.js';
import { config } from './commands/config.js';
import { tokenCreate, tokenList, tokenRevoke } from './commands/token.js';
import { areaFreeze, areaUnfreeze, repoAdd, repoList, repoSet } from './commands/repo.js';
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
];

const GLOBAL_FLAGS = new Set([...Object.keys(GLOBAL_OPTIONS).map((n) => `--${n}`), '-h']);
const GLOBAL_WITH_VALUE = new Set(Object.entries(GLOBAL_OPTIONS).filter(([, s]) => s.type === 'string').map(([n]) => `--${n}`));

/** Find the command named by the leading words; returns it and argv without those words. */
export function resolveCommand(argv: string[]): { command?: Command; rest: string[]; words: string[] } {
  const words: { word: string; index: number }[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a.startsWith('-')) {
      if (GLOBAL_WITH_VALUE.has(a)) i++;
      else if (words.length && !GLOBAL_FLAGS.has(a.replace(/=.*$/, ''))) break; // a command flag: the name is complete
      continue;
    }
    words.push({ word: a, index: i });
    // a command's own positionals start after its name; stop once the name is complete
    if (!COMMANDS.some((c) => c.name.startsWith(words.map((w) => w.word).join(' ') + ' '))) break;
  }
  for (let n = words.length; n > 0; n--) {
    const name = words.slice(0, n).map((w) => w.word).join(' ');
    const command = COMMANDS.find((c) => c.name === name);
    if (command) {
      const drop = new Set(words.slice(0, n).map((w) => w.index));
      return { command, rest: argv.filter((_, i) => !drop.has(i)), words: words.slice(0, n).map((w) => w.word) };
    }
  }
  return { rest: argv, words: words.map((w) => w.word) };
}

function optionLines(specs: OptionSpecs): string[] {
  const rows = Object.entries(specs).map(([n, s]) => [`${s.short ? `-${s.short}, ` : ''}--${n}${s.arg ? ` ${s.arg}` : ''}`, s.help]);
  const w = Math.max(0, ...rows.map((r) => r[0]!.length));
  return rows.map(([a, h]) => `  ${a!.padEnd(w)}  ${h}`);
}

export function commandHelp(c: Command): string {
  const lines = [`Usage: owp ${c.name}${c.args ? ` ${c.args}` : ''}${c.options && Object.keys(c.options).length ? ' [options]' : ''}`, '', `${c.summary[0]!.toUpperCase()}${c.summary.slice(1)}.`];
  if (c.options && Object.keys(c.options).length) lines.push('', 'Options:', ...optionLines(c.options));
  lines.push('', 'Global options:', ...optionLines(GLOBAL_OPTIONS));
  if (c.details) lines.push('', c.details);
  lines.push('', 'Exit codes: 0 success, 1 refused (stderr "owp: <code>: <message>"), 2 bad usage.');
  return lines.join('\n') + '\n';
}

export function globalHelp(prefix?: string): string {
  const list = COMMANDS.filter((c) => !prefix || c.name.startsWith(prefix + ' '));
  const w = Math.max(...list.map((c) => (c.name + (c.args ? ' ' + c.args : '')).length));
  return [
    'owp: the OWP Pool command line (Open Work Protocol)',
    '',
    `Usage: owp ${prefix ?? '<command>'}${prefix ? ' <subcommand>' : ''} [options]`,
    '',
    'Commands:',
    ...list.map((c) => `  ${(c.name + (c.args ? ' ' + c.args : '')).padEnd(w)}  ${c.summary}`),
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'Environment: OWP_URL, OWP_TOKEN, OWP_HOME (lease book, default ~/.owp).',
    'Run `owp <command> --help` for a command\'s options. Docs: docs/CLI.md.',
    '',
  ].join('\n');
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const jsonWanted = argv.includes('--json');
  const out = new Output(jsonWanted);
  const { command, rest, words } = resolveCommand(argv);
  const wantsHelp = argv.includes('--help') || argv.includes('-h');
  if (!command) {
    const group = words[0] && COMMANDS.some((c) => c.name.startsWith(words[0] + ' ')) ? words[0] : undefined;
    if (words[0] === 'help') {
      const target = resolveCommand(argv.slice(argv.indexOf('help') + 1)).command;
      process.stdout.write(target ? commandHelp(target) : globalHelp());
      return 0;
    }
    if (wantsHelp) {
      process.stdout.write(globalHelp(group));
      return 0;
    }
    if (argv.includes('--version')) {
      process.stdout.write('owp 0.1.0\n');
      return 0;
    }
    const msg = !words.length ? 'no command given' : group ? `"owp ${group}" needs a subcommand` : `unknown command "${words.join(' ')}"`;
    out.usage(msg, group ? globalHelp(group) : 'Run `owp --help` for the list of commands.');
    return 2;
  }
  if (wantsHelp) {
    process.stdout.write(commandHelp(command));
    return 0;
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
  }
}
