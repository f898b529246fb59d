/** `npm run demo` as a child process: it prints a dashboard URL that answers, and stops cleanly. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/relay.js';

interface Demo {
  child: ChildProcess;
  out: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startDemo(args: string[]): Demo {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += String(d)));
  child.stderr!.on('data', (d) => (out += String(d)));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, out: () => out, exit };
}

async function dashboardOf(d: Demo): Promise<{ base: string; token: string; dataDir: string }> {
  const m = await waitFor(() => /Dashboard: (http:\/\/[^\s/]+)\/#token=(\S+)/.exec(d.out()), 60_000, `the dashboard URL in:\n${d.out()}`);
  const dir = await waitFor(() => /data in (\S+)/.exec(d.out()), 10_000, 'the data folder');
  return { base: m[1]!, token: m[2]!, dataDir: dir[1]! };
}

describe('npm run demo', () => {
  it('prints a dashboard URL that answers, moves the board, and exits 0 after --duration', async () => {
    const d = startDemo(['--port', '0', '--workers', '3', '--duration', '12s']);
    try {
      const { base, token, dataDir } = await dashboardOf(d);
      const page = await fetch(`${base}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('OWP Pool');
      const me = await (await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${token}` } })).json();
      expect(me.role).toBe('viewer');
      // The simulated workers take leases.
      await waitFor(
        async () => {
          const r = await (await fetch(`${base}/api/audit?limit=200`, { headers: { authorization: `Bearer ${token}` } })).json();
          return (r.entries as { kind: string }[]).some((e) => e.kind === 'lease-granted');
        },
        30_000,
        'a lease granted by the demo',
      );
      const { code } = await d.exit;
      expect(code, d.out()).toBe(0);
      expect(d.out()).toContain('Demo stopped; temporary data removed.');
      expect(existsSync(dataDir)).toBe(false);
    } finally {
      d.child.kill('SIGKILL');
    }
  });

  it('stops cleanly on SIGINT and removes its temporary folder', async () => {
    const d = startDemo(['--port', '0', '--workers', '2']);
    try {
      const { dataDir } = await dashboardOf(d);
      expect(existsSync(dataDir)).toBe(true);
      d.child.kill('SIGINT');
      const { code } = await d.exit;
      expect(code, d.out()).toBe(0);
      expect(d.out()).toContain('Stopping the demo (SIGINT)');
      expect(existsSync(dataDir)).toBe(false);
    } finally {
      d.child.kill('SIGKILL');
    }
  });

  it('refuses a bad option with a sentence and exit code 2', async () => {
    const d = startDemo(['--workers', 'lots']);
    const { code } = await d.exit;
    expect(code).toBe(2);
    expect(d.out()).toMatch(/--workers must be a whole number/);
  });
});
