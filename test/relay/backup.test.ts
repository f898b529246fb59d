/**
 * Backups of a busy relay: workers claim and release while the real `owp backup` streams a
 * snapshot; `owp restore` starts a new folder from it; a relay started there has the same
 * tasks, every lease it holds is one a client was granted (and every lease held for the whole
 * backup is there), the old tokens still authenticate, and the audit chain verifies. Damaged,
 * truncated and misplaced restores are refused before anything is written.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { owp } from '../helpers/cli-run.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

const WORKERS = 6;
const TASKS = 300;

interface Grant {
  taskId: string;
  workerId: string;
  fencingToken: number;
}

const dirs: string[] = [];
const relays: TestRelay[] = [];
afterAll(async () => {
  for (const r of relays) await r.close().catch(() => undefined);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

const key = (g: Grant) => `${g.taskId} ${g.workerId} ${g.fencingToken}`;

describe('owp backup / owp restore', () => {
  let backupFile = '';
  let home = '';

  it('backs up a relay while workers claim, and a relay restored from it has the same tasks, leases, tokens and audit chain', async () => {
    home = await tempDir('owp-backup-home-');
    const a = await startTestRelay();
    relays.push(a);
    const maint = await a.token('maintainer');
    expect((await a.api(maint, 'PUT', '/api/repos/o/r', { reviewBudget: 1000 })).status).toBe(200);
    const tasks = Array.from({ length: TASKS }, (_, i) => ({ id: `o/r#${i + 1}`, repo: 'o/r', title: `Task ${i + 1}` }));
    expect((await a.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks })).status).toBe(200);
    const workers: { id: string; token: string }[] = [];
    for (let i = 0; i < WORKERS; i++) {
      const id = `w${i}`;
      const token = await a.token('worker', id);
      expect((await a.api(token, 'POST', '/api/workers/register', { skills: [], capacity: 1000, maxConcurrent: 100 })).status).toBe(200);
      workers.push({ id, token });
    }

    // Each worker claims, and past two leases releases its oldest: leases keep changing.
    const granted: Grant[] = [];
    const releaseSent = new Set<string>();
    let backupDone = false;
    let stop = false;
    let errors = 0;
    const loops = workers.map(async (w) => {
      const held: Grant[] = [];
      while (!stop) {
        const res = await a.api(w.token, 'POST', '/api/claim', {});
        if (res.status === 200 && res.body.outcome.status === 'granted') {
          const g = { taskId: res.body.outcome.taskId, workerId: w.id, fencingToken: res.body.outcome.fencingToken };
          granted.push(g);
          held.push(g);
        } else if (res.status >= 500) errors += 1;
        if (held.length > 2) {
          const old = held.shift()!;
          if (!backupDone) releaseSent.add(key(old));
          else releaseSent.add(`after ${key(old)}`);
          const rel = await a.api(w.token, 'POST', `/api/tasks/${encodeURIComponent(old.taskId)}/release`, { fencingToken: old.fencingToken });
          if (rel.status >= 500) errors += 1;
        }
      }
    });

    // Busy first: every worker holds leases before the backup starts.
    while (granted.length < WORKERS * 3) await new Promise((r) => setTimeout(r, 20));
    const heldBefore = [...granted];
    const auditBefore = (await a.api(a.adminToken, 'GET', '/api/audit/verify')).body;
    backupFile = join(home, 'pool.owpbak');
    const r = await owp(['backup', backupFile, '--json'], { url: a.url, token: a.adminToken, home });
    backupDone = true;
    stop = true;
    await Promise.all(loops);
    expect(r.code, r.stderr).toBe(0);
    expect(errors).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ file: backupFile, entries: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    // Nothing but the backup itself is left beside it (the partial file was renamed).
    expect(await readdir(home)).toEqual(['pool.owpbak']);

    const data = join(await tempDir('owp-restore-'), 'data');
    const rr = await owp(['restore', backupFile, '--data', data], { home });
    expect(rr.code, rr.stderr).toBe(0);
    expect(rr.stdout).toContain(`owp serve --data ${data}`);

    const b = await startTestRelay({ dataDir: data });
    relays.push(b);
    // Same tasks.
    const tasksA = (await a.api(maint, 'GET', '/api/tasks')).body;
    const tasksB = (await b.api(maint, 'GET', '/api/tasks')).body;
    const ids = (t: any) => (Array.isArray(t) ? t : t.tasks).map((x: any) => x.id ?? x.taskId).sort();
    expect(ids(tasksB)).toEqual(ids(tasksA));
    expect(ids(tasksB)).toHaveLength(TASKS);
    // Leases: each one a client was granted, exactly; each held through the backup is there.
    const seen = new Set(granted.map(key));
    const leases = Object.values(b.relay.engine.ledger().tasks)
      .filter((t) => t.state === 'leased')
      .map((t) => ({ taskId: t.taskId, workerId: t.lease!.workerId, fencingToken: t.lease!.fencingToken }));
    expect(leases.length).toBeGreaterThan(0);
    for (const l of leases) expect(seen.has(key(l)), `restored lease ${key(l)} was never granted`).toBe(true);
    const restored = new Set(leases.map(key));
    for (const g of heldBefore) if (!releaseSent.has(key(g))) expect(restored.has(key(g)), `lease ${key(g)} held through the backup is missing`).toBe(true);
    // The old tokens authenticate (maintainer, workers; the stored hashes came along).
    expect((await b.api(maint, 'GET', '/api/me')).status).toBe(200);
    for (const w of workers) expect((await b.api(w.token, 'GET', '/api/me')).body).toMatchObject({ role: 'worker', workerId: w.id });
    // The audit chain is whole and at least as long as before the backup began.
    const audit = (await b.api(maint, 'GET', '/api/audit/verify')).body;
    expect(audit.ok).toBe(true);
    expect(audit.entries).toBeGreaterThanOrEqual(auditBefore.entries);
    // And the restored relay works: a restored lease is released with its old token and fencing token.
    const l = leases[0]!;
    const owner = workers.find((w) => w.id === l.workerId)!;
    const rel = await b.api(owner.token, 'POST', `/api/tasks/${encodeURIComponent(l.taskId)}/release`, { fencingToken: l.fencingToken });
    expect(rel.body.outcome).toMatchObject({ status: 'applied', taskId: l.taskId });
  });

  it('refuses a folder that is not empty, and a damaged or truncated backup, writing nothing', async () => {
    expect(backupFile).not.toBe('');
    const text = await readFile(backupFile, 'utf8');
    const lines = text.trimEnd().split('\n');
    const full = await tempDir('owp-restore-full-');
    await writeFile(join(full, 'keep.txt'), 'mine');
    const notEmpty = await owp(['restore', backupFile, '--data', full], { home });
    expect(notEmpty.code).toBe(1);
    expect(notEmpty.stderr).toMatch(/owp: not-empty: .* is not empty/);
    expect(await readdir(full)).toEqual(['keep.txt']);

    const cases: [string, string, RegExp][] = [
      ['truncated.owpbak', lines.slice(0, -1).join('\n') + '\n', /cut short/],
      ['torn.owpbak', text.slice(0, Math.floor(text.length / 2)), /not JSON|cut short/],
      ['edited.owpbak', [lines[0], ...lines.slice(1, -1).map((l, i) => (i === 3 ? l.replace(/"[A-Za-z0-9+/=]+"\]$/, '"AAAA"]') : l)), lines.at(-1)].join('\n') + '\n', /checksum/],
      ['other.owpbak', '{"hello":1}\n', /not an OWP backup/],
      ['empty.owpbak', '', /empty/],
    ];
    for (const [name, content, why] of cases) {
      const file = join(home, name);
      await writeFile(file, content);
      const data = join(await tempDir('owp-restore-bad-'), 'data');
      const r = await owp(['restore', file, '--data', data], { home });
      expect(r.code, `${name}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(/owp: invalid-backup: /);
      expect(r.stderr).toMatch(why);
      await expect(readdir(data)).rejects.toMatchObject({ code: 'ENOENT' });
    }
  });

  it('refuses a backup to a token that is not an admin, and leaves FILE alone', async () => {
    const a = relays[0]!;
    const viewer = await a.token('viewer');
    const file = join(home, 'viewer.owpbak');
    await mkdir(home, { recursive: true });
    const r = await owp(['backup', file], { url: a.url, token: viewer, home });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/owp: (forbidden|not-authorized): /);
    await expect(readFile(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
