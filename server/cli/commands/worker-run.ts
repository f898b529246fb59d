/** `owp worker run` (the worker loop, see ../worker/loop.ts) and `owp worker tools`. */
import { UsageError, flag, parseDuration, parseIntArg, str } from '../args.js';
import type { Command } from '../command.js';
import { table } from '../output.js';
import { WorkerLoop } from '../worker/loop.js';
import { TOOL_PRESETS, findPreset, onPath } from '../worker/tools.js';
import { REGISTER_OPTIONS, registerFlags } from './workers.js';

/** `--clone-url OWNER/NAME=URL` (repeatable): URLs, local paths and file:// for mirrors and tests. */
export function parseCloneUrls(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const m = /^([A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+)=(.+)$/.exec(v);
    if (!m) throw new UsageError(`--clone-url ${JSON.stringify(v)}: use OWNER/NAME=URL, e.g. --clone-url octo/app=git@github.com:me/app.git or octo/app=/srv/mirrors/app.git`);
    if (m[2]!.startsWith('-')) throw new UsageError(`--clone-url ${JSON.stringify(v)}: the URL must not start with "-"`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

export const workerRun: Command = {
  name: 'worker run',
  summary: 'claim tasks one after another, run your AI tool in a fresh worktree, open its PR, submit',
  options: {
    ...REGISTER_OPTIONS,
    tool: { type: 'string', arg: 'NAME', help: `a preset tool command (${TOOL_PRESETS.map((t) => t.name).join(', ')}); see \`owp worker tools\`` },
    exec: { type: 'string', arg: 'CMD', help: 'shell command to run per task in its worktree (gets OWP_TASK_FILE, OWP_TASK_ID, OWP_REPO_DIR, OWP_BRANCH; never OWP_TOKEN)' },
    workdir: { type: 'string', arg: 'DIR', help: 'cached clones and task folders (default ./owp-work)' },
    'clone-url': { type: 'string', arg: 'OWNER/NAME=URL', multiple: true, help: "clone OWNER/NAME from URL (a mirror, a local path) instead of the policy's cloneUrl or GitHub" },
    'push-remote': { type: 'string', arg: 'REMOTE', help: 'push branches here (e.g. your fork git@github.com:you/app.git) instead of origin' },
    draft: { type: 'boolean', help: 'open pull requests as drafts' },
    'on-empty': { type: 'string', arg: 'fail|release', help: 'when the tool made no changes: report fail (default) or give the task back' },
    'max-failures': { type: 'string', arg: 'N', help: 'stop after N tool failures in a row, showing its last stderr lines (default 2)' },
    resume: { type: 'boolean', help: 'continue the lease a stopped run kept (Ctrl-C keeps it) before claiming' },
    'no-workspace': { type: 'boolean', help: 'run the tool in an empty task folder; it clones, pushes and prints `PR: <url>` itself' },
    once: { type: 'boolean', help: 'stop after one task (exit 0 if it was submitted, 1 otherwise)' },
    poll: { type: 'string', arg: 'DUR', help: 'how often to look for a task when none is free (default 10s, backs off to 8x)' },
    transport: { type: 'string', arg: 'auto|http', help: 'claims and heartbeats over the intent channel (one WebSocket) when the relay offers it (auto, default), or over HTTP only' },
  },
  details: [
    'With --tool or --exec: each task gets a worktree of its repository on branch owp/<task>,',
    'from the up-to-date default branch; the tool runs there with the brief in $OWP_TASK_FILE.',
    'Then new commits (leftover changes are committed) are pushed and the pull request is opened',
    'as you: with `gh` when it is logged in, else with GITHUB_TOKEN/GH_TOKEN at GITHUB_API_URL.',
    'A last output line `PR: <url>` submits that PR instead. A PR awaiting review does not stop',
    'the loop; when a maintainer requests changes, the loop continues that task on its branch.',
    'Without a tool: on a TTY you are asked for the PR URL; otherwise the loop heartbeats until',
    'the task leaves your lease (e.g. `owp submit` from another shell).',
    'Ctrl-C / SIGTERM stops the tool and keeps the lease (exit 130 / 143); --resume continues it.',
    'Guide: docs/CONTRIBUTING-WITH-OWP.md.',
  ].join('\n'),
  async run(ctx) {
    ctx.noMorePositionals(0);
    const transport = str(ctx.p, 'transport') ?? 'auto';
    if (transport !== 'auto' && transport !== 'http') throw new UsageError(`--transport must be auto or http, got ${JSON.stringify(transport)}`);
    ctx.intents = transport === 'auto';
    const pollMs = str(ctx.p, 'poll') !== undefined ? Math.max(100, parseDuration(str(ctx.p, 'poll')!, '--poll')) : 10_000;
    const toolName = str(ctx.p, 'tool');
    const execCmd = str(ctx.p, 'exec');
    if (toolName && execCmd) throw new UsageError('give --tool NAME or --exec CMD, not both');
    let exec = execCmd;
    if (toolName) {
      const preset = findPreset(toolName);
      if (!preset) throw new UsageError(`--tool ${toolName}: no such preset; choose one of ${TOOL_PRESETS.map((t) => t.name).join(', ')} (\`owp worker tools\`), or use --exec CMD`);
      if (!onPath(preset.program))
        throw new UsageError(`--tool ${preset.name}: ${preset.program} (${preset.title}) is not on PATH; install it, or run your tool with --exec CMD. Nothing was claimed.`);
      exec = preset.command;
    }
    const onEmpty = str(ctx.p, 'on-empty') ?? 'fail';
    if (onEmpty !== 'fail' && onEmpty !== 'release') throw new UsageError(`--on-empty must be fail or release, got ${JSON.stringify(onEmpty)}`);
    const cloneUrls = parseCloneUrls((ctx.p.values['clone-url'] as string[] | undefined) ?? []);
    const workdir = str(ctx.p, 'workdir') ?? 'owp-work';
    const pushRemote = str(ctx.p, 'push-remote');
    const loop = new WorkerLoop(ctx, {
      workdir,
      ...(exec
        ? {
            tool: {
              exec,
              ...(flag(ctx.p, 'no-workspace') ? {} : { workspace: { workdir, cloneUrls, ...(pushRemote ? { pushRemote } : {}) } }),
              draft: flag(ctx.p, 'draft'),
              onEmpty,
            },
          }
        : {}),
      once: flag(ctx.p, 'once'),
      pollMs,
      register: registerFlags(ctx),
      maxFailures: str(ctx.p, 'max-failures') !== undefined ? parseIntArg(str(ctx.p, 'max-failures')!, '--max-failures', 1, 1000) : 2,
      resume: flag(ctx.p, 'resume'),
    });
    return loop.run();
  },
};

export const workerTools: Command = {
  name: 'worker tools',
  summary: 'list the --tool presets, their command lines and whether each is on PATH',
  async run(ctx) {
    ctx.noMorePositionals(0);
    const rows = TOOL_PRESETS.map((t) => ({ ...t, path: onPath(t.program) ?? null }));
    ctx.out.result({ tools: rows }, () =>
      [
        ...table(
          ['NAME', 'TOOL', 'ON PATH', 'WRITTEN FOR'],
          rows.map((t) => [t.name, t.title, t.path ? `yes (${t.path})` : `no (${t.program})`, t.version]),
        ),
        '',
        ...rows.map((t) => `${t.name}: ${t.command}`),
        '',
        'Use one with `owp worker run --tool NAME`, or any command with --exec CMD.',
      ].join('\n'),
    );
    return 0;
  },
};
