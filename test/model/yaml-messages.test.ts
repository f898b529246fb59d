/**
 * YAML task files word a bad field the way a person can act on, with file, line and field
 * in front (`tasks.yaml:5: tasks[0].points: must be a whole number from 1 to 100`).
 */
import { describe, expect, it } from 'vitest';
import { formatYamlProblem, parseYamlTasks } from '../../shared/yaml-tasks.js';

const ZOD_WORDING = /Invalid input|expected \w+, received|Too (big|small)|Unrecognized key|Invalid option/;

describe('YAML field messages', () => {
  it('points, tier, skills and title say what they must be, on their own line', () => {
    const text = [
      'repo: octo/app',
      'tasks:',
      '  - id: one',
      '    title: ""',
      '    points: three',
      '    tier: 5',
      '    skills: [docs, Type Script]',
      '    priority: 0.5',
      '',
    ].join('\n');
    const r = parseYamlTasks(text, 'tasks.yaml');
    expect(r.tasks).toEqual([]);
    const lines = r.problems.map(formatYamlProblem);
    expect([...lines].sort()).toEqual([
      'tasks.yaml:4: tasks[0].title: must not be empty',
      'tasks.yaml:5: tasks[0].points: must be a whole number from 1 to 100',
      'tasks.yaml:6: tasks[0].tier: must be 0, 1, 2 or 3',
      'tasks.yaml:7: tasks[0].skills.1: must be a lower-case name such as docs or typescript (letters, digits and + # . _ -, at most 64 characters)',
      'tasks.yaml:8: tasks[0].priority: must be a whole number from -100 to 100',
    ]);
    for (const l of lines) expect(l).not.toMatch(ZOD_WORDING);
  });

  it('a value that misses several checks of a field is reported once', () => {
    const r = parseYamlTasks('repo: octo/app\ntasks:\n  - id: one\n    title: t\n    points: -0.5\n', 'f.yaml');
    expect(r.problems.map(formatYamlProblem)).toEqual(['f.yaml:5: tasks[0].points: must be a whole number from 1 to 100']);
  });

  it('skills given as one word instead of a list', () => {
    const r = parseYamlTasks('repo: octo/app\ntasks:\n  - id: one\n    title: t\n    skills: docs\n', 'f.yaml');
    expect(r.problems.map(formatYamlProblem)).toEqual(['f.yaml:5: tasks[0].skills: must be a list of lower-case names such as docs or typescript (at most 32)']);
  });
});
