/**
 * Running git (and other helper programs) for the worker loop: no shell, arguments as a
 * list, the contributor's own environment (their credentials, helpers and identity).
 *
 * Invariants:
 * - Never through a shell: task ids, branch names and URLs are arguments, not code.
 * - The child never gets OWP_TOKEN or the relay's secrets (childEnv in exec.ts).
 * - A failure throws StepError naming the command, with a bounded, redacted tail of stderr.
 */
import { execFile } from 'node:child_process';
import { childEnv } from './exec.js';
import { redact, tail } from './redact.js';

export class StepError extends Error {
  constructor(
    message: string,
    readonly stderrTail = '',
  ) {
    super(message);
    this.name = 'StepError';
  }
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Run `file args` in `cwd`; resolves with the exit code (never rejects for a non-zero exit). */
export function run(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { cwd: opts.cwd, env: opts.env ?? childEnv(process.env, { GIT_TERMINAL_PROMPT: '0' }), maxBuffer: 64 * 1024 * 1024, timeout: opts.timeoutMs ?? 10 * 60_000 },
      (error, stdout, stderr) => {
        const e = error as (NodeJS.ErrnoException & { code?: number | string }) | null;
        const code = !e ? 0 : typeof e.code === 'number' ? e.code : e.code === 'ENOENT' ? 127 : 1;
        resolve({ stdout: String(stdout), stderr: String(stderr) || (e && typeof e.code !== 'number' ? e.message : ''), code });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** git with the given args; throws StepError on a non-zero exit. Returns trimmed stdout. */
export async function git(cwd: string | undefined, args: string[], what = `git ${args[0]}`): Promise<string> {
  const r = await run('git', args, { cwd });
  if (r.code !== 0) {
    const t = tail(redact(r.stderr || r.stdout), 8, 1200);
    throw new StepError(`${what} failed (exit ${r.code})${t ? `: ${t}` : ''}`, t);
  }
  return r.stdout.trim();
}

/** git that answers a question: stdout when it exits 0, undefined otherwise. */
export async function gitMaybe(cwd: string | undefined, args: string[]): Promise<string | undefined> {
  const r = await run('git', args, { cwd });
  return r.code === 0 ? r.stdout.trim() : undefined;
}
