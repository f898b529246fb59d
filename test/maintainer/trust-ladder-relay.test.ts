/**
 * The trust ladder end to end (issue 12): a repo policy set with the CLI turns it on, a
 * merged PR promotes the worker through the relay's scheduler, the claim and the
 * explanation say which trust level a task needs, and maintainers see and override the
 * level (CLI, audited). Real relay, real LevelDB, the real CLI as a child process.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { owp, owpJson, type OwpOptions } from '../helpers/cli-run.js';
import { startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';

const enc = encodeURIComponent;
const REPO = 'acme/ladder';
let r: TestRelay;
let maint: string;
let wendy: string;
let cli: OwpOptions;

beforeAll(async () => {
  r = await startTestRelay();
  maint = (await r.relay.tokens.create({ role: 'maintainer', name: 'ann' })).token;
  wendy = await r.token('worker', 'wendy');
  cli = { url: r.url, token: maint, home: mkdtempSync(join(tmpdir(), 'owp-ladder-')) };
});

afterAll(async () => {
  await r?.close();
});

describe('the trust ladder through the relay', () => {
  it('is set by the repo policy, promotes on a merged PR, and the next claim of a higher tier is granted', async () => {
    expect((await owp(['repo', 'add', REPO, '--tiers', '0,1,2'], cli)).code).toBe(0);
    const set = await owp(['repo', 'set', REPO, '--trust-ladder', 'on', '--promote-after', '1', '--lookback', '1'], cli);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain('trust ladder   on (promote after 1 merged with none of the last 1 closed; demote after 3 closed in a row)');
    const bad = await owp(['repo', 'set', REPO, '--trust-ladder', 'maybe'], cli);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--trust-ladder takes on or off');

    expect((await r.api(maint, 'POST', '/api/tasks', { tasks: [{ id: `${REPO}:a`, repo: REPO, title: 'A', tier: 1 }, { id: `${REPO}:hi`, repo: REPO, title: 'Hi', tier: 2 }] })).status).toBe(200);
    expect((await r.api(wendy, 'POST', '/api/workers/register', { skills: [], capacity: 5, maxConcurrent: 2 })).status).toBe(200);

    const refused = await r.api(wendy, 'POST', '/api/claim', { taskId: `${REPO}:hi` });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'tier-not-allowed', filter: 'tier' });
    expect(refused.body.error.message).toContain('needs trust level 2; worker wendy is at trust level 1 in acme/ladder');
    const why = await r.api(maint, 'GET', `/api/tasks/${enc(`${REPO}:hi`)}/explain`);
    expect(why.body.explanation.summary).toContain('tier 2 needs trust level 2');

    const c = await r.api(wendy, 'POST', '/api/claim', { taskId: `${REPO}:a` });
    expect(c.status).toBe(200);
    const token = c.body.lease.fencingToken as number;
    expect((await r.api(wendy, 'POST', `/api/tasks/${enc(`${REPO}:a`)}/submit`, { fencingToken: token, prUrl: `https://github.com/${REPO}/pull/1` })).status).toBe(200);
    expect((await r.api(maint, 'POST', `/api/tasks/${enc(`${REPO}:a`)}/review`, { result: 'merged' })).status).toBe(200);

    const entries = (await r.api(maint, 'GET', '/api/audit?worker=wendy&since=0&limit=1000')).body.entries as { kind: string; actor: string; repo?: string; before?: number; after?: number; reason?: string }[];
    expect(entries.filter((e) => e.kind === 'trust-changed')).toEqual([
      expect.objectContaining({ actor: 'scheduler', repo: REPO, before: 1, after: 2, reason: expect.stringContaining('Promoted from tier 1 to 2 in acme/ladder') }),
    ]);
    const workers = (await r.api(maint, 'GET', '/api/workers')).body.workers as { profile: { id: string }; trust: number; trustLevels: Record<string, unknown> }[];
    expect(workers.find((w) => w.profile.id === 'wendy')).toMatchObject({ trust: 1, trustLevels: { [REPO]: { tier: 2, source: 'ladder' } } });

    const granted = await r.api(wendy, 'POST', '/api/claim', { taskId: `${REPO}:hi` });
    expect(granted.status).toBe(200);
    expect(granted.body.lease).toMatchObject({ workerId: 'wendy', taskId: `${REPO}:hi` });
  });

  it('maintainers see the levels and the changes, override one repo (audited) and clear it', async () => {
    const shown = await owp(['trust', 'wendy'], cli);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('Worker wendy: base trust tier 1.');
    expect(shown.stdout).toMatch(/acme\/ladder\s+2\s+trust ladder\s+Promoted from tier 1 to 2/);
    expect(shown.stdout).toMatch(/acme\/ladder\s+1>2\s+scheduler/);

    const pin = await owp(['trust', 'wendy', '0', '--repo', REPO], cli);
    expect(pin.code, pin.stderr).toBe(0);
    expect(pin.stdout).toContain('Worker wendy is trusted up to tier 0 in acme/ladder (override).');
    const listed = await owpJson<{ workers: { profile: { id: string }; trustLevels: Record<string, { tier: number; source: string }> }[] }>(['workers'], cli);
    expect(listed.workers.find((w) => w.profile.id === 'wendy')?.trustLevels[REPO]).toEqual({ tier: 0, source: 'override' });
    const table = await owp(['workers'], cli);
    expect(table.stdout).toMatch(/wendy .* 1 \(acme\/ladder 0\)/);
    const audited = await waitFor(async () => {
      const e = ((await r.api(maint, 'GET', '/api/audit?worker=wendy&since=0&limit=1000')).body.entries as { kind: string; actor: string; repo?: string }[]).filter(
        (x) => x.kind === 'trust-changed' && x.actor === 'maintainer-ann',
      );
      return e.length ? e : undefined;
    }, 10_000, 'the override audited');
    expect(audited[0]).toMatchObject({ repo: REPO, after: 0 });
    expect(audited[0]).not.toHaveProperty('before');
    const pinnedClaim = await r.api(wendy, 'POST', '/api/claim', { taskId: `${REPO}:a` });
    expect(pinnedClaim.status).toBe(409);

    const clear = await owp(['trust', 'wendy', '--repo', REPO, '--clear'], cli);
    expect(clear.code, clear.stderr).toBe(0);
    expect(clear.stdout).toContain('Worker wendy has no override in acme/ladder any more.');
    const after = (await r.api(maint, 'GET', '/api/workers')).body.workers as { profile: { id: string }; trustLevels: Record<string, { tier: number; source: string }> }[];
    expect(after.find((w) => w.profile.id === 'wendy')?.trustLevels[REPO]).toMatchObject({ tier: 2, source: 'ladder' });
    const misuse = await owp(['trust', 'wendy', '--clear'], cli);
    expect(misuse.code).toBe(2);
  });
});
