/**
 * A newcomer's first session, as README.md writes it, and the mistakes newcomers make:
 * the real CLI as a child process against a real relay (real LevelDB in a temp folder).
 * Each mistake must give exit 1, a stable code, a message said once, and a line saying
 * what to do.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay } from '../helpers/relay.js';
import { REPO_ROOT, owp, owpJson, type OwpOptions } from '../helpers/cli-run.js';

let relay: Awaited<ReturnType<typeof startTestRelay>>;
let dir: string;
let admin: OwpOptions;

beforeAll(async () => {
  relay = await startTestRelay();
  dir = mkdtempSync(join(tmpdir(), 'owp-cli-newcomer-'));
  admin = { url: relay.url, token: relay.adminToken, home: join(dir, 'admin') };
});

afterAll(async () => {
  await relay?.close();
});

/** The commands of README.md's "A first session" block, as written there. */
function readmeSession(): string[][] {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const block = /## A first session\s+```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(block, 'README.md has a "A first session" sh block').toBeTruthy();
  return block!
    .split('\n')
    .filter((l) => l.includes('node bin/owp.js'))
    .map((l) => l.slice(l.indexOf('node bin/owp.js') + 'node bin/owp.js'.length).trim().split(/\s+/));
}

describe('README first session', () => {
  it('runs as written: repo add, import the template tasks, worker token, register, claim', async () => {
    const cmds = readmeSession();
    expect(cmds.map((c) => c.slice(0, 2).join(' '))).toEqual(['repo add', 'import yaml', 'token create', 'worker register', 'claim']);
    const [repoAdd, importYaml, tokenCreate, register, claim] = cmds as [string[], string[], string[], string[], string[]];
    expect((await owp(repoAdd, admin)).code).toBe(0);
    const imp = await owp(importYaml, admin);
    expect(imp.code, imp.stderr).toBe(0);
    expect(imp.stdout).toMatch(/Imported 3 task\(s\) from 1 file\(s\): 3 added/);
    const t = await owpJson<{ token: string; workerId: string }>(tokenCreate, admin);
    expect(t.workerId).toBe('alice');
    const alice = { url: relay.url, token: t.token, home: join(dir, 'alice') };
    const reg = await owp(register, alice);
    expect(reg.code, reg.stderr).toBe(0);
    const c = await owp([...claim, '--json'], alice);
    expect(c.code, c.stderr).toBe(0);
    // the skills README registers match a template task, so the claim is granted
    const granted = JSON.parse(c.stdout) as { task: { id: string } };
    expect(granted).toMatchObject({ outcome: { status: 'granted' }, task: { repo: 'octo/hello' } });
    // handed in, the task awaits review: it no longer counts against --max-concurrent 1, so the next claim works
    expect((await owp(['submit', granted.task.id, '--pr', 'https://github.com/octo/hello/pull/1'], alice)).code).toBe(0);
    const second = await owp(['claim'], alice);
    expect(second.stderr).not.toMatch(/max-concurrent/);
    expect(second.code, second.stderr).toBe(0);
    // `owp workers` says so: one task in progress of one at once (LEASES), one PR awaiting review (PRS)
    const list = await owp(['workers'], admin);
    expect(list.stdout).toMatch(/^WORKER\s+NAME\s+SKILLS\s+IN USE\s+LEASES\s+PRS\s/m);
    expect(list.stdout).toMatch(/^alice\s+Alice\s+docs,typescript\s+\d+\/3\s+1\/1\s+1\s/m);
  });
});

describe('maintainer: requeue and cancel (the docs say "cancel them explicitly")', () => {
  it('requeue ends a lease and queues the task; cancel ends it for good; requeue after cancel is refused', async () => {
    const file = join(dir, 'rc.yaml');
    writeFileSync(file, 'repo: acme/rc\ntasks:\n  - id: one\n    title: One\n');
    expect((await owp(['import', 'yaml', file, '--create-repo'], admin)).code).toBe(0);
    const fay = { url: relay.url, token: await relay.token('worker', 'fay'), home: join(dir, 'fay') };
    expect((await owp(['worker', 'register', '--skills', 'docs'], fay)).code).toBe(0);
    expect((await owp(['claim', 'acme/rc:one'], fay)).code).toBe(0);

    const rq = await owp(['requeue', 'acme/rc:one'], admin);
    expect(rq.code, rq.stderr).toBe(0);
    expect(rq.stdout).toContain('Requeued acme/rc:one.');
    const q = await owpJson<{ tasks: { runtime: { state: string } }[] }>(['tasks', '--repo', 'acme/rc'], admin);
    expect(q.tasks[0]!.runtime.state).toBe('queued');

    const c = await owp(['cancel', 'acme/rc:one', '--reason', 'duplicate of #2'], admin);
    expect(c.code, c.stderr).toBe(0);
    const audit = await owpJson<{ entries: { kind: string; reason?: string; to?: string }[] }>(['audit', '--task', 'acme/rc:one'], admin);
    expect(audit.entries.at(-1)).toMatchObject({ to: 'cancelled' });
    expect(JSON.stringify(audit.entries.at(-1))).toContain('duplicate of #2');

    const again = await owp(['requeue', 'acme/rc:one'], admin);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^owp: invalid-transition: /);
    expect(again.stderr).toContain("hint: `owp tasks` shows the task's state");
    const revoke = await owp(['token', 'revoke', 'no-such-id'], admin);
    expect(revoke.code).toBe(1);
    expect(revoke.stderr).toContain('hint: `owp token list` shows the token ids.');
    const byWorker = await owp(['cancel', 'acme/rc:one'], fay);
    expect(byWorker.code).toBe(1);
    expect(byWorker.stderr).toMatch(/^owp: not-authorized: /);
  });
});

describe('newcomer mistakes', () => {
  it('claiming before `owp worker register`: unknown-worker and how to register', async () => {
    const bob = { url: relay.url, token: await relay.token('worker', 'bob'), home: join(dir, 'bob') };
    const r = await owp(['claim'], bob);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^owp: unknown-worker: /);
    expect(r.stderr).toContain('hint: Register this worker first: `owp worker register --skills a,b`');
    const j = await owp(['claim', '--json'], bob);
    expect(JSON.parse(j.stdout)).toMatchObject({ error: { code: 'unknown-worker', hint: expect.stringContaining('owp worker register') } });
    const run = await owp(['worker', 'run', '--once'], bob);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^owp: unknown-worker: /);
    expect(run.stderr).toContain('hint: Give your skills the first time: `owp worker run --skills a,b`');
  });

  it('skills typed with capitals are registered lower case (as skills are compared)', async () => {
    const erin = { url: relay.url, token: await relay.token('worker', 'erin'), home: join(dir, 'erin') };
    const r = await owpJson<{ worker: { skills: string[] } }>(['worker', 'register', '--skills', 'Docs,TypeScript,docs'], erin);
    expect(r.worker.skills).toEqual(['docs', 'typescript']);
  });

  it('a token this relay does not know: unauthorized, said once, with where to look', async () => {
    const r = await owp(['tasks'], { url: relay.url, token: 'owp_not_a_real_token', home: join(dir, 'x') });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^owp: unauthorized: /);
    expect(r.stderr).not.toContain('unauthorized: unauthorized');
    expect(r.stderr).toContain(`hint: Check --token / OWP_TOKEN`);
    expect(r.stderr).toContain(relay.url);
  });

  it('a worker token for a maintainer command: not-authorized, the code not repeated', async () => {
    const w = { url: relay.url, token: await relay.token('worker', 'carol'), home: join(dir, 'carol') };
    const r = await owp(['repo', 'add', 'x/y'], w);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^owp: not-authorized: \S/);
    expect(r.stderr).not.toContain('not-authorized: not-authorized');
  });

  it('`owp claim` with no task that fits: no-matching-task and where to look', async () => {
    const dave = { url: relay.url, token: await relay.token('worker', 'dave'), home: join(dir, 'dave') };
    expect((await owp(['worker', 'register', '--skills', 'cobol'], dave)).code).toBe(0);
    const r = await owp(['claim'], dave);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^owp: no-matching-task: /);
    expect(r.stderr).toContain('hint: See what is queued with `owp tasks --state queued`');
  });

  it('`owp repo set` on a repo never added: unknown-repo and `owp repo add`', async () => {
    const r = await owp(['repo', 'set', 'nobody/nothing', '--budget', '2'], admin);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^owp: unknown-repo: /);
    expect(r.stderr).toContain('hint: Add the repository and its policy first: `owp repo add OWNER/NAME`');
  });

  it('`owp github sync` on a relay started without OWP_GITHUB_TOKEN says how to turn it on', async () => {
    const r = await owp(['github', 'sync'], admin);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^owp: not-found: the relay at .* has no GitHub integration: restart it with OWP_GITHUB_TOKEN/);
  });

  it('a YAML file that does not exist: invalid-yaml naming the file and the reason', async () => {
    const r = await owp(['import', 'yaml', join(dir, 'taks.yaml')], admin);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${join(dir, 'taks.yaml')}:0: (file): cannot read: ENOENT (no such file; check the path)`);
  });
});
