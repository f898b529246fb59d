/**
 * `owp conformance` (the real CLI, as a child process) against the reference relay: every
 * numbered requirement passes, the run cleans up after itself (tasks, repo policies, tokens),
 * and a wrong token fails.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REQUIREMENTS } from '../../server/conformance/requirements.js';
import type { ConformanceReport } from '../../server/conformance/run.js';
import { owp } from '../helpers/cli-run.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

let r: TestRelay;
let home: string;

beforeAll(async () => {
  r = await startTestRelay();
  home = await mkdtemp(join(tmpdir(), 'owp-conf-home-'));
});
afterAll(async () => {
  await r.close();
  await rm(home, { recursive: true, force: true });
});

describe('owp conformance', () => {
  it('the reference relay passes every requirement, and the run leaves no live token or open task', async () => {
    const out = await owp(['conformance', '--url', r.url, '--token', r.adminToken, '--json'], { home });
    const report = JSON.parse(out.stdout) as ConformanceReport;
    expect(report.results.filter((x) => !x.ok)).toEqual([]);
    expect(report.notes).toEqual([]);
    expect(report.passed).toBe(REQUIREMENTS.length);
    expect(report.protocol).toBe('0.1');
    expect(out.code).toBe(0);
    const tokens = (await r.api(r.adminToken, 'GET', '/api/tokens')).body.tokens as { name?: string; revokedAt?: number }[];
    const made = tokens.filter((t) => t.name?.startsWith('owp conformance'));
    expect(made.length).toBeGreaterThanOrEqual(6);
    expect(made.filter((t) => t.revokedAt === undefined)).toEqual([]);
    const tasks = (await r.api(r.adminToken, 'GET', '/api/tasks')).body.tasks as { runtime: { state: string } | null }[];
    expect(tasks.filter((t) => t.runtime && !['done', 'cancelled'].includes(t.runtime.state))).toEqual([]);
    // Its repo policies are deleted again (DELETE /api/repos/:owner/:name), and audited.
    const repos = (await r.api(r.adminToken, 'GET', '/api/repos')).body.repos as { repo: string }[];
    expect(repos.filter((x) => x.repo.startsWith('owp-conformance/'))).toEqual([]);
    const audit = (await r.api(r.adminToken, 'GET', '/api/audit?limit=1000')).body.entries as { kind: string; repo?: string }[];
    expect(audit.filter((e) => e.kind === 'repo-deleted' && e.repo?.startsWith('owp-conformance/run-'))).toHaveLength(2);
  }, 240_000);

  it('prints pass/FAIL per requirement for people, and exits 1 when it cannot set up (not an admin token)', async () => {
    const viewer = await r.token('viewer');
    const out = await owp(['conformance', '--url', r.url, '--token', viewer, '--only', 'OWP-VER-1'], { home });
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/FAIL {2}OWP-VER-1/);
    expect(out.stdout).toMatch(/setup failed: could not create a maintainer token .*admin token/);
  }, 120_000);

  it('every requirement the suite checks is numbered in docs/PROTOCOL.md, and every numbered MUST is checked or marked untested', async () => {
    const spec = await readFile(join(import.meta.dirname, '..', '..', 'docs', 'PROTOCOL.md'), 'utf8');
    for (const req of REQUIREMENTS) expect(spec, req.id).toContain(`**${req.id}**`);
    const numbered = [...spec.matchAll(/\*\*(OWP-[A-Z]+-\d+)\*\* (MUST|SHOULD|MAY)\b([^\n]*)/g)];
    const checked = new Set(REQUIREMENTS.map((q) => q.id));
    const unchecked = numbered.filter(([, id, level, rest]) => level === 'MUST' && !checked.has(id!) && !rest!.includes('(not checked by the suite')).map(([, id]) => id);
    expect(unchecked).toEqual([]);
  });
});
