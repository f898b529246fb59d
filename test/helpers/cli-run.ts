/**
 * Test helper: run the real `owp` CLI (`node bin/owp.js`) as a child process.
 * Never inherits OWP_TOKEN / OWP_URL / OWP_HOME from the test runner's environment.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const OWP_BIN = fileURLToPath(new URL('../../bin/owp.js', import.meta.url));
export const REPO_ROOT = join(OWP_BIN, '..', '..');

export interface OwpResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface OwpOptions {
  url?: string;
  token?: string;
  home: string;
  cwd?: string;
  env?: Record<string, string | undefined>;
}

export function owpEnv(o: OwpOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('OWP_')) delete env[k];
  return {
    ...env,
    OWP_HOME: o.home,
    ...(o.url ? { OWP_URL: o.url } : {}),
    ...(o.token ? { OWP_TOKEN: o.token } : {}),
    NO_COLOR: '1',
    ...o.env,
  };
}

/** Start `owp ARGS`; collects output; `done` resolves when it exits. */
export function startOwp(args: string[], o: OwpOptions): { child: ChildProcess; out: () => OwpResult; done: Promise<OwpResult> } {
  const child = spawn(process.execPath, [OWP_BIN, ...args], { cwd: o.cwd ?? REPO_ROOT, env: owpEnv(o), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const out = (): OwpResult => ({ code: child.exitCode, signal: child.signalCode, stdout, stderr });
  const done = new Promise<OwpResult>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, out, done };
}

export function owp(args: string[], o: OwpOptions): Promise<OwpResult> {
  return startOwp(args, o).done;
}

/** Run and parse stdout as JSON (adds --json). Throws with the output when it does not exit 0. */
export async function owpJson<T = any>(args: string[], o: OwpOptions): Promise<T> {
  const r = await owp([...args, '--json'], o);
  if (r.code !== 0) throw new Error(`owp ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}
