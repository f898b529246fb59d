/**
 * `owp github sync` through a real relay whose GitHub feature talks to the local fake
 * GitHub (test/fake-github): the CLI never sees the GitHub token, only the summary.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGithubFeature } from '../../server/github/index.js';
import { startFakeGithub, type FakeGithub } from '../fake-github/server.js';
import { startTestRelay } from '../helpers/relay.js';
import { owp, owpJson, type OwpOptions } from '../helpers/cli-run.js';

let gh: FakeGithub;
let relay: Awaited<ReturnType<typeof startTestRelay>>;
let m: OwpOptions;

beforeAll(async () => {
  gh = await startFakeGithub();
  gh.createRepo('acme/hub');
  relay = await startTestRelay({
    features: (port) => [createGithubFeature(port, { token: gh.token, apiUrl: gh.url, intervalMs: 0, syncOnStart: false, writeMinTimeMs: 0 })],
  });
  m = { url: relay.url, token: await relay.token('maintainer'), home: mkdtempSync(join(tmpdir(), 'owp-cli-github-')) };
}, 60_000);

afterAll(async () => {
  await relay?.close();
  await gh?.close();
});

describe('owp github sync', () => {
  it('prints the summary the relay returns; a repo without GitHub enabled is refused (exit 1)', async () => {
    await owpJson(['repo', 'add', 'acme/hub', '--github', '--label', 'owp'], m);
    gh.addIssue('acme/hub', { title: 'Imported from GitHub', labels: ['owp', 'points:2'] });
    gh.addIssue('acme/hub', { title: 'Not for the pool', labels: ['bug'] });

    const j = await owpJson<{ repos: { repo: string; added: number; requests: number; rateLimitRemaining: number | null }[] }>(['github', 'sync', 'acme/hub'], m);
    expect(j.repos).toHaveLength(1);
    expect(j.repos[0]).toMatchObject({ repo: 'acme/hub', added: 1 });
    expect(j.repos[0]!.requests).toBeGreaterThan(0);

    const again = await owp(['github', 'sync'], m);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/acme\/hub\s+0\s+0\s+0\s+1\s+-\s+\d+\s+\S+\s+ok/);
    expect(again.stdout).not.toContain(gh.token);

    // a label with a bad value is reported under the task it belongs to
    const bad = gh.addIssue('acme/hub', { title: 'Bad points', labels: ['owp', 'points:abc'] });
    const withProblem = await owp(['github', 'sync', 'acme/hub'], m);
    expect(withProblem.code, withProblem.stderr).toBe(0);
    expect(withProblem.stdout).toMatch(new RegExp(`\\n  acme/hub#${bad}: .*points:abc`));

    const tasks = await owpJson<{ tasks: { task: { title: string; points: number; source: string } }[] }>(['tasks', '--repo', 'acme/hub'], m);
    expect(tasks.tasks.map((t) => t.task)).toEqual([
      expect.objectContaining({ title: 'Imported from GitHub', points: 2, source: 'github' }),
      expect.objectContaining({ title: 'Bad points', points: 1, source: 'github' }),
    ]);

    await owpJson(['repo', 'add', 'acme/plain'], m);
    const off = await owp(['github', 'sync', 'acme/plain'], m);
    expect(off.code).toBe(1);
    expect(off.stderr).toMatch(/^owp: invalid-field: GitHub sync is off for acme\/plain/);
  }, 120_000);
});
