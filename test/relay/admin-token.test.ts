/**
 * The admin token (issue 14, item 8): created only once the relay listens (a start that
 * fails creates nothing that was never shown); `owp serve --reset-admin` revokes every admin
 * token and prints a new one; OWP_ADMIN_TOKEN is an additional admin token that lives exactly
 * as long as the variable names it (a new value revokes the previous one: no pile of admins).
 * Real relays: the compiled build as child processes, and in-process relays on real LevelDB.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { owp, startOwp } from '../helpers/cli-run.js';
import { startRelayProcess, type RelayProcess } from '../helpers/child.js';
import { api, startTestRelay, waitFor } from '../helpers/relay.js';

const dirs: string[] = [];
const procs: { kill(): void }[] = [];
const tempDir = async () => {
  const d = await mkdtemp(join(tmpdir(), 'owp-admin-'));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const p of procs) p.kill();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const tokenLine = (out: string) => /OWP_ADMIN_TOKEN=(owp_\S+)/.exec(out)?.[1];
const track = (p: RelayProcess) => {
  procs.push({ kill: () => p.proc.exitCode === null && p.proc.signalCode === null && p.proc.kill('SIGKILL') });
  return p;
};
async function stop(p: RelayProcess): Promise<void> {
  p.proc.kill('SIGTERM');
  expect((await p.exited).code).toBe(0);
}

describe('the admin token', () => {
  it('a first start that fails (port in use) creates no admin token; the next start creates and prints one', async () => {
    const busy = track(await startRelayProcess(await tempDir()));
    const port = new URL(busy.url).port;
    const data = await tempDir();
    const home = await tempDir();
    const failed = await owp(['serve', '--port', port, '--data', data], { home });
    expect(failed.code).toBe(1);
    expect(failed.stderr + failed.stdout).toContain(`Port ${port} on 127.0.0.1 is already in use`);
    expect(tokenLine(failed.stdout)).toBeUndefined();
    await stop(busy);

    const ok = track(await startRelayProcess(data));
    const token = await waitFor(() => tokenLine(ok.output()), 30_000, 'the admin token line');
    expect((await api(ok.url, token, 'GET', '/api/me')).body.role).toBe('admin');
    await stop(ok);
  });

  it('owp serve --reset-admin revokes every admin token, prints a new one, and keeps the others', async () => {
    const data = await tempDir();
    const home = await tempDir();
    const first = track(await startRelayProcess(data));
    const initial = await waitFor(() => tokenLine(first.output()), 30_000, 'the admin token line');
    const second = (await api(first.url, initial, 'POST', '/api/tokens', { role: 'admin', name: 'second admin' })).body.token as string;
    const maint = (await api(first.url, initial, 'POST', '/api/tokens', { role: 'maintainer' })).body.token as string;
    await stop(first);

    const reset = startOwp(['serve', '--reset-admin', '--port', '0', '--data', data], { home });
    procs.push({ kill: () => reset.child.exitCode === null && reset.child.kill('SIGKILL') });
    const url = await waitFor(() => /listening on (http:\/\/\S+)/.exec(reset.out().stdout)?.[1], 60_000, 'relay to listen');
    const fresh = await waitFor(() => tokenLine(reset.out().stdout), 30_000, 'the new admin token line');
    expect(reset.out().stdout).toContain('Revoked every admin token and created a new one');
    expect(fresh).not.toBe(initial);
    for (const old of [initial, second]) {
      const r = await api(url, old, 'GET', '/api/me');
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('token-revoked');
    }
    expect((await api(url, fresh, 'GET', '/api/me')).body.role).toBe('admin');
    expect((await api(url, maint, 'GET', '/api/me')).body.role).toBe('maintainer');
    // Audited in the hash chain: who (the OS user), when, how many admin tokens went; no token.
    const audit = await api(url, fresh, 'GET', '/api/audit?limit=1000');
    const resets = (audit.body.entries as { kind: string; actor: string; at: number; before?: number; after?: number; reason?: string }[]).filter((e) => e.kind === 'admin-reset');
    expect(resets).toHaveLength(1);
    expect(resets[0]).toMatchObject({ actor: `operator-${userInfo().username}`, before: 2, after: 1 });
    expect(resets[0]!.reason).toMatch(/^owp serve --reset-admin by \S+@\S+: revoked 2 admin tokens, created admin token [0-9a-f-]{36}$/);
    expect(Math.abs(resets[0]!.at - Date.now())).toBeLessThan(10 * 60_000);
    const me = await api(url, fresh, 'GET', '/api/me');
    expect(resets[0]!.reason).toContain(me.body.tokenId as string);
    for (const t of [initial, second, fresh, maint]) {
      expect(JSON.stringify(audit.body)).not.toContain(t);
      expect(reset.out().stdout.split('\n').filter((l) => l.includes(t))).toEqual(t === fresh ? [`  OWP_ADMIN_TOKEN=${fresh}`] : []);
    }
    expect((await api(url, fresh, 'GET', '/api/audit/verify')).body).toMatchObject({ ok: true });
    reset.child.kill('SIGTERM');
    expect((await reset.done).code).toBe(0);

    // A normal start afterwards prints nothing and keeps the new token.
    const again = track(await startRelayProcess(data));
    expect((await api(again.url, fresh, 'GET', '/api/me')).body.role).toBe('admin');
    expect(tokenLine(again.output())).toBeUndefined();
    await stop(again);
  });

  it('--reset-admin with OWP_ADMIN_TOKEN set is refused before anything is opened', async () => {
    const home = await tempDir();
    const data = join(await tempDir(), 'data');
    const r = await owp(['serve', '--reset-admin', '--port', '0', '--data', data], { home, env: { OWP_ADMIN_TOKEN: 'owp_env_admin_token_0123456789' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--reset-admin revokes every admin token, but OWP_ADMIN_TOKEN names one that would stay an admin; unset it');
    expect(r.stderr).not.toContain('owp_env_admin_token_0123456789');
  });

  it('OWP_ADMIN_TOKEN is live while set: a new value revokes the previous one, unset revokes it and a first admin is made', async () => {
    const dataDir = await tempDir();
    const e1 = 'owp_env_admin_one_0123456789abcdef';
    const e2 = 'owp_env_admin_two_0123456789abcdef';
    const a = await startTestRelay({ dataDir, adminToken: e1 });
    expect(a.relay.createdAdminToken).toBeUndefined();
    const made = (await a.api(e1, 'POST', '/api/tokens', { role: 'admin', name: 'made by e1' })).body.token as string;
    await a.close();

    const b = await startTestRelay({ dataDir, adminToken: e2 });
    expect((await b.api(e1, 'GET', '/api/me')).body.error.code).toBe('token-revoked');
    expect((await b.api(e2, 'GET', '/api/me')).body.role).toBe('admin');
    // A token made through the API is not the variable's: it stays.
    expect((await b.api(made, 'GET', '/api/me')).body.role).toBe('admin');
    const admins = (await b.api(e2, 'GET', '/api/tokens')).body.tokens.filter((t: { role: string; revokedAt?: number }) => t.role === 'admin' && t.revokedAt === undefined);
    expect(admins).toHaveLength(2);
    // Restarting with the same value changes nothing.
    await b.close();
    const same = await startTestRelay({ dataDir, adminToken: e2 });
    expect((await same.api(e2, 'GET', '/api/tokens')).body.tokens.filter((t: { role: string; revokedAt?: number }) => t.role === 'admin' && t.revokedAt === undefined)).toHaveLength(2);
    await same.api(e2, 'DELETE', `/api/tokens/${(await same.api(made, 'GET', '/api/me')).body.tokenId}`);
    await same.close();

    // Unset: the variable's token is revoked; with no admin left, a first one is made and returned once.
    const c = await startTestRelay({ dataDir, adminToken: '' });
    expect((await c.api(e2, 'GET', '/api/me')).body.error.code).toBe('token-revoked');
    const created = c.relay.createdAdminToken!;
    expect(created).toMatch(/^owp_/);
    expect((await c.api(created, 'GET', '/api/me')).body.role).toBe('admin');
    await c.close();
  });
});
