/** `owp worker run`: the worker loop (see ../worker/loop.ts). */
import { flag, parseDuration, str } from '../args.js';
import type { Command } from '../command.js';
import { WorkerLoop } from '../worker/loop.js';
import { REGISTER_OPTIONS, registerFlags } from './workers.js';

export const workerRun: Command = {
  name: 'worker run',
  summary: 'claim tasks one after another, keep leases alive, run your tool, submit its PR',
  options: {
    ...REGISTER_OPTIONS,
    workdir: { type: 'string', arg: 'DIR', help: 'where task folders with TASK.md are written (default ./owp-work)' },
    exec: { type: 'string', arg: 'CMD', help: 'shell command to run per task (gets OWP_TASK_FILE, OWP_TASK_ID; never OWP_TOKEN)' },
    once: { type: 'boolean', help: 'stop after one task (exit 0 if it was submitted, 1 otherwise)' },
    poll: { type: 'string', arg: 'DUR', help: 'how often to look for a task when none is free (default 10s, backs off to 8x)' },
  },
  details: [
    'With --exec: exit 0 and a last output line `PR: <url>` submits that PR (on a TTY you are asked',
    'if the line is missing); a non-zero exit reports `fail` with the exit code.',
    'Without --exec: on a TTY you are asked for the PR URL; otherwise the loop heartbeats until',
    'the task leaves your lease (e.g. `owp submit` from another shell).',
    'Ctrl-C / SIGTERM releases the held lease, then exits 130 / 143.',
  ].join('\n'),
  async run(ctx) {
    ctx.noMorePositionals(0);
    const pollMs = str(ctx.p, 'poll') !== undefined ? Math.max(100, parseDuration(str(ctx.p, 'poll')!, '--poll')) : 10_000;
    const loop = new WorkerLoop(ctx, {
      workdir: str(ctx.p, 'workdir') ?? 'owp-work',
      exec: str(ctx.p, 'exec'),
      once: flag(ctx.p, 'once'),
      pollMs,
      register: registerFlags(ctx),
    });
    return loop.run();
  },
};
