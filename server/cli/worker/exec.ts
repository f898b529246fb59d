/**
 * Running the contributor's tool for one task.
 *
 * Invariants:
 * - The child gets OWP_TASK_FILE, OWP_TASK_ID and OWP_TASK_DIR, and never OWP_TOKEN (nor the
 *   relay's admin or GitHub tokens): the tool's own credentials are its business, ours stay ours.
 * - The child's stdout is passed through line by line; the last non-empty line is kept so a
 *   final `PR: <url>` can be read.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export const SECRET_ENV = ['OWP_TOKEN', 'OWP_ADMIN_TOKEN', 'OWP_GITHUB_TOKEN', 'OWP_GITHUB_WEBHOOK_SECRET'];

export interface ToolRun {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; lastLine: string; error?: string }>;
}

export function childEnv(base: NodeJS.ProcessEnv, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const k of SECRET_ENV) delete env[k];
  return { ...env, ...extra };
}

export function runTool(
  command: string,
  opts: { cwd: string; env: NodeJS.ProcessEnv; stdinTty: boolean; onLine: (line: string) => void },
): ToolRun {
  const child = spawn(command, {
    shell: true,
    cwd: opts.cwd,
    env: opts.env,
    stdio: [opts.stdinTty ? 'inherit' : 'ignore', 'pipe', 'inherit'],
  });
  let lastLine = '';
  let buf = '';
  const take = (line: string): void => {
    if (line.trim()) lastLine = line.trim();
    opts.onLine(line);
  };
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      take(buf.slice(0, i).replace(/\r$/, ''));
      buf = buf.slice(i + 1);
    }
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; lastLine: string; error?: string }>((resolve) => {
    let error: string | undefined;
    child.on('error', (e) => {
      error = e.message;
    });
    child.on('close', (code, signal) => {
      if (buf) take(buf);
      resolve({ code: error && code === null ? 127 : code, signal, lastLine, ...(error ? { error } : {}) });
    });
  });
  return { child, done };
}

/** `PR: https://...` on the last line -> the URL. */
export function prUrlFrom(lastLine: string): string | undefined {
  const m = /^PR:\s*(https?:\/\/\S+)\s*$/i.exec(lastLine.trim());
  return m?.[1];
}
