/**
 * Running the contributor's tool for one task.
 *
 * Invariants:
 * - The child gets OWP_TASK_FILE, OWP_TASK_ID and OWP_TASK_DIR, and never OWP_TOKEN (nor the
 *   relay's admin or GitHub tokens): the tool's own credentials are its business, ours stay ours.
 * - The child's stdout is passed through line by line; the last non-empty line is kept so a
 *   final `PR: <url>` can be read. Its stderr is passed through as it comes, and its last
 *   16 KiB are kept for the failure reason (redacted and cut there, see redact.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { TailBuffer } from './redact.js';

export const SECRET_ENV = ['OWP_TOKEN', 'OWP_ADMIN_TOKEN', 'OWP_GITHUB_TOKEN', 'OWP_GITHUB_WEBHOOK_SECRET'];

export interface ToolRun {
  child: ChildProcess;
  /** Signal the tool and everything it started (its own process group when not on a TTY). */
  kill(signal: NodeJS.Signals): void;
  done: Promise<ToolResult>;
}

export interface ToolResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  lastLine: string;
  /** The end of what the tool wrote to stderr. */
  stderr: string;
  error?: string;
}

export function childEnv(base: NodeJS.ProcessEnv, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const k of SECRET_ENV) delete env[k];
  return { ...env, ...extra };
}

export function runTool(
  command: string,
  opts: { cwd: string; env: NodeJS.ProcessEnv; stdinTty: boolean; onLine: (line: string) => void; onStderr?: (chunk: string) => void },
): ToolRun {
  const child = spawn(command, {
    shell: true,
    cwd: opts.cwd,
    env: opts.env,
    stdio: [opts.stdinTty ? 'inherit' : 'ignore', 'pipe', 'pipe'],
    // Off a TTY the tool gets its own process group, so stopping it also stops what the
    // shell started (a shell killed alone leaves its children holding our stdout pipe).
    // On a TTY it stays in the foreground group: it may read the terminal, and Ctrl-C reaches it.
    detached: !opts.stdinTty,
  });
  const kill = (signal: NodeJS.Signals): void => {
    try {
      if (!opts.stdinTty && child.pid) process.kill(-child.pid, signal);
      else child.kill(signal);
    } catch {
      // already gone
    }
  };
  let lastLine = '';
  let buf = '';
  const take = (line: string): void => {
    if (line.trim()) lastLine = line.trim();
    opts.onLine(line);
  };
  const errTail = new TailBuffer();
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    errTail.push(chunk);
    (opts.onStderr ?? ((c: string) => process.stderr.write(c)))(chunk);
  });
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      take(buf.slice(0, i).replace(/\r$/, ''));
      buf = buf.slice(i + 1);
    }
  });
  const done = new Promise<ToolResult>((resolve) => {
    let error: string | undefined;
    child.on('error', (e) => {
      error = e.message;
    });
    let settled = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (settled) return;
      settled = true;
      if (buf) take(buf);
      buf = '';
      resolve({ code: error && code === null ? 127 : code, signal, lastLine, stderr: errTail.value(), ...(error ? { error } : {}) });
    };
    child.on('close', finish);
    // If something the tool left behind keeps stdout open, do not wait for it forever.
    child.on('exit', (code, signal) => setTimeout(() => finish(code, signal), 2000).unref());
  });
  return { child, kill, done };
}

/** `PR: https://...` on the last line -> the URL. */
export function prUrlFrom(lastLine: string): string | undefined {
  const m = /^PR:\s*(https?:\/\/\S+)\s*$/i.exec(lastLine.trim());
  return m?.[1];
}
