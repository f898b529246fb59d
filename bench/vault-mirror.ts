/**
 * The vault mirror at scale (issue 16 item 3): the real plugin (plugin/main.ts) in the
 * Obsidian double (test/obsidian: a real temp folder, happy-dom), connected to the relay as
 * `npm start` starts it, with `--tasks` tasks on the board. Measured: the first sync (plugin
 * load until every task has its note and the mirror has nothing left to write), and what one
 * task change writes (a maintainer changes one task's priority over HTTP; the vault's create,
 * modify, rename and delete calls are counted until the note shows it and the mirror is idle).
 *
 * Runs in its own process (the `obsidian` import needs bench/obsidian-alias.mjs):
 * `node --import tsx --import ./bench/obsidian-alias.mjs bench/vault-mirror.ts [--tasks=10000]`;
 * `runVaultMirror` below starts that process and reads its JSON line.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { ADMIN, BENCH_LIMITS, agent, call, startRelay } from './harness.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface VaultMirrorResult {
  tasks: number;
  notes: number;
  firstSyncMs: number;
  /** Vault calls for one task change: creates + modifies + renames + deletes. */
  writesForOneChange: number;
}

/** Run the measurement in a child process (see the header). */
export async function runVaultMirror(tasks: number): Promise<VaultMirrorResult> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--import', './bench/obsidian-alias.mjs', 'bench/vault-mirror.ts', `--tasks=${tasks}`, '--json'], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });
  const line = stdout.split('\n').find((l) => l.startsWith('{"tasks"'));
  if (!line) throw new Error(`bench: the vault mirror run printed no result:\n${stdout.slice(-2000)}`);
  return JSON.parse(line) as VaultMirrorResult;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function measure(tasks: number): Promise<VaultMirrorResult> {
  // Loaded here, not at the top: they need the `obsidian` alias (this process only).
  const { makeVaultDir, mirrorIdle, openVault, usePlatform } = await import('../test/helpers/plugin-vault.js');
  usePlatform();
  const dataDir = await mkdtemp(join(tmpdir(), 'owp-bench-'));
  const relay = await startRelay(dataDir, BENCH_LIMITS);
  let vault: Awaited<ReturnType<typeof openVault>> | undefined;
  try {
    const base = relay.url;
    const maint = (await call(base, ADMIN, 'POST', '/api/tokens', { role: 'maintainer' })).body.token as string;
    for (let start = 0; start < tasks; start += 2500) {
      const batch = Array.from({ length: Math.min(2500, tasks - start) }, (_, i) => {
        const n = start + i + 1;
        return { id: `bench/vault${n % 10}#${n}`, repo: `bench/vault${n % 10}`, title: `Task ${n}`, body: `Brief of task ${n}.`, priority: n % 7 };
      });
      const r = await call(base, maint, 'POST', '/api/tasks', { createRepo: true, tasks: batch });
      if (r.status !== 200) throw new Error(`seeding failed: ${JSON.stringify(r.body)}`);
    }
    const workerId = 'vault-w';
    const token = (await call(base, ADMIN, 'POST', '/api/tokens', { role: 'worker', workerId })).body.token as string;
    const dir = await makeVaultDir('bench');
    const t0 = performance.now();
    const v = (vault = await openVault(dir, { relayUrl: base, token, skills: ['ts'], capacity: 3 }));
    const counts = () => v.app.vault.counts;
    for (let waited = 0; counts().create < tasks; waited += 20) {
      if (waited > 600_000) throw new Error(`bench: ${counts().create} of ${tasks} notes after 10 minutes`);
      await sleep(20);
    }
    await mirrorIdle(v);
    const firstSyncMs = performance.now() - t0;
    const notes = counts().create;
    const before = { ...counts() };
    const id = 'bench/vault1#1';
    const p = await call(base, maint, 'PATCH', `/api/tasks/${encodeURIComponent(id)}`, { priority: 6 });
    if (p.status !== 200) throw new Error(`change failed: ${JSON.stringify(p.body)}`);
    for (let waited = 0; v.plugin.session?.mirror.task(id)?.priority !== 6; waited += 20) {
      if (waited > 60_000) throw new Error('bench: the change never reached the plugin');
      await sleep(20);
    }
    await mirrorIdle(v);
    const after = counts();
    const writesForOneChange = after.create + after.modify + after.rename + after.delete - (before.create + before.modify + before.rename + before.delete);
    return { tasks, notes, firstSyncMs, writesForOneChange };
  } finally {
    await vault?.close();
    await relay.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const get = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const r = await measure(Number(get('tasks') ?? 10_000));
  console.log(process.argv.includes('--json') ? JSON.stringify(r) : `vault mirror: ${r.notes} notes for ${r.tasks} tasks, first sync ${(r.firstSyncMs / 1000).toFixed(1)} s; one task change: ${r.writesForOneChange} vault write(s)`);
  agent.destroy();
  process.exit(0);
}
