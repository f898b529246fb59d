/**
 * The `owp` CLI end to end: the real CLI as a child process against a real relay
 * (startTestRelay: real LevelDB in a temp folder, real HTTP), OWP_HOME in a temp folder.
 */
import { mkdtempSync, readFileSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, waitFor } from '../helpers/relay.js';
import { owp, owpJson, type OwpOptions } from '../helpers/cli-run.js';

type TestRelay = Awaited<ReturnType<typeof startTestRelay>>;

let relay: TestRelay;
let dir: string;
let admin: OwpOptions;
let maint: OwpOptions;

beforeAll(async () => {
  relay = await startTestRelay();
  dir = mkdtempSync(join(tmpdir(), 'owp-cli-journeys-'));
  admin = { url: relay.url, token: relay.adminToken, home: join(dir, 'admin-home') };
  const m = await owpJson<{ token: string; role: string }>(['token', 'create', '--role', 'maintainer', '--name', 'mia'], admin);
  expect(m.role).toBe('maintainer');
  expect(m.token).toMatch(/^owp_/);
  maint = { url: relay.url, token: m.token, home: join(dir, 'maint-home') };
});

afterAll(async () => {
  await relay?.close();
});

async function workerAs(id: string): Promise<OwpOptions> {
  const t = await owpJson<{ token: string; workerId: string }>(['token', 'create', '--role', 'worker', '--worker', id], admin);
  expect(t.workerId).toBe(id);
  return { url: relay.url, token: t.token, home: join(dir, `home-${id}`) };
}

function yamlFile(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

describe('contributor journey', () => {
  it('register, claim within skills and capacity, heartbeat, submit, review merged, credit shown', async () => {
    await owpJson(['repo', 'add', 'acme/widgets', '--budget', '5', '--tiers', '0,1'], maint);
    const file = yamlFile(
      'widgets.yaml',
      [
        'repo: acme/widgets',
        'tasks:',
        '  - id: t1',
        '    title: Add a --verbose flag',
        '    points: 2',
        '    skills: [typescript]',
        '  - id: t2',
        '    title: Port the parser',
        '    points: 3',
        '    skills: [typescript]',
        '  - id: t3',
        '    title: Rewrite it in Rust',
        '    skills: [rust]',
        '',
      ].join('\n'),
    );
    const imp = await owpJson<{ added: string[] }>(['import', 'yaml', file], maint);
    expect(imp.added.sort()).toEqual(['acme/widgets:t1', 'acme/widgets:t2', 'acme/widgets:t3']);

    const alice = await workerAs('alice');
    const reg = await owpJson<{ worker: { id: string; skills: string[]; capacity: number } }>(
      ['worker', 'register', '--name', 'Alice', '--skills', 'typescript,docs', '--capacity', '3', '--max-concurrent', '2'],
      alice,
    );
    expect(reg.worker).toMatchObject({ id: 'alice', skills: ['typescript', 'docs'], capacity: 3 });

    const rust = await owp(['claim', 'acme/widgets:t3'], alice);
    expect(rust.code).toBe(1);
    expect(rust.stderr).toMatch(/^owp: skill-mismatch: /);

    const claim = await owpJson<{ task: { id: string; title: string; repo: string; points: number }; lease: { fencingToken: number; expiresAt: number } }>(
      ['claim', 'acme/widgets:t1'],
      alice,
    );
    expect(claim.task).toMatchObject({ id: 'acme/widgets:t1', title: 'Add a --verbose flag', repo: 'acme/widgets', points: 2 });
    expect(claim.lease.fencingToken).toBeGreaterThanOrEqual(1);
    expect(claim.lease.expiresAt).toBeGreaterThan(Date.now());

    // The fencing token is remembered under OWP_HOME in a 0600 file.
    const leaseDir = join(alice.home, 'leases');
    const [bookName] = readdirSync(leaseDir);
    const book = join(leaseDir, bookName!);
    expect(statSync(book).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(book, 'utf8')).leases['acme/widgets:t1'].fencingToken).toBe(claim.lease.fencingToken);
    expect(readFileSync(book, 'utf8')).not.toContain(alice.token!);

    const over = await owp(['claim', 'acme/widgets:t2'], alice);
    expect(over.code).toBe(1);
    expect(over.stderr).toMatch(/^owp: capacity-exceeded: /);

    const hb = await owpJson<{ lease: { expiresAt: number } }>(['heartbeat', 'acme/widgets:t1'], alice);
    expect(hb.lease.expiresAt).toBeGreaterThanOrEqual(claim.lease.expiresAt);

    const sub = await owp(['submit', 'acme/widgets:t1', '--pr', 'https://github.com/acme/widgets/pull/7'], alice);
    expect(sub.code, sub.stderr).toBe(0);
    expect(sub.stdout).toContain('Submitted acme/widgets:t1');

    const pr = await owpJson<{ tasks: { task: { id: string }; runtime: { state: string; prUrl?: string } }[] }>(['tasks', '--state', 'pr_open'], maint);
    expect(pr.tasks.map((t) => t.task.id)).toEqual(['acme/widgets:t1']);
    expect(pr.tasks[0]!.runtime.prUrl).toBe('https://github.com/acme/widgets/pull/7');

    // A worker may not review; the maintainer may.
    const selfReview = await owp(['review', 'acme/widgets:t1', '--merged'], alice);
    expect(selfReview.code).toBe(1);
    expect(selfReview.stderr).toMatch(/^owp: not-authorized: /);
    const rev = await owp(['review', 'acme/widgets:t1', '--merged'], maint);
    expect(rev.code, rev.stderr).toBe(0);

    const ws = await owpJson<{ workers: { profile: { id: string }; runtime: { credit: number; completed: number } }[] }>(['workers'], maint);
    const a = ws.workers.find((w) => w.profile?.id === 'alice');
    expect(a?.runtime.credit).toBe(2);

    const human = await owp(['workers'], alice);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/alice\s+Alice\s+typescript,docs/);

    const done = await owpJson<{ tasks: { task: { id: string } }[] }>(['tasks', '--state', 'done', '--repo', 'acme/widgets'], alice);
    expect(done.tasks.map((t) => t.task.id)).toEqual(['acme/widgets:t1']);

    const audit = await owpJson<{ entries: { kind: string; taskId?: string }[] }>(['audit', '--task', 'acme/widgets:t1'], maint);
    const kinds = audit.entries.map((e) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['lease-granted', 'pr-submitted', 'task-done']));
    const recent = await owpJson<{ entries: unknown[] }>(['audit', '--worker', 'alice', '--since', '1h'], maint);
    expect(recent.entries.length).toBeGreaterThan(0);
    const future = await owpJson<{ entries: unknown[] }>(['audit', '--since', new Date(Date.now() + 3_600_000).toISOString()], maint);
    expect(future.entries).toEqual([]);

    const verify = await owp(['audit', 'verify'], maint);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/Audit log intact: \d+ entries/);

    const status = await owp(['status'], maint);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('acme/widgets');
  });
});

describe('maintainer journey', () => {
  it('repo policy, import, unchanged re-import, edit, freeze an area and see the claim refused', async () => {
    const added = await owpJson<{ repo: Record<string, unknown> }>(
      ['repo', 'add', 'acme/docs', '--budget', '3', '--tiers', '0,1,2', '--lease-ttl', '2h', '--max-attempts', '4', '--cooldown', '10m', '--daily-quota', '7'],
      maint,
    );
    expect(added.repo).toMatchObject({ repo: 'acme/docs', reviewBudget: 3, allowedTiers: [0, 1, 2], leaseTtlMs: 7_200_000, maxAttempts: 4, cooldownMs: 600_000, dailyQuota: 7 });
    const set = await owpJson<{ repo: Record<string, unknown> }>(['repo', 'set', 'acme/docs', '--budget', '4'], maint);
    expect(set.repo).toMatchObject({ reviewBudget: 4, maxAttempts: 4 });
    const list = await owpJson<{ repos: { repo: string }[] }>(['repo', 'list'], alice0());
    expect(list.repos.map((r) => r.repo)).toContain('acme/docs');

    const text = [
      'repo: acme/docs',
      'tasks:',
      '  - id: api-guide',
      '    title: Write the API guide',
      '    area: docs/api/',
      '    skills: [docs]',
      '  - id: faq',
      '    title: Write the FAQ',
      '    area: site/faq/',
      '    skills: [docs]',
      '',
    ].join('\n');
    const file = yamlFile('docs.yaml', text);
    const first = await owpJson<{ added: string[]; updated: string[]; unchanged: string[] }>(['import', 'yaml', file], maint);
    expect(first.added).toHaveLength(2);
    const again = await owpJson<{ added: string[]; updated: string[]; unchanged: string[] }>(['import', 'yaml', file], maint);
    expect(again).toMatchObject({ added: [], updated: [] });
    expect(again.unchanged).toHaveLength(2);
    writeFileSync(file, text.replace('Write the FAQ', 'Write the FAQ page'));
    const edited = await owpJson<{ added: string[]; updated: string[]; unchanged: string[] }>(['import', 'yaml', file], maint);
    expect(edited).toMatchObject({ added: [], updated: ['acme/docs:faq'], unchanged: ['acme/docs:api-guide'] });

    const fr = await owp(['area', 'freeze', 'acme/docs', 'docs/'], maint);
    expect(fr.code, fr.stderr).toBe(0);
    const bob = await workerAs('bob');
    await owpJson(['worker', 'register', '--skills', 'docs', '--capacity', '5', '--max-concurrent', '2'], bob);
    const refused = await owp(['claim', 'acme/docs:api-guide', '--json'], bob);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^owp: area-frozen: /);
    expect(JSON.parse(refused.stdout).error.code).toBe('area-frozen');

    const un = await owpJson<{ repo: { frozenAreas: string[] } }>(['area', 'unfreeze', 'acme/docs', 'docs/'], maint);
    expect(un.repo.frozenAreas).toEqual([]);
    const ok = await owp(['claim', 'acme/docs:api-guide'], bob);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('Leased acme/docs:api-guide');

    const tr = await owpJson<{ workerId: string; tier: number }>(['trust', 'bob', '2'], maint);
    expect(tr).toEqual({ workerId: 'bob', tier: 2 });
    const rel = await owp(['release', 'acme/docs:api-guide'], bob);
    expect(rel.code, rel.stderr).toBe(0);
    // released: the book forgets it, so a second release is refused locally with lease-lost
    const rel2 = await owp(['release', 'acme/docs:api-guide'], bob);
    expect(rel2.code).toBe(1);
    expect(rel2.stderr).toMatch(/^owp: lease-lost: no lease on acme\/docs:api-guide is remembered/);
  });

  it('a malformed YAML file imports nothing (exit 1, invalid-yaml, file:line in the message)', async () => {
    const good = yamlFile('good.yaml', 'repo: acme/bad\ntasks:\n  - id: ok\n    title: Fine\n');
    const bad = yamlFile('bad.yaml', 'repo: acme/bad\ntasks:\n  - id: x\n    titel: typo\n  - id: x\n    title: dup\n');
    const r = await owp(['import', 'yaml', good, bad], maint);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^owp: invalid-yaml: nothing imported/);
    expect(r.stderr).toContain(`${bad}:4: tasks[0].titel: unknown key (did you mean "title"?)`);
    expect(r.stderr).toContain(`${bad}:5: tasks[1].id: duplicate id "x"`);
    const j = await owp(['import', 'yaml', bad, '--json'], maint);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout).error.details.problems[0]).toMatchObject({ file: bad, line: 4, field: 'tasks[0].titel' });
    const tasks = await owpJson<{ tasks: unknown[] }>(['tasks', '--repo', 'acme/bad'], maint);
    expect(tasks.tasks).toEqual([]);
    const missing = await owp(['import', 'yaml', join(dir, 'nope.yaml')], maint);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('nope.yaml:0: (file): cannot read: ENOENT (no such file; check the path)');
  });
});

describe('lease expiry', () => {
  it('a lapsed lease leaves a stale fencing token: heartbeat and submit exit 1 with lease-lost', async () => {
    await owpJson(['repo', 'add', 'acme/fast', '--lease-ttl', '2s'], maint);
    const f = yamlFile('fast.yaml', 'repo: acme/fast\ntasks:\n  - id: quick\n    title: Quick one\n');
    await owpJson(['import', 'yaml', f], maint);
    const carol = await workerAs('carol');
    await owpJson(['worker', 'register', '--skills', 'docs'], carol);
    const c = await owpJson<{ lease: { fencingToken: number } }>(['claim', 'acme/fast:quick'], carol);
    await waitFor(async () => {
      const r = await relay.api(relay.adminToken, 'GET', `/api/tasks/${encodeURIComponent('acme/fast:quick')}`);
      return r.body?.runtime?.state === 'queued' && r.body.runtime.attempt >= 1;
    }, 30_000);
    const hb = await owp(['heartbeat', 'acme/fast:quick'], carol);
    expect(hb.code).toBe(1);
    expect(hb.stderr).toMatch(/^owp: lease-lost: /);
    const sub = await owp(['submit', 'acme/fast:quick', '--pr', 'https://github.com/acme/fast/pull/1', '--fencing-token', String(c.lease.fencingToken)], carol);
    expect(sub.code).toBe(1);
    expect(sub.stderr).toMatch(/^owp: lease-lost: /);
  });

  it('complete: a leased task without a PR is done and credited; a second complete and a stranger’s are refused', async () => {
    await owpJson(['repo', 'add', 'acme/chores'], maint);
    await owpJson(['import', 'yaml', yamlFile('chores.yaml', 'repo: acme/chores\ntasks:\n  - id: tidy\n    title: Tidy the labels\n    points: 2\n')], maint);
    const dora = await workerAs('dora');
    const eve = await workerAs('eve');
    await owpJson(['worker', 'register', '--skills', 'docs'], dora);
    await owpJson(['worker', 'register', '--skills', 'docs'], eve);
    const c = await owpJson<{ lease: { fencingToken: number } }>(['claim', 'acme/chores:tidy'], dora);
    const stranger = await owp(['complete', 'acme/chores:tidy', '--fencing-token', String(c.lease.fencingToken)], eve);
    expect(stranger.code).toBe(1);
    expect(stranger.stderr).toMatch(/^owp: lease-lost: /);
    const done = await owp(['complete', 'acme/chores:tidy'], dora);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toBe('Completed acme/chores:tidy.\n');
    const v = await relay.api(relay.adminToken, 'GET', `/api/tasks/${encodeURIComponent('acme/chores:tidy')}`);
    expect(v.body.runtime).toMatchObject({ state: 'done', creditedTo: 'dora' });
    const again = await owp(['complete', 'acme/chores:tidy'], dora);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^owp: lease-lost: no lease on acme\/chores:tidy is remembered/);
    const ws = await owpJson<{ workers: { runtime: { workerId: string; credit: number; completed: number } | null }[] }>(['workers'], maint);
    expect(ws.workers.find((w) => w.runtime?.workerId === 'dora')?.runtime).toMatchObject({ credit: 2, completed: 1 });
  });
});

function alice0(): OwpOptions {
  // any token reads repo lists; the maintainer's will do
  return maint;
}
