/**
 * docs/GITHUB.md "Testing locally", as a newcomer runs it: scripts/fake-github.ts as a child
 * process, a real relay pointed at the URL and token it prints, and the real CLI:
 * `owp repo add --github`, `owp github sync`, then the fake's stdin commands move a task
 * through pr_open, back to leased on a change request, and to done on merge.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGithubFeature } from '../../server/github/index.js';
import { startTestRelay, waitFor } from '../helpers/relay.js';
import { REPO_ROOT, owp, owpJson, type OwpOptions } from '../helpers/cli-run.js';

let fake: ChildProcess;
let fakeOut = '';
let relay: Awaited<ReturnType<typeof startTestRelay>>;
let admin: OwpOptions;
let dir: string;

beforeAll(async () => {
  fake = spawn(process.execPath, ['--import', 'tsx', 'scripts/fake-github.ts'], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  fake.stdout!.setEncoding('utf8').on('data', (d: string) => (fakeOut += d));
  fake.stderr!.setEncoding('utf8').on('data', (d: string) => (fakeOut += d));
  const m = await waitFor(() => /OWP_GITHUB_API_URL=(\S+) OWP_GITHUB_TOKEN=(\S+) npm start/.exec(fakeOut), 60_000, 'the fake to print its variables');
  const [, apiUrl, token] = m;
  relay = await startTestRelay({
    features: (port) => [createGithubFeature(port, { token: token!, apiUrl: apiUrl!, intervalMs: 0, syncOnStart: false, writeMinTimeMs: 0, debounceMs: 0 })],
  });
  dir = mkdtempSync(join(tmpdir(), 'owp-cli-gh-walk-'));
  admin = { url: relay.url, token: relay.adminToken, home: join(dir, 'admin') };
}, 90_000);

afterAll(async () => {
  await relay?.close();
  fake?.kill('SIGTERM');
});

/** Type a line into the fake and wait for its answer. */
async function say(line: string, answer: RegExp): Promise<void> {
  const before = fakeOut.length;
  fake.stdin!.write(line + '\n');
  await waitFor(() => answer.test(fakeOut.slice(before)), 20_000, `the fake to answer "${line}"`);
}

async function state(id: string): Promise<string> {
  const r = await owpJson<{ tasks: { task: { id: string }; runtime: { state: string } }[] }>(['tasks', '--repo', 'octo/hello'], admin);
  return r.tasks.find((t) => t.task.id === id)!.runtime.state;
}

describe('docs/GITHUB.md with scripts/fake-github.ts', () => {
  it('imports the seeded issues, reports the bad label, and follows a PR to done', async () => {
    expect((await owp(['repo', 'add', 'octo/hello', '--github'], admin)).code).toBe(0);
    const sync = await owp(['github', 'sync'], admin);
    expect(sync.code, sync.stderr).toBe(0);
    expect(sync.stdout).toMatch(/octo\/hello\s+3\s+0\s+0\s+0\s/);
    expect(sync.stdout).toContain('  octo/hello#3: Label "points:abc"');

    const alice = { url: relay.url, token: await relay.token('worker', 'alice'), home: join(dir, 'alice') };
    expect((await owp(['worker', 'register', '--skills', 'docs'], alice)).code).toBe(0);
    expect((await owp(['claim', 'octo/hello#1'], alice)).code).toBe(0);

    await say('pr 1', /opened pull request #5/);
    expect((await owp(['github', 'sync'], admin)).code).toBe(0);
    expect(await state('octo/hello#1')).toBe('pr_open');

    await say('changes 5', /requested changes on pull request #5/);
    expect((await owp(['github', 'sync'], admin)).code).toBe(0);
    expect(await state('octo/hello#1')).toBe('leased');

    expect((await owp(['submit', 'octo/hello#1', '--pr', 'https://github.com/octo/hello/pull/5'], alice)).code).toBe(0);
    await say('merge 5', /merged pull request #5/);
    expect((await owp(['github', 'sync'], admin)).code).toBe(0);
    expect(await state('octo/hello#1')).toBe('done');

    await say('close-issue 2', /closed issue #2/);
    expect((await owp(['github', 'sync'], admin)).code).toBe(0);
    expect(await state('octo/hello#2')).toBe('cancelled');

    await say('frobnicate', /unknown command "frobnicate"; type help/);
  }, 180_000);
});
