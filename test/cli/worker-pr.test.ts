/**
 * From lease to pull request, all real: the CLI as a child process, a real relay, local
 * bare repositories as origins, the fake GitHub for pull requests and review comments (or
 * a fake `gh` on PATH), and small node scripts as the contributor's tool.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, waitFor } from '../helpers/relay.js';
import { owp, owpJson, startOwp, type OwpOptions } from '../helpers/cli-run.js';
import { startFakeGithub, type FakeGithub } from '../fake-github/server.js';

type TestRelay = Awaited<ReturnType<typeof startTestRelay>>;

const CONTRIBUTOR_TOKEN = 'ghp_contributorOwnToken0123456789abcdefXYZ';
let relay: TestRelay;
let gh: FakeGithub;
const dir = mkdtempSync(join(tmpdir(), 'owp-worker-pr-'));
let maint: string;
let maintCli: OwpOptions;
const node = JSON.stringify(process.execPath);
/** PATH with git and node but no `gh` (the REST API path is taken). */
const PATH = [dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(delimiter);
const GIT_ID = { GIT_AUTHOR_NAME: 'Alice', GIT_AUTHOR_EMAIL: 'alice@example.com', GIT_COMMITTER_NAME: 'Alice', GIT_COMMITTER_EMAIL: 'alice@example.com' };

function sh(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: { ...process.env, ...GIT_ID }, encoding: 'utf8' }).trim();
}

/** A bare origin with one commit on main. */
function makeOrigin(name: string): string {
  const origin = join(dir, 'origins', `${name}.git`);
  mkdirSync(origin, { recursive: true });
  sh(origin, 'init', '-q', '--bare', '-b', 'main');
  const seed = mkdtempSync(join(dir, 'seed-'));
  sh(seed, 'init', '-q', '-b', 'main');
  writeFileSync(join(seed, 'README.md'), `# ${name}\n`);
  sh(seed, 'add', '.');
  sh(seed, 'commit', '-q', '-m', 'start');
  sh(seed, 'push', '-q', origin, 'main');
  return origin;
}

/** Node scripts standing in for an AI tool. */
function tool(name: string, body: string): string {
  const f = join(dir, 'tools', `${name}.mjs`);
  mkdirSync(dirname(f), { recursive: true });
  writeFileSync(f, ["import { appendFileSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';", "import { execFileSync } from 'node:child_process';", body].join('\n'));
  return `${node} ${JSON.stringify(f)}`;
}

const EDIT_AND_COMMIT = tool(
  'edit-commit',
  [
    "const brief = readFileSync(process.env.OWP_TASK_FILE, 'utf8');",
    "const n = readdirSync(process.env.OWP_TASK_DIR).filter((f) => f.startsWith('seen-')).length;",
    "writeFileSync(process.env.OWP_TASK_DIR + '/seen-' + n + '.md', brief);",
    "appendFileSync('CHANGES.md', 'round ' + n + ' for ' + process.env.OWP_TASK_ID + '\\n');",
    "execFileSync('git', ['add', 'CHANGES.md']);",
    "execFileSync('git', ['commit', '-q', '-m', 'tool round ' + n]);",
    "console.log('edited and committed');",
  ].join('\n'),
);
const EDIT_ONLY = tool('edit-only', "writeFileSync('NOTES.md', 'left for owp to commit\\n');");
const NOTHING = tool('nothing', "console.log('nothing to do');");
const FAIL = tool('fail', `console.error('step 1 ok'); console.error('auth with ${CONTRIBUTOR_TOKEN} failed: boom'); process.exit(3);`);
const HANG = tool('hang', "writeFileSync('WIP.md', 'half done\\n'); setInterval(() => {}, 1000);");

beforeAll(async () => {
  relay = await startTestRelay();
  gh = await startFakeGithub();
  gh.addToken(CONTRIBUTOR_TOKEN, 'alice');
  maint = await relay.token('maintainer');
  maintCli = { url: relay.url, token: maint, home: join(dir, 'maint') };
});

afterAll(async () => {
  await relay?.close();
  await gh?.close();
});

async function addTasks(repo: string, tasks: { id: string; title: string; skill: string; issueNumber?: number }[]): Promise<void> {
  const r = await relay.api(maint, 'POST', '/api/tasks', {
    createRepo: true,
    tasks: tasks.map((t) => ({ id: t.id, repo, title: t.title, body: `Make ${t.title.toLowerCase()} happen.\n\nMore detail here.`, skills: [t.skill], ...(t.issueNumber ? { issueNumber: t.issueNumber } : {}) })),
  });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
}

async function runtimeOf(taskId: string): Promise<any> {
  return (await relay.api(maint, 'GET', `/api/tasks/${encodeURIComponent(taskId)}`)).body?.runtime;
}

async function contributor(id: string, extraEnv: Record<string, string> = {}): Promise<OwpOptions> {
  return {
    url: relay.url,
    token: await relay.token('worker', id),
    home: join(dir, `home-${id}`),
    env: { PATH, ...GIT_ID, GITHUB_TOKEN: CONTRIBUTOR_TOKEN, GITHUB_API_URL: gh.url, GH_TOKEN: undefined, ...extraEnv },
  };
}

describe('owp worker run: workspace, tool, push, pull request', () => {
  it('the whole loop: claim, worktree, tool, push, PR with Closes #N, next task while it waits, changes requested on the same branch, merged and credited', async () => {
    const repo = 'acme/app';
    const origin = makeOrigin('app');
    gh.createRepo(repo);
    await addTasks(repo, [
      { id: 'acme/app#12', title: 'Fix the parser', skill: 'loop', issueNumber: 12 },
      { id: 'acme/app#13', title: 'Document the parser', skill: 'loop', issueNumber: 13 },
    ]);
    const alice = await contributor('alice');
    const workdir = join(dir, 'work-alice');
    const run = startOwp(['worker', 'run', '--skills', 'loop', '--poll', '200ms', '--workdir', workdir, '--clone-url', `${repo}=${origin}`, '--exec', EDIT_AND_COMMIT], alice);
    try {
      // Both tasks end with a PR open: the second was claimed while the first waited for review.
      await waitFor(async () => (await runtimeOf('acme/app#12'))?.state === 'pr_open' && (await runtimeOf('acme/app#13'))?.state === 'pr_open', 90_000, 'both PRs open');
      const first = await runtimeOf('acme/app#12');
      const prNumber = Number(/\/pull\/(\d+)$/.exec(first.prUrl)![1]);
      expect(first.prUrl).toBe(`https://github.com/${repo}/pull/${prNumber}`);
      const pr = gh.pull(repo, prNumber);
      expect(pr).toMatchObject({ head: 'owp/acme-app-12', base: 'main', draft: false, user: 'alice', title: 'Fix the parser' });
      expect(pr.body).toContain('Make fix the parser happen.');
      expect(pr.body).toContain('Closes #12');
      expect(pr.body).toContain('<!-- owp-task: acme/app#12 -->');
      expect(sh(origin, 'log', '--format=%s', 'owp/acme-app-12')).toBe('tool round 0\nstart');
      // The brief sits beside the worktree, never in it.
      const taskDir = join(workdir, 'acme_app_12');
      expect(readFileSync(join(taskDir, 'TASK.md'), 'utf8')).toContain('on branch `owp/acme-app-12`');
      expect(sh(join(taskDir, 'repo'), 'ls-files')).toBe('CHANGES.md\nREADME.md');

      // A maintainer asks for changes; the review comment is on GitHub.
      gh.addReviewComment(repo, prNumber, { login: 'maintainer-bob', path: 'CHANGES.md', line: 1, body: 'Say which parser.' });
      gh.addReview(repo, prNumber, 'maintainer-bob', 'CHANGES_REQUESTED', 'Close, but be specific.');
      expect((await owp(['review', 'acme/app#12', '--changes-requested', '--note', 'see the PR comments'], maintCli)).code).toBe(0);
      await waitFor(() => existsSync(join(taskDir, 'seen-1.md')), 60_000, 'second round of the tool');
      await waitFor(async () => (await runtimeOf('acme/app#12'))?.state === 'pr_open', 60_000, 'resubmitted');
      const second = readFileSync(join(taskDir, 'seen-1.md'), 'utf8');
      expect(second).toContain('## Changes requested');
      expect(second).toContain('maintainer-bob on CHANGES.md:1: Say which parser.');
      expect(second).toContain('maintainer-bob (changes requested): Close, but be specific.');
      expect(sh(origin, 'log', '--format=%s', 'owp/acme-app-12')).toBe('tool round 1\ntool round 0\nstart');
      expect((await runtimeOf('acme/app#12')).prUrl).toBe(first.prUrl);
      expect(gh.requests.filter((r) => r.method === 'POST' && r.path === `/repos/${repo}/pulls`)).toHaveLength(2);

      // Merged: done and credited.
      expect((await owp(['review', 'acme/app#12', '--merged'], maintCli)).code).toBe(0);
      expect(await runtimeOf('acme/app#12')).toMatchObject({ state: 'done', creditedTo: 'alice' });
      const workers = (await relay.api(maint, 'GET', '/api/workers')).body.workers as { profile?: { id: string }; runtime?: { credit: number } }[];
      expect(workers.find((w) => w.profile?.id === 'alice')?.runtime?.credit).toBe(1);
    } finally {
      run.child.kill('SIGTERM');
      const r = await run.done;
      expect(r.code, r.stderr).toBe(143);
      expect(r.stderr).not.toContain(CONTRIBUTOR_TOKEN);
    }
  });

  it('edits left uncommitted are committed naming the task, and `gh` on PATH opens the draft PR', async () => {
    const repo = 'acme/ghcli';
    const origin = makeOrigin('ghcli');
    await addTasks(repo, [{ id: 'acme/ghcli#4', title: 'Tidy the notes', skill: 'ghcli', issueNumber: 4 }]);
    const bin = join(dir, 'bin-gh');
    mkdirSync(bin, { recursive: true });
    const log = join(dir, 'gh-calls.log');
    writeFileSync(
      join(bin, 'gh'),
      [
        '#!/bin/sh',
        `echo "$@" >> ${JSON.stringify(log)}`,
        'if [ "$1" = auth ]; then exit 0; fi',
        `if [ "$1" = pr ]; then cat > ${JSON.stringify(log + '.body')}; echo "https://github.com/${repo}/pull/77"; exit 0; fi`,
        'exit 1',
      ].join('\n'),
    );
    chmodSync(join(bin, 'gh'), 0o755);
    const bea = await contributor('bea', { PATH: `${bin}${delimiter}${PATH}`, GITHUB_TOKEN: '' });
    const workdir = join(dir, 'work-bea');
    const r = await owp(['worker', 'run', '--skills', 'ghcli', '--once', '--draft', '--workdir', workdir, '--clone-url', `${repo}=file://${origin}`, '--exec', EDIT_ONLY], bea);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('committed what the tool left uncommitted');
    expect(r.stderr).toContain(`opened https://github.com/${repo}/pull/77 (with gh)`);
    expect(sh(origin, 'log', '-1', '--format=%s%n%b', 'owp/acme-ghcli-4')).toBe('Tidy the notes\nOWP task acme/ghcli#4');
    const calls = readFileSync(log, 'utf8');
    expect(calls).toContain(`pr create --repo ${repo} --head owp/acme-ghcli-4 --base main --title Tidy the notes --body-file - --draft`);
    expect(readFileSync(log + '.body', 'utf8')).toContain('Closes #4');
    expect(await runtimeOf('acme/ghcli#4')).toMatchObject({ state: 'pr_open', prUrl: `https://github.com/${repo}/pull/77` });
  });

  it('a tool that changes nothing fails the task with "the tool made no changes"; --on-empty release gives it back with no cooldown', async () => {
    const repo = 'acme/empty';
    const origin = makeOrigin('empty');
    await addTasks(repo, [{ id: 'acme/empty#1', title: 'Nothing', skill: 'empty' }]);
    const cy = await contributor('cy');
    const args = ['worker', 'run', '--skills', 'empty', '--once', '--workdir', join(dir, 'work-cy'), '--clone-url', `${repo}=${origin}`, '--exec', NOTHING];
    const released = await owp([...args, '--on-empty', 'release'], cy);
    expect(released.code).toBe(1);
    expect(released.stderr).toContain('acme/empty#1: the tool made no changes; giving it back');
    expect((await runtimeOf('acme/empty#1')).state).toBe('queued');
    // No cooldown after its own release: the same worker gets it again at once.
    const failed = await owp(args, cy);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('reported failure of acme/empty#1: the tool made no changes');
    expect(await runtimeOf('acme/empty#1')).toMatchObject({ state: 'queued', note: 'the tool made no changes' });
  });

  it('stops after --max-failures tool failures in a row, showing stderr; the recorded reason has a redacted stderr tail', async () => {
    const repo = 'acme/flaky';
    const origin = makeOrigin('flaky');
    await addTasks(repo, [
      { id: 'acme/flaky#1', title: 'One', skill: 'flaky' },
      { id: 'acme/flaky#2', title: 'Two', skill: 'flaky' },
    ]);
    const dee = await contributor('dee');
    const r = await owp(['worker', 'run', '--skills', 'flaky', '--poll', '200ms', '--workdir', join(dir, 'work-dee'), '--clone-url', `${repo}=${origin}`, '--exec', FAIL], dee);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('stopping after 2 tool failure(s) in a row (--max-failures 2)');
    expect(r.stderr).toMatch(/The tool's last stderr lines:\nstep 1 ok\nauth with \[redacted\] failed: boom/);
    for (const id of ['acme/flaky#1', 'acme/flaky#2']) {
      const rt = await runtimeOf(id);
      expect(rt.state).toBe('queued');
      expect(rt.note).toBe('the tool exited with code 3; stderr: step 1 ok\nauth with [redacted] failed: boom');
    }
    const audit = JSON.stringify((await relay.api(maint, 'GET', '/api/audit?limit=200')).body);
    expect(audit).not.toContain(CONTRIBUTOR_TOKEN);
  });

  it('a hanging tool: SIGTERM stops it, keeps the lease and the worktree (exit 143)', async () => {
    const repo = 'acme/slow';
    const origin = makeOrigin('slow');
    await addTasks(repo, [{ id: 'acme/slow#1', title: 'Slow', skill: 'slow' }]);
    const eli = await contributor('eli');
    const workdir = join(dir, 'work-eli');
    const run = startOwp(['worker', 'run', '--skills', 'slow', '--workdir', workdir, '--clone-url', `${repo}=${origin}`, '--exec', HANG], eli);
    await waitFor(() => existsSync(join(workdir, 'acme_slow_1', 'repo', 'WIP.md')), 60_000, 'the tool started');
    run.child.kill('SIGTERM');
    const r = await run.done;
    expect(r.code, r.stderr).toBe(143);
    expect(r.stderr).toContain('kept the lease on acme/slow#1');
    expect((await runtimeOf('acme/slow#1')).state).toBe('leased');
    expect(readFileSync(join(workdir, 'acme_slow_1', 'repo', 'WIP.md'), 'utf8')).toBe('half done\n');
  });

  it('--tool with a program not on PATH fails before claiming; `owp worker tools` lists the presets', async () => {
    await addTasks('acme/tools', [{ id: 'acme/tools#1', title: 'Tools', skill: 'tools' }]);
    const fay = await contributor('fay');
    const r = await owp(['worker', 'run', '--skills', 'tools', '--tool', 'claude', '--once'], fay);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--tool claude: claude (Claude Code) is not on PATH; install it, or run your tool with --exec CMD. Nothing was claimed.');
    expect((await runtimeOf('acme/tools#1')).state).toBe('queued');
    const list = await owpJson<{ tools: { name: string; command: string; version: string; path: string | null }[] }>(['worker', 'tools'], fay);
    expect(list.tools.map((t) => t.name)).toEqual(['claude', 'aider', 'codex', 'gemini', 'copilot', 'cursor']);
    for (const t of list.tools) {
      expect(t.path).toBeNull();
      expect(t.command).toContain('OWP_TASK_FILE');
    }
    const human = await owp(['worker', 'tools'], fay);
    expect(human.stdout).toMatch(/claude\s+Claude Code\s+no \(claude\)\s+2\.0/);
  });

  it('the relay refuses a PR link of another repository, and a PR another task holds', async () => {
    await addTasks('acme/links', [
      { id: 'acme/links#1', title: 'L1', skill: 'links' },
      { id: 'acme/links#2', title: 'L2', skill: 'links' },
    ]);
    const gil = await contributor('gil');
    await owpJson(['worker', 'register', '--skills', 'links', '--max-concurrent', '2'], gil);
    const c1 = await owpJson(['claim', 'acme/links#1'], gil);
    const c2 = await owpJson(['claim', 'acme/links#2'], gil);
    const wrong = await owp(['submit', 'acme/links#1', '--pr', 'https://github.com/other/repo/pull/1'], gil);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('invalid-field: prUrl: https://github.com/other/repo/pull/1 is a pull request of other/repo, but the task belongs to acme/links');
    expect((await owp(['submit', 'acme/links#1', '--pr', 'https://github.com/acme/links/pull/5'], gil)).code).toBe(0);
    const twice = await owp(['submit', 'acme/links#2', '--pr', 'https://github.com/acme/links/pull/5'], gil);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain('pr-in-use: Pull request https://github.com/acme/links/pull/5 already belongs to task acme/links#1');
    expect([c1.lease.fencingToken, c2.lease.fencingToken]).toEqual([1, 1]);
    expect(readdirSync(join(gil.home, 'leases'))).toHaveLength(1);
  });
});
