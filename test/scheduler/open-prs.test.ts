/**
 * Pull requests awaiting review do not stop their author (max-concurrent and capacity count
 * leases in progress only) but count against maxOpenPrs; submitted links must be pull
 * requests of the task's repo on the relay's GitHub host, one per active task.
 */
import { describe, expect, it } from 'vitest';
import { checkInvariants, schedule } from '../../shared/scheduler/index.js';
import { githubHostFrom, parsePrUrl, prLinkProblem } from '../../shared/scheduler/pr-links.js';
import { REPO, T0, claim, claimNext, makeState, policy, prUrlFor, profile, review, step, submit, task } from '../helpers/scheduler-fixtures.js';
import type { PoolState } from '../../shared/model.js';

function grantAll(state: PoolState, worker: string, ids: string[]): PoolState {
  let s = state;
  for (const id of ids) {
    const r = step(s, [claim(worker, id)], T0);
    expect(r.result.outcomes[0]).toMatchObject({ status: 'granted' });
    s = r.state;
  }
  return s;
}

describe('max-concurrent and capacity count leases in progress only', () => {
  it('a worker whose pull request awaits review claims the next task at maxConcurrent 1', () => {
    const s0 = makeState({ tasks: [task('a', { points: 3 }), task('b', { points: 3 })], workers: [profile('ann', { maxConcurrent: 1, capacity: 6 })] });
    const s1 = grantAll(s0, 'ann', ['a']);
    expect(step(s1, [claim('ann', 'b')], T0).result.outcomes[0]).toMatchObject({ code: 'max-concurrent' });
    // Capacity too counts work in progress only: 3 + 3 points fit a capacity of 3 once a is submitted.
    const tight = { ...s1, profiles: { ann: { ...s1.profiles.ann!, capacity: 3 } } };
    expect(step(tight, [claim('ann', 'b')], T0).result.outcomes[0]).toMatchObject({ code: 'capacity-exceeded' });
    expect(step(step(tight, [submit('ann', 'a', 1)], T0 + 1).state, [claim('ann', 'b')], T0 + 2).result.outcomes[0]).toMatchObject({ status: 'granted' });
    const s2 = step(s1, [submit('ann', 'a', 1)], T0 + 1).state;
    const r = step(s2, [claimNext('ann')], T0 + 2);
    expect(r.result.outcomes[0]).toMatchObject({ status: 'granted', taskId: 'b' });
    expect(checkInvariants(r.state)).toEqual([]);
  });

  it('a pull request sent back with changes requested is in progress again', () => {
    const s0 = makeState({ tasks: [task('a'), task('b'), task('c')], workers: [profile('ann', { maxConcurrent: 1 })] });
    let s = grantAll(s0, 'ann', ['a']);
    s = step(s, [submit('ann', 'a', 1)], T0).state;
    s = step(s, [review('a', 'changes-requested')], T0 + 1).state;
    const o = step(s, [claim('ann', 'b')], T0 + 2).result.outcomes[0]!;
    expect(o).toMatchObject({ code: 'max-concurrent', filter: 'max-concurrent' });
    expect(o.message).toMatch(/working on 1 task/);
  });
});

describe('max-open-prs', () => {
  it('stops claims at maxOpenPrs active leases (default 3) and names what is waiting', () => {
    const s0 = makeState({ tasks: ['a', 'b', 'c', 'd'].map((id) => task(id)), workers: [profile('ann', { maxConcurrent: 1, capacity: 10 })] });
    let s = s0;
    for (const id of ['a', 'b', 'c']) {
      s = grantAll(s, 'ann', [id]);
      s = step(s, [submit('ann', id, 1)], T0).state;
    }
    const r = step(s, [claimNext('ann')], T0 + 5);
    expect(r.result.outcomes[0]).toMatchObject({ status: 'rejected', code: 'max-open-prs', filter: 'max-open-prs' });
    const o = step(s, [claim('ann', 'd')], T0 + 5).result.outcomes[0]!;
    expect(o).toMatchObject({ status: 'rejected', code: 'max-open-prs', filter: 'max-open-prs' });
    expect(o.message).toBe(
      'Worker ann has 3 pull request(s) awaiting review and 0 task(s) in progress (each becomes a pull request); its limit of open pull requests is 3. Claims resume when a maintainer merges or closes one (or raise maxOpenPrs in your profile).',
    );
    // A merge frees a slot.
    const merged = step(s, [review('a', 'merged')], T0 + 6).state;
    expect(step(merged, [claim('ann', 'd')], T0 + 7).result.outcomes[0]).toMatchObject({ status: 'granted' });
  });

  it('counts leases in progress too, so open pull requests never exceed the limit', () => {
    const s0 = makeState({ tasks: ['a', 'b', 'c'].map((id) => task(id)), workers: [profile('ann', { maxConcurrent: 5, capacity: 10, maxOpenPrs: 2 })] });
    const s = grantAll(s0, 'ann', ['a', 'b']);
    expect(step(s, [claim('ann', 'c')], T0).result.outcomes[0]).toMatchObject({ code: 'max-open-prs' });
    expect(checkInvariants(s)).toEqual([]);
  });

  it('the invariant check reports a worker above maxOpenPrs as a limit', () => {
    const s0 = makeState({ tasks: ['a', 'b'].map((id) => task(id)), workers: [profile('ann', { maxConcurrent: 5, capacity: 10 })] });
    const s = grantAll(s0, 'ann', ['a', 'b']);
    const lowered = { ...s, profiles: { ann: { ...s.profiles.ann!, maxOpenPrs: 1 } } };
    expect(checkInvariants(lowered)).toEqual(['limit: worker ann holds 2 leases, max open PRs 1']);
  });
});

describe('pull request links on submit', () => {
  const leased = (): PoolState => grantAll(makeState({ tasks: [task('a'), task('b')], workers: [profile('ann'), profile('bob')] }), 'ann', ['a']);

  it.each([
    ['https://github.com/other/repo/pull/3', /is a pull request of other\/repo, but the task belongs to acme\/app/],
    ['https://gitlab.com/acme/app/pull/3', /is on gitlab.com, but this relay tracks pull requests on github.com/],
    ['https://github.com/acme/app/issues/3', /is not a pull request link; it must look like https:\/\/github.com\/acme\/app\/pull\/N/],
    ['https://github.com/acme/app/pull/3/files', /is not a pull request link/],
    ['http://github.com/acme/app/pull/3', /is not a pull request link/],
  ])('refuses %s with invalid-field and changes nothing', (url, message) => {
    const s = leased();
    const { result } = step(s, [submit('ann', 'a', 1, undefined, url)], T0 + 1);
    expect(result.outcomes[0]).toMatchObject({ status: 'rejected', code: 'invalid-field' });
    expect(result.outcomes[0]!.message).toMatch(message);
    expect(result.ledger.tasks.a).toEqual(s.ledger.tasks.a);
  });

  it('accepts any letter case and a trailing slash', () => {
    const { result } = step(leased(), [submit('ann', 'a', 1, undefined, 'https://GitHub.com/ACME/App/pull/12/')], T0 + 1);
    expect(result.outcomes[0]).toMatchObject({ status: 'applied' });
  });

  it('refuses a pull request another active task holds with pr-in-use, and allows it again once that task is done', () => {
    let s = grantAll(leased(), 'bob', ['b']);
    const url = prUrlFor('a');
    s = step(s, [submit('ann', 'a', 1, undefined, url)], T0 + 1).state;
    const twice = step(s, [submit('bob', 'b', 1, undefined, url.replace('acme/app', 'ACME/App'))], T0 + 2).result.outcomes[0]!;
    expect(twice).toMatchObject({ status: 'rejected', code: 'pr-in-use' });
    expect(twice.message).toContain('already belongs to task a (pr_open)');
    // Same batch: the first submit wins, the second sees it.
    const fresh = grantAll(leased(), 'bob', ['b']);
    const both = step(fresh, [submit('ann', 'a', 1, undefined, url), submit('bob', 'b', 1, undefined, url)], T0 + 1).result.outcomes;
    expect(both.map((o) => o.code ?? o.status)).toEqual(['applied', 'pr-in-use']);
    // The task that holds it submits it again after changes were requested.
    s = step(s, [review('a', 'changes-requested')], T0 + 3).state;
    expect(step(s, [submit('ann', 'a', 1, undefined, url)], T0 + 4).result.outcomes[0]).toMatchObject({ status: 'applied' });
    // Once a is done its pull request no longer blocks.
    s = step(s, [review('a', 'merged')], T0 + 5).state;
    expect(step(s, [submit('bob', 'b', 1, undefined, url)], T0 + 6).result.outcomes[0]).toMatchObject({ status: 'applied' });
  });

  it('checks against the host the relay passes in (GitHub Enterprise)', () => {
    const s = leased();
    const ghe = (url: string) => schedule(s, [submit('ann', 'a', 1, `ghe-${url}`, url)], T0 + 1, { githubHost: 'git.example.com' }).outcomes[0]!;
    expect(ghe('https://git.example.com/acme/app/pull/4')).toMatchObject({ status: 'applied' });
    expect(ghe('https://github.com/acme/app/pull/4')).toMatchObject({ code: 'invalid-field' });
  });

  it('parses, explains and derives the host', () => {
    expect(parsePrUrl('https://github.com/a/b/pull/7')).toEqual({ host: 'github.com', repo: 'a/b', number: 7 });
    expect(parsePrUrl('https://github.com/a/b/pull/0')).toBeUndefined();
    expect(prLinkProblem('https://github.com/acme/app/pull/7', REPO, 'github.com')).toBeUndefined();
    expect(githubHostFrom({})).toBe('github.com');
    expect(githubHostFrom({ OWP_GITHUB_HOST: 'Git.Example.com' })).toBe('git.example.com');
    expect(githubHostFrom({ OWP_GITHUB_API_URL: 'https://git.example.com/api/v3' })).toBe('git.example.com');
    expect(githubHostFrom({ OWP_GITHUB_API_URL: 'https://api.github.com' })).toBe('github.com');
    expect(githubHostFrom({ OWP_GITHUB_API_URL: 'https://api.octo.ghe.com/' })).toBe('octo.ghe.com');
    expect(githubHostFrom({ OWP_GITHUB_API_URL: 'http://127.0.0.1:9999' })).toBe('github.com');
    expect(() => githubHostFrom({ OWP_GITHUB_HOST: 'https://git.example.com/' })).toThrow(/must be a host name such as github.example.com/);
  });

  it('a policy cloneUrl must be a git remote, not a local path', () => {
    expect(policy(REPO, { cloneUrl: 'git@github.com:acme/app.git' }).cloneUrl).toBe('git@github.com:acme/app.git');
    expect(policy(REPO, { cloneUrl: 'https://git.example.com/acme/app.git' }).cloneUrl).toBe('https://git.example.com/acme/app.git');
    for (const bad of ['/srv/git/app.git', 'file:///srv/git/app.git', 'ext::sh -c touch% /tmp/x', '--upload-pack=evil'])
      expect(() => policy(REPO, { cloneUrl: bad })).toThrow(/cloneUrl: must be a git remote URL/);
  });
});
