/**
 * The `owp` help texts and how a command line names its command, over command specs (name,
 * arguments, summary, options, details) alone. Both the full CLI (main.ts) and the light
 * entry of the compiled build (fast.ts, which answers `--help` without loading any command's
 * dependencies) use these same functions, so their answers cannot differ.
 *
 * Invariants:
 * - Imports nothing heavy: this module is on the path of `owp --help`.
 * - `helpAnswer` returns the text to print (exit 0) when the command line asks for help or
 *   the version, and undefined when a command must run (or usage is wrong).
 */
export type OptionSpec = { type: 'string' | 'boolean'; short?: string; multiple?: boolean; help: string; arg?: string };
export type OptionSpecs = Record<string, OptionSpec>;

export const GLOBAL_OPTIONS: OptionSpecs = {
  url: { type: 'string', arg: 'URL', help: 'relay URL (env OWP_URL, default http://127.0.0.1:8787)' },
  token: { type: 'string', arg: 'TOKEN', help: 'API token; its role decides what you may do (env OWP_TOKEN)' },
  json: { type: 'boolean', help: 'print machine-readable JSON on stdout' },
  help: { type: 'boolean', short: 'h', help: 'show help for this command' },
};

export const VERSION_TEXT = 'owp 0.1.0\n';

/** What help needs to know of a command. */
export interface CommandSpec {
  /** Words after `owp`, e.g. `token create`. */
  name: string;
  /** Positional arguments as shown in help, e.g. `TASK_ID`. */
  args?: string;
  summary: string;
  options?: OptionSpecs;
  /** Extra help text (examples, notes). */
  details?: string;
}

const GLOBAL_FLAGS = new Set([...Object.keys(GLOBAL_OPTIONS).map((n) => `--${n}`), '-h']);
const GLOBAL_WITH_VALUE = new Set(Object.entries(GLOBAL_OPTIONS).filter(([, s]) => s.type === 'string').map(([n]) => `--${n}`));

/** Find the command named by the leading words; returns it and argv without those words. */
export function resolveCommand<C extends CommandSpec>(argv: string[], commands: readonly C[]): { command?: C; rest: string[]; words: string[] } {
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
    if (!commands.some((c) => c.name.startsWith(words.map((w) => w.word).join(' ') + ' '))) break;
  }
  for (let n = words.length; n > 0; n--) {
    const name = words.slice(0, n).map((w) => w.word).join(' ');
    const command = commands.find((c) => c.name === name);
    if (command) {
      const drop = new Set(words.slice(0, n).map((w) => w.index));
      return { command, rest: argv.filter((_, i) => !drop.has(i)), words: words.slice(0, n).map((w) => w.word) };
    }
  }
  return { rest: argv, words: words.map((w) => w.word) };
}

/** The group (`token`, `repo`...) the first word names, if it names one. */
export function groupOf(words: string[], commands: readonly CommandSpec[]): string | undefined {
  return words[0] && commands.some((c) => c.name.startsWith(words[0] + ' ')) ? words[0] : undefined;
}

function optionLines(specs: OptionSpecs): string[] {
  const rows = Object.entries(specs).map(([n, s]) => [`${s.short ? `-${s.short}, ` : ''}--${n}${s.arg ? ` ${s.arg}` : ''}`, s.help]);
  const w = Math.max(0, ...rows.map((r) => r[0]!.length));
  return rows.map(([a, h]) => `  ${a!.padEnd(w)}  ${h}`);
}

export function commandHelp(c: CommandSpec): string {
  const lines = [`Usage: owp ${c.name}${c.args ? ` ${c.args}` : ''}${c.options && Object.keys(c.options).length ? ' [options]' : ''}`, '', `${c.summary[0]!.toUpperCase()}${c.summary.slice(1)}.`];
  if (c.options && Object.keys(c.options).length) lines.push('', 'Options:', ...optionLines(c.options));
  lines.push('', 'Global options:', ...optionLines(GLOBAL_OPTIONS));
  if (c.details) lines.push('', c.details);
  lines.push('', 'Exit codes: 0 success, 1 refused (stderr "owp: <code>: <message>"), 2 bad usage.');
  return lines.join('\n') + '\n';
}

export function globalHelp(commands: readonly CommandSpec[], prefix?: string): string {
  const list = commands.filter((c) => !prefix || c.name.startsWith(prefix + ' '));
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

/** The text to print when the command line asks for help or the version; undefined otherwise. */
export function helpAnswer(argv: string[], commands: readonly CommandSpec[]): string | undefined {
  const { command, words } = resolveCommand(argv, commands);
  const wantsHelp = argv.includes('--help') || argv.includes('-h');
  if (command) return wantsHelp ? commandHelp(command) : undefined;
  if (words[0] === 'help') {
    const target = resolveCommand(argv.slice(argv.indexOf('help') + 1), commands).command;
    return target ? commandHelp(target) : globalHelp(commands);
  }
  if (wantsHelp) return globalHelp(commands, groupOf(words, commands));
  if (argv.includes('--version')) return VERSION_TEXT;
  return undefined;
}

/** The specs of commands, as data (the compiled build embeds them in its light entry). */
export function specsOf(commands: readonly CommandSpec[]): CommandSpec[] {
  return commands.map(({ name, args, summary, options, details }) => ({ name, ...(args ? { args } : {}), summary, ...(options ? { options } : {}), ...(details ? { details } : {}) }));
}
