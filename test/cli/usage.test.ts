import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../server/cli/main.js';
import { owp } from '../helpers/cli-run.js';

const home = mkdtempSync(join(tmpdir(), 'owp-cli-usage-'));
// Nothing listens here: commands that get past usage checks fail to connect (exit 1).
const o = { home, url: 'http://127.0.0.1:9', token: 'owp_test' };

/** Run a few children at a time: the machine is shared. */
async function pool<T, R>(items: T[], n: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i]!);
      }
    }),
  );
  return out;
}

describe('owp usage', () => {
  it('owp --help lists every command and exits 0', async () => {
    const r = await owp(['--help'], o);
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toContain(`  ${c.name}`);
  });

  it('`owp <command> --help` exits 0 with that command\'s usage, for every command', async () => {
    const results = await pool(COMMANDS, 2, (c) => owp([...c.name.split(' '), '--help'], o));
    results.forEach((r, i) => {
      const c = COMMANDS[i]!;
      expect(r.code, `owp ${c.name} --help: ${r.stderr}`).toBe(0);
      expect(r.stdout).toContain(`Usage: owp ${c.name}`);
      expect(r.stdout).toContain('--json');
      for (const opt of Object.keys(c.options ?? {})) expect(r.stdout).toContain(`--${opt}`);
    });
  }, 180_000);

  it('a group without subcommand shows its subcommands with --help (0) and is bad usage without (2)', async () => {
    const help = await owp(['repo', '--help'], o);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('repo add');
    const bare = await owp(['repo'], o);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('owp: usage: "owp repo" needs a subcommand');
  });

  it('bad usage exits 2 with a sentence saying what to do', async () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command "frobnicate"/],
      [['tasks', '--bogus'], /Unknown option '--bogus'/],
      [['tasks', '--state', 'sleeping'], /--state must be one of queued/],
      [['repo', 'add', 'not-a-repo'], /is not a repository: use OWNER\/NAME/],
      [['repo', 'add', 'a/b', '--lease-ttl', 'soon'], /--lease-ttl "soon" is not a duration/],
      [['repo', 'add', 'a/b', '--tiers', '0,5'], /--tiers must be between 0 and 3/],
      [['token', 'create', '--role', 'wizard'], /--role must be one of admin, maintainer, worker, viewer/],
      [['token', 'create', '--role', 'worker'], /--role worker needs --worker ID/],
      [['submit', 'a/b:1'], /--pr URL is required/],
      [['fail', 'a/b:1'], /--reason TEXT is required/],
      [['review', 'a/b:1'], /exactly one of --merged, --closed, --changes-requested/],
      [['review', 'a/b:1', '--merged', '--closed'], /exactly one of/],
      [['claim', 'a', 'b'], /unexpected argument "b"/],
      [['trust', 'alice', '9'], /TIER must be between 0 and 3/],
      [['import', 'yaml'], /give at least one YAML FILE/],
      [['audit', '--since', 'yesterday-ish'], /--since "yesterday-ish" is neither an ISO time/],
      [['worker', 'run', '--poll', '10 parsecs'], /--poll "10 parsecs" is not a duration/],
      [['worker', 'register', '--skills', 'c plus'], /--skills: "c plus" is not a skill name/],
      [['tasks', '--url', '127.0.0.1:8787'], /the relay URL must start with http:\/\/ or https:\/\/, e\.g\. http:\/\/127\.0\.0\.1:8787; got "127\.0\.0\.1:8787" \(from --url\)/],
    ];
    const results = await pool(cases, 2, ([args]) => owp(args, o));
    results.forEach((r, i) => {
      const [args, re] = cases[i]!;
      expect(r.code, `owp ${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/^owp: usage: /);
      expect(r.stderr).toMatch(re);
    });
  }, 180_000);

  it('no token is bad usage (2); an unreachable relay is a refusal (1, upstream-error), also in --json', async () => {
    const noToken = await owp(['tasks'], { home, url: o.url });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toContain('no token: pass --token TOKEN or set OWP_TOKEN');
    const down = await owp(['tasks', '--json'], o);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^owp: upstream-error: cannot reach the relay at http:\/\/127\.0\.0\.1:9/);
    expect(JSON.parse(down.stdout)).toMatchObject({ error: { code: 'upstream-error' } });
  }, 60_000);
});
