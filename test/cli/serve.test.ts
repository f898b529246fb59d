/**
 * `owp serve` as a real child process, and a worker loop that outlives it: the relay goes
 * away, heartbeats continue with backoff, the lease lapses, the relay comes back, and the
 * worker reports lease-lost instead of submitting under a stale fencing token.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/relay.js';
import { owp, owpJson, startOwp, type OwpOptions } from '../helpers/cli-run.js';

const dir = mkdtempSync(join(tmpdir(), 'owp-cli-serve-'));
const home = join(dir, 'home');
const started: ReturnType<typeof startOwp>[] = [];

afterAll(async () => {
  for (const s of started) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
});

async function serve(args: string[], env: Record<string, string> = {}): Promise<{ run: ReturnType<typeof startOwp>; url: string }> {
  const run = startOwp(['serve', ...args], { home, env });
  started.push(run);
  const url = await waitFor(() => /listening on (http:\/\/\S+)/.exec(run.out().stdout)?.[1], 60_000, 'relay to listen');
  return { run, url };
}

describe('owp serve', () => {
  it('starts the relay, prints the admin token once, serves the CLI, stops on SIGTERM with exit 0', async () => {
    const data = join(dir, 'data1');
    const { run, url } = await serve(['--port', '0', '--data', data]);
    // the token line comes after the "listening" line, possibly in a later chunk
    const token = await waitFor(() => /OWP_ADMIN_TOKEN=(owp_\S+)/.exec(run.out().stdout)?.[1], 30_000, 'the admin token line');
    const o: OwpOptions = { url, token, home };
    const me = await owpJson<{ tokens: { role: string }[] }>(['token', 'list'], o);
    expect(me.tokens.map((t) => t.role)).toContain('admin');
    run.child.kill('SIGTERM');
    const r = await run.done;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('relay stopped');

    // second start on the same data: no new admin token printed, the old one still works
    const again = await serve(['--port', '0', '--data', data]);
    const list = await owp(['token', 'list'], { url: again.url, token, home });
    expect(list.code, list.stderr).toBe(0);
    // the start-up lines are written in one go before the relay answers anything
    expect(again.run.out().stdout).toContain('Dashboard: ');
    expect(again.run.out().stdout).not.toContain('OWP_ADMIN_TOKEN=');
    again.run.child.kill('SIGTERM');
    expect((await again.run.done).code).toBe(0);
  });

  it('worker run keeps heartbeating while the relay is away and reports lease-lost when the lease lapsed', async () => {
    const data = join(dir, 'data2');
    const admin = 'owp_cli_serve_admin_token_0123456789abcdefgh';
    const first = await serve(['--port', '0', '--data', data], { OWP_ADMIN_TOKEN: admin });
    const url = first.url;
    const port = new URL(url).port;
    const a: OwpOptions = { url, token: admin, home };
    const m = { ...a, token: (await owpJson<{ token: string }>(['token', 'create', '--role', 'maintainer'], a)).token };
    const w = { ...a, token: (await owpJson<{ token: string }>(['token', 'create', '--role', 'worker', '--worker', 'wanda'], a)).token, home: join(dir, 'wanda') };
    // Short enough to lapse while the relay is away, long enough that the first heartbeat (a
    // quarter of it in) lands before it on a busy machine.
    await owpJson(['repo', 'add', 'acme/away', '--lease-ttl', '8s'], m);
    const f = join(dir, 'away.yaml');
    writeFileSync(f, 'repo: acme/away\ntasks:\n  - id: w1\n    title: Survive an outage\n    skills: [ops]\n');
    await owpJson(['import', 'yaml', f], m);

    const node = JSON.stringify(process.execPath);
    const worker = startOwp(['worker', 'run', '--once', '--skills', 'ops', '--workdir', join(dir, 'work'), '--no-workspace', '--exec', `${node} -e "setInterval(() => {}, 1000)"`], w);
    started.push(worker);
    await waitFor(() => worker.out().stderr.includes('leased acme/away:w1'), 60_000, 'the lease');
    await waitFor(() => worker.out().stderr.includes('heartbeat acme/away:w1: lease expires'), 60_000, 'a heartbeat');

    first.run.child.kill('SIGTERM');
    expect((await first.run.done).code).toBe(0);
    await waitFor(() => /heartbeat acme\/away:w1 failed: upstream-error: .*\(the lease may have lapsed\)/.test(worker.out().stderr), 60_000, 'heartbeats failing past expiry');
    expect(worker.child.exitCode).toBeNull();

    const second = await serve(['--port', port, '--data', data], { OWP_ADMIN_TOKEN: admin });
    const r = await worker.done;
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/lease-lost: .*acme\/away:w1/);
    expect(r.stderr).not.toMatch(/submitted acme/);
    const t = await owpJson<{ tasks: { runtime: { state: string; attempt: number } }[] }>(['tasks', '--repo', 'acme/away'], { ...m, url: second.url });
    expect(t.tasks[0]!.runtime.state).toBe('queued');
    second.run.child.kill('SIGTERM');
    expect((await second.run.done).code).toBe(0);
  });
});
