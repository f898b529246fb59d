import { describe, expect, it } from 'vitest';
import { formatYamlProblem, parseYamlTasks, parseYamlTasksOrThrow } from '../../shared/yaml-tasks.js';
import { DEFAULTS } from '../../shared/model.js';
import { isOwpError } from '../../shared/errors.js';

const good = `repo: acme/widgets
tasks:
  - id: fix-readme
    title: Fix the README typo
    points: 2
    skills: [docs, markdown]
    tier: 1
    area: docs/
    priority: 5
    labels: [good-first]
    body: |
      Replace "teh" with "the".
  - id: 42
    title: Minimal task
`;

describe('parseYamlTasks', () => {
  it('turns local ids into owner/name:<id> and fills the documented defaults', () => {
    const r = parseYamlTasks(good, 'tasks.yaml');
    expect(r.problems).toEqual([]);
    expect(r.repo).toBe('acme/widgets');
    expect(r.tasks).toHaveLength(2);
    expect(r.tasks[0]).toMatchObject({
      id: 'acme/widgets:fix-readme',
      repo: 'acme/widgets',
      title: 'Fix the README typo',
      points: 2,
      skills: ['docs', 'markdown'],
      tier: 1,
      area: 'docs/',
      priority: 5,
      labels: ['good-first'],
      body: 'Replace "teh" with "the".\n',
      source: 'yaml',
    });
    expect(r.tasks[1]).toEqual({
      id: 'acme/widgets:42',
      repo: 'acme/widgets',
      title: 'Minimal task',
      body: '',
      points: DEFAULTS.points,
      skills: [],
      tier: DEFAULTS.tier,
      area: DEFAULTS.area,
      priority: DEFAULTS.priority,
      labels: [],
      source: 'yaml',
    });
  });

  it('is deterministic: the same text gives the same tasks', () => {
    expect(parseYamlTasks(good, 'a.yaml')).toEqual(parseYamlTasks(good, 'a.yaml'));
  });

  it('reports an unknown key with its line and a suggestion, and returns no task at all', () => {
    const text = good.replace('    priority: 5\n', '    priorty: 5\n');
    const r = parseYamlTasks(text, 'tasks.yaml');
    expect(r.tasks).toEqual([]);
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatchObject({ file: 'tasks.yaml', line: 9, field: 'tasks[0].priorty' });
    expect(r.problems[0]!.message).toContain('did you mean "priority"');
    expect(formatYamlProblem(r.problems[0]!)).toMatch(/^tasks\.yaml:9: tasks\[0\]\.priorty: unknown key/);
  });

  it('reports duplicate ids naming both lines', () => {
    const text = `repo: a/b\ntasks:\n  - id: x\n    title: one\n  - id: x\n    title: two\n`;
    const r = parseYamlTasks(text, 'dup.yaml');
    expect(r.tasks).toEqual([]);
    expect(r.problems).toEqual([
      { file: 'dup.yaml', line: 5, field: 'tasks[1].id', message: 'duplicate id "x" (first used on line 3)' },
    ]);
  });

  it('points at the line of a bad field value', () => {
    const text = `repo: a/b\ntasks:\n  - id: x\n    title: one\n    tier: 7\n    skills: [ok, Not-Lower]\n`;
    const r = parseYamlTasks(text, 'bad.yaml');
    expect(r.tasks).toEqual([]);
    const fields = r.problems.map((p) => `${p.line}:${p.field}`);
    expect(fields).toContain('5:tasks[0].tier');
    expect(fields).toContain('6:tasks[0].skills.1');
  });

  it('reports a missing title on the line of the task', () => {
    const r = parseYamlTasks(`repo: a/b\ntasks:\n  - id: x\n    points: 1\n`, 'f.yaml');
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatchObject({ line: 3, field: 'tasks[0].title' });
  });

  it('reports YAML syntax errors with a line', () => {
    const r = parseYamlTasks(`repo: a/b\ntasks:\n  - id: x\n    title: [unclosed\n`, 'syn.yaml');
    expect(r.tasks).toEqual([]);
    expect(r.problems.length).toBeGreaterThan(0);
    expect(r.problems[0]!.field).toBe('(yaml)');
    expect(r.problems[0]!.line).toBeGreaterThanOrEqual(4);
  });

  it('requires repo and tasks and a valid repo name', () => {
    expect(parseYamlTasks(`tasks: []\n`, 'f').problems.map((p) => p.field)).toEqual(['repo']);
    expect(parseYamlTasks(`repo: nope\ntasks: []\n`, 'f').problems.map((p) => p.field)).toEqual(['repo']);
    expect(parseYamlTasks(`repo: a/b\n`, 'f').problems.map((p) => p.field)).toEqual(['tasks']);
    expect(parseYamlTasks(`- 1\n- 2\n`, 'f').problems.map((p) => p.field)).toEqual(['(root)']);
    expect(parseYamlTasks(`repo: a/b\ntasks: []\nextra: 1\n`, 'f').problems[0]).toMatchObject({ field: 'extra', line: 3 });
  });

  it('never evaluates tags: a !!js/function node is a problem, not code', () => {
    const text = `repo: a/b\ntasks:\n  - id: x\n    title: !!js/function "function(){ globalThis.pwned = 1 }"\n`;
    const r = parseYamlTasks(text, 'evil.yaml');
    expect(r.tasks).toEqual([]);
    expect(r.problems.length).toBeGreaterThan(0);
    expect((globalThis as Record<string, unknown>).pwned).toBeUndefined();
  });

  it('rejects ids that are not file-name friendly', () => {
    const r = parseYamlTasks(`repo: a/b\ntasks:\n  - id: "has space"\n    title: t\n`, 'f');
    expect(r.problems[0]).toMatchObject({ line: 3, field: 'tasks[0].id' });
  });

  it('parseYamlTasksOrThrow throws invalid-yaml listing every problem', () => {
    const text = `repo: a/b\ntasks:\n  - id: x\n    titel: one\n  - id: x\n    title: two\n`;
    try {
      parseYamlTasksOrThrow(text, 't.yaml');
      expect.unreachable();
    } catch (e) {
      expect(isOwpError(e) && e.code).toBe('invalid-yaml');
      const lines = (e as Error).message.split('\n');
      expect(lines.some((l) => l.startsWith('t.yaml:4: tasks[0].titel'))).toBe(true);
      expect(lines.some((l) => l.startsWith('t.yaml:5: tasks[1].id'))).toBe(true);
    }
  });
});
