/**
 * The relay as a child process (crash and shutdown tests): the same command line the
 * Dockerfile's CMD runs, OWP_PORT=0, data in a folder the test owns.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { waitFor } from './relay.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The CMD of the Dockerfile (exec form), e.g. ["node", "dist/main.js"]. */
export function dockerCmd(): string[] {
  const text = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
  const line = text.split('\n').find((l) => /^CMD\s+\[/.test(l));
  if (!line) throw new Error('Dockerfile has no exec-form CMD');
  return JSON.parse(line.replace(/^CMD\s+/, '')) as string[];
}

export interface RelayProcess {
  proc: ChildProcess;
  url: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startRelayProcess(dataDir: string, env: Record<string, string> = {}, cmd = dockerCmd(), cwd = REPO_ROOT): Promise<RelayProcess> {
  const proc = spawn(cmd[0], cmd.slice(1), {
    cwd,
    env: { ...process.env, OWP_HOST: '127.0.0.1', OWP_PORT: '0', OWP_DATA: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += String(d)));
  proc.stderr!.on('data', (d) => (out += String(d)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = await Promise.race([
    waitFor(() => /listening on (http:\/\/[^\s]+)/.exec(out)?.[1], 30_000, 'relay child to listen'),
    exited.then(({ code, signal }) => {
      throw new Error(`relay exited early (code ${code}, signal ${signal}):\n${out}`);
    }),
  ]);
  return { proc, url, output: () => out, exited };
}
