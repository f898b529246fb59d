/**
 * `owp worker run` end to end: the real CLI as a child process, a real relay, a small node
 * script standing in for the contributor's AI tool.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, waitFor } from '../helpers/relay.js';
import { owp, owpJson, startOwp, type OwpOptions } from '../helpers/cli-run.js';

type TestRelay = Awaited<ReturnType<typeof startTestRelay>>;

let relay: TestRelay;
let dir: string;
let maint: OwpOptions;

beforeAll(async () => {
  relay = await startTestRelay();
  dir = mkdtempSync(join(tmpdir(), 'owp-worker-run-'));
  maint = { url: relay.url, token: await relay.token('maintainer'), home: join(dir, 'maint') };
}, 60_000);

afterAll(async () => {
  await relay?.close();
});

async function worker(id: string): Promise<OwpOptions> {
  return { url: relay.url, token: await relay.token('worker', id), home: join(dir, `home-${id}`) };
}

async function importTasks(repo: string, tasks: { id: string; title: string; skills: string[] }[]): Promise<void> {
  const lines = [`repo: ${repo}`, 'tasks:'];
  for (const t of tasks) lines.push(`  - id: ${t.id}`, `    title: ${t.title}`, `    skills: [${t.skills.join(', ')}]`, '    body: Do the thing carefully.');
  const f = join(dir, `${repo.replace('/', '_')}-${tasks[0]!.id}.yaml`);
  writeFileSync(f, lines.join('\n') + '\n');
  await owpJson(['import', 'yaml', f, '--create-repo'], maint);
}

async function runtimeOf(taskId: string): Promise<any> {
  const r = await relay.api(relay.adminToken, 'GET', `/api/tasks/${encodeURIComponent(taskId)}`);
  return r.body?.runtime;
}

const node = JSON.stringify(process.execPath);

describe('owp worker run', () => {
  it('waits for a task, writes the brief, runs --exec without OWP_TOKEN, submits the PR from `PR: <url>`', async () => {
    const tool = join(dir, 'tool.mjs');
    writeFileSync(
      tool,
      [
        "import { readFileSync, writeFileSync } from 'node:fs';",
        "const brief = readFileSync(process.env.OWP_TASK_FILE, 'utf8');",
        "writeFileSync(process.env.OWP_TASK_FILE + '.seen.json', JSON.stringify({ id: process.env.OWP_TASK_ID, hasToken: 'OWP_TOKEN' in process.env, cwd: process.cwd(), firstLine: brief.split('\\n')[0] }));",
        "console.log('thinking hard...');",
        "console.log('PR: https://github.com/acme/alpha/pull/1');",
      ].join('\n'),
    );
    const w = await worker('ada');
    const workdir = join(dir, 'work-ada');
    const run = startOwp(['worker', 'run', '--skills', 'alpha', '--once', '--poll', '200ms', '--workdir', workdir, '--no-workspace', '--exec', `${node} ${JSON.stringify(tool)}`], {
      ...w,
      env: { OWP_TOKEN: w.token },
    });
    // no task yet: it polls
    await waitFor(() => run.out().stderr.includes('no task for now'), 60_000);
    await importTasks('acme/alpha', [{ id: 'a1', title: 'Alpha one', skills: ['alpha'] }]);
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('thinking hard...');
    expect(r.stderr).toContain('leased acme/alpha:a1');
    expect(r.stderr).toContain('submitted acme/alpha:a1: https://github.com/acme/alpha/pull/1');

    const briefFile = join(workdir, 'acme_alpha_a1', 'TASK.md');
    const brief = readFileSync(briefFile, 'utf8');
    expect(brief).toContain('# Alpha one');
    expect(brief).toContain('- Task: acme/alpha:a1');
    expect(brief).toContain('Do the thing carefully.');
    expect(brief).toMatch(/- Lease: fencing token \d+, expires \d{4}-/);
    const seen = JSON.parse(readFileSync(briefFile + '.seen.json', 'utf8'));
    expect(seen).toMatchObject({ id: 'acme/alpha:a1', hasToken: false, cwd: join(workdir, 'acme_alpha_a1'), firstLine: '# Alpha one' });

    const rt = await runtimeOf('acme/alpha:a1');
    expect(rt).toMatchObject({ state: 'pr_open', prUrl: 'https://github.com/acme/alpha/pull/1' });
    expect(rt.lease.workerId).toBe('ada');
  }, 120_000);

  it('a tool exiting non-zero reports fail with the exit code (exit 1 with --once), the task goes back', async () => {
    await importTasks('acme/beta', [{ id: 'b1', title: 'Beta one', skills: ['beta'] }]);
    const w = await worker('bea');
    const r = await owp(['worker', 'run', '--skills', 'beta', '--once', '--poll', '200ms', '--workdir', join(dir, 'work-bea'), '--no-workspace', '--exec', `${node} -e "process.exit(3)"`], w);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('reported failure of acme/beta:b1: the tool exited with code 3');
    const rt = await runtimeOf('acme/beta:b1');
    expect(rt.state).toBe('queued');
    const audit = await relay.api(relay.adminToken, 'GET', `/api/audit?task=${encodeURIComponent('acme/beta:b1')}`);
    expect(audit.body.entries.map((e: { kind: string }) => e.kind)).toContain('task-failed');
  }, 120_000);

  it('a tool exiting 0 without a PR line is a fail, not a silent submit', async () => {
    await importTasks('acme/delta', [{ id: 'd1', title: 'Delta one', skills: ['delta'] }]);
    const w = await worker('dan');
    const r = await owp(['worker', 'run', '--skills', 'delta', '--once', '--workdir', join(dir, 'work-dan'), '--no-workspace', '--exec', `${node} -e "console.log('done, I think')"`], w);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('printed no `PR: <url>` line');
    expect((await runtimeOf('acme/delta:d1')).state).toBe('queued');
  }, 120_000);

  it('SIGINT stops the tool and keeps the lease (130); --resume continues it without a new claim', async () => {
    await importTasks('acme/gamma', [{ id: 'g1', title: 'Gamma one', skills: ['gamma'] }]);
    const w = await worker('gus');
    const run = startOwp(['worker', 'run', '--skills', 'gamma', '--workdir', join(dir, 'work-gus'), '--no-workspace', '--exec', `${node} -e "setInterval(() => {}, 1000)"`], w);
    await waitFor(async () => (await runtimeOf('acme/gamma:g1'))?.state === 'leased' && run.out().stderr.includes('leased acme/gamma:g1'), 60_000);
    const before = await runtimeOf('acme/gamma:g1');
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('SIGINT: stopping work on acme/gamma:g1, keeping its lease');
    expect(r.stderr).toMatch(/kept the lease on acme\/gamma:g1 \(expires in .*\); `owp worker run --resume` continues it/);
    const rt = await runtimeOf('acme/gamma:g1');
    expect(rt).toMatchObject({ state: 'leased', fencingToken: before.fencingToken });
    // --resume picks the same lease up (same fencing token, no second grant) and submits.
    const again = await owp(
      ['worker', 'run', '--resume', '--once', '--workdir', join(dir, 'work-gus'), '--no-workspace', '--exec', `${node} -e "console.log('PR: https://github.com/acme/gamma/pull/3')"`],
      w,
    );
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain('resuming acme/gamma:g1');
    expect(await runtimeOf('acme/gamma:g1')).toMatchObject({ state: 'pr_open', fencingToken: before.fencingToken, attempt: before.attempt, prUrl: 'https://github.com/acme/gamma/pull/3' });
  }, 120_000);

  it('--json prints one JSON event per line', async () => {
    await importTasks('acme/eps', [{ id: 'e1', title: 'Eps one', skills: ['eps'] }]);
    const w = await worker('eve');
    const r = await owp(
      ['worker', 'run', '--json', '--skills', 'eps', '--once', '--workdir', join(dir, 'work-eve'), '--no-workspace', '--exec', `${node} -e "console.log('PR: https://github.com/acme/eps/pull/5')"`],
      w,
    );
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.map((e) => e.event)).toEqual(['registered', 'leased', 'brief', 'submitted']);
    expect(events[1]).toMatchObject({ taskId: 'acme/eps:e1' });
    expect(events[3]).toMatchObject({ prUrl: 'https://github.com/acme/eps/pull/5' });
  }, 120_000);

  it('without --exec and no TTY it heartbeats until `owp submit` from another shell moves the task on', async () => {
    await importTasks('acme/zeta', [{ id: 'z1', title: 'Zeta one', skills: ['zeta'] }]);
    const w = await worker('zoe');
    const run = startOwp(['worker', 'run', '--skills', 'zeta', '--once', '--poll', '200ms', '--workdir', join(dir, 'work-zoe')], w);
    await waitFor(() => run.out().stderr.includes('leased acme/zeta:z1'), 60_000);
    const sub = await owp(['submit', 'acme/zeta:z1', '--pr', 'https://github.com/acme/zeta/pull/9'], w);
    expect(sub.code, sub.stderr).toBe(0);
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('acme/zeta:z1 is now pr_open');
    // changes requested: the same lease (same fencing token, still in the book) comes back
    const rev = await owp(['review', 'acme/zeta:z1', '--changes-requested'], maint);
    expect(rev.code, rev.stderr).toBe(0);
    const hb = await owp(['heartbeat', 'acme/zeta:z1'], w);
    expect(hb.code, hb.stderr).toBe(0);
    expect((await runtimeOf('acme/zeta:z1')).state).toBe('leased');
  }, 120_000);

  it('SIGTERM while waiting for a task exits 143 at once, holding nothing', async () => {
    const w = await worker('ivy');
    const run = startOwp(['worker', 'run', '--skills', 'nothing-matches', '--poll', '10m', '--workdir', join(dir, 'work-ivy')], w);
    await waitFor(() => run.out().stderr.includes('no task for now'), 60_000);
    run.child.kill('SIGTERM');
    const r = await run.done;
    expect(r.code, r.stderr).toBe(143);
    expect(r.stderr).toContain('SIGTERM: exiting');
  }, 120_000);

  it('without --skills it keeps the registered skills and applies --capacity', async () => {
    await importTasks('acme/kappa', [{ id: 'k1', title: 'Kappa one', skills: ['kappa'] }]);
    const w = await worker('kim');
    await owpJson(['worker', 'register', '--skills', 'kappa', '--capacity', '3'], w);
    const r = await owp(
      ['worker', 'run', '--json', '--once', '--capacity', '5', '--workdir', join(dir, 'work-kim'), '--no-workspace', '--exec', `${node} -e "console.log('PR: https://github.com/acme/kappa/pull/8')"`],
      w,
    );
    expect(r.code, r.stderr).toBe(0);
    const first = JSON.parse(r.stdout.split('\n')[0]!);
    expect(first).toMatchObject({ event: 'registered', worker: { id: 'kim', skills: ['kappa'], capacity: 5 } });
  }, 120_000);
});
