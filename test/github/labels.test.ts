import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mapIssueLabels, taskFromIssue } from '../../shared/github-labels.js';
import { parseTask, DEFAULTS } from '../../shared/model.js';
import { decidePrIntent, outstandingChangesRequest, parseClosingRefs, parsePrUrl } from '../../server/github/pr-state.js';
import type { TaskRuntime } from '../../shared/model.js';

describe('github label mapping', () => {
  it('maps points, skills, tier, area and priority labels', () => {
    const f = mapIssueLabels(['owp', 'points:3', 'skill:TypeScript', 'skill:docs', 'Tier:2', 'area:./docs/api/', 'priority:-5', 'bug']);
    expect(f).toEqual({ points: 3, skills: ['docs', 'typescript'], tier: 2, area: 'docs/api/', priority: -5, problems: [] });
  });

  it('uses the documented defaults when labels are missing', () => {
    const f = mapIssueLabels(['owp']);
    expect(f).toEqual({ points: DEFAULTS.points, skills: [], tier: DEFAULTS.tier, area: DEFAULTS.area, priority: DEFAULTS.priority, problems: [] });
  });

  it('reports invalid values and falls back to the default', () => {
    const f = mapIssueLabels(['points:abc', 'tier:7', 'area:/etc', 'area:../x', 'priority:1000', 'skill:Has Space', 'points:0']);
    expect(f.points).toBe(DEFAULTS.points);
    expect(f.tier).toBe(DEFAULTS.tier);
    expect(f.area).toBe('');
    expect(f.priority).toBe(0);
    expect(f.skills).toEqual([]);
    const labels = f.problems.map((p) => p.label);
    expect(labels).toEqual(['points:abc', 'tier:7', 'area:/etc', 'area:../x', 'priority:1000', 'skill:Has Space', 'points:0']);
    expect(f.problems[0]!.message).toMatch(/points:abc.*default 1/);
    expect(f.problems[3]!.message).toMatch(/repeats area/);
  });

  it('always produces a valid task, whatever the labels and title', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 40 }), { maxLength: 80 }), fc.string({ maxLength: 400 }), fc.integer({ min: 1, max: 1e6 }), (labels, title, n) => {
        const { task } = taskFromIssue('acme/widgets', { number: n, title, body: null, labels: labels.map((name) => ({ name })) }, 1000);
        const t = parseTask(task);
        expect(t.id).toBe(`acme/widgets#${n}`);
        expect(t.source).toBe('github');
      }),
      { numRuns: 200 },
    );
  });
});

describe('github PR linking and review decisions', () => {
  it('finds closing keywords for this repo only', () => {
    const body = 'Fixes #12 and closes: #3. resolves acme/widgets#40, Resolved other/repo#5, mentions #9, FIXES https://github.com/acme/widgets/issues/7';
    expect(parseClosingRefs(body, 'acme/widgets')).toEqual([3, 7, 12, 40]);
    expect(parseClosingRefs('prefixes #4', 'acme/widgets')).toEqual([]);
    expect(parseClosingRefs(null, 'acme/widgets')).toEqual([]);
  });

  it('parses PR URLs on any host', () => {
    expect(parsePrUrl('https://github.com/acme/widgets/pull/17')).toEqual({ repo: 'acme/widgets', number: 17 });
    expect(parsePrUrl('https://ghe.example.com/acme/widgets/pull/2/files')).toEqual({ repo: 'acme/widgets', number: 2 });
    expect(parsePrUrl('https://github.com/acme/widgets/issues/17')).toBeUndefined();
  });

  it('takes the latest decisive review per reviewer', () => {
    const r = (id: number, login: string, state: string, t: string) => ({ id, user: { login }, state, submitted_at: t });
    expect(outstandingChangesRequest([r(1, 'a', 'CHANGES_REQUESTED', '1'), r(2, 'a', 'APPROVED', '2')])).toBeUndefined();
    expect(outstandingChangesRequest([r(1, 'a', 'CHANGES_REQUESTED', '1'), r(2, 'a', 'COMMENTED', '2')])?.id).toBe(1);
    expect(outstandingChangesRequest([r(1, 'a', 'APPROVED', '1'), r(2, 'b', 'CHANGES_REQUESTED', '2')])?.id).toBe(2);
  });

  it('decides review intents with deterministic ids, only for live leases', () => {
    const rt = (state: TaskRuntime['state']): TaskRuntime => ({ taskId: 't', repo: 'a/b', state, attempt: 1, fencingToken: 1, queuedAt: 0, updatedAt: 0 });
    const pr = { number: 5, state: 'open', updated_at: 'U', html_url: 'https://github.com/a/b/pull/5' };
    expect(decidePrIntent('t', rt('queued'), pr, [])).toBeUndefined();
    expect(decidePrIntent('t', rt('leased'), pr, [])).toMatchObject({ id: 'gh:t:5:open:U', result: 'open', workerId: 'github', prUrl: pr.html_url });
    expect(decidePrIntent('t', rt('pr_open'), pr, [])).toBeUndefined();
    const cr = [{ id: 9, user: { login: 'm' }, state: 'CHANGES_REQUESTED', submitted_at: 'x' }];
    expect(decidePrIntent('t', rt('pr_open'), pr, cr)).toMatchObject({ id: 'gh:t:5:changes-requested:9', result: 'changes-requested' });
    expect(decidePrIntent('t', rt('leased'), pr, cr)).toBeUndefined();
    expect(decidePrIntent('t', rt('pr_open'), { ...pr, state: 'closed', merged: true }, [])).toMatchObject({ id: 'gh:t:5:merged', result: 'merged' });
    expect(decidePrIntent('t', rt('pr_open'), { ...pr, state: 'closed', closed_at: 'C' }, [])).toMatchObject({ id: 'gh:t:5:closed:C', result: 'closed' });
  });
});
