/**
 * Validation messages a person can act on: each field says what it must be in words
 * (`points: must be a whole number from 1 to 100`), never zod's developer wording
 * (`Invalid input: expected number, received string`), with the field path in front.
 */
import { describe, expect, it } from 'vitest';
import { IntentSchema, RepoPolicySchema, TaskSchema, WorkerProfileSchema, listProblems, parseIntent, parseRepoPolicy, parseTask, parseWorkerProfile } from '../../shared/model.js';
import { owpErrorOf } from '../helpers/errors.js';

const task = { id: 'octo/app#1', repo: 'octo/app', title: 'Fix the typo', createdAt: 1 };
const profile = { id: 'ann', name: 'Ann', skills: ['docs'], capacity: 3, maxConcurrent: 1 };
const ZOD_WORDING = /Invalid input|expected \w+, received|Too (big|small)|Unrecognized key|Invalid option|Invalid string/;

describe('task field messages', () => {
  it.each([
    ['points', '3', 'points: must be a whole number from 1 to 100'],
    ['points', 0.5, 'points: must be a whole number from 1 to 100'],
    ['points', 101, 'points: must be a whole number from 1 to 100'],
    ['tier', 7, 'tier: must be 0, 1, 2 or 3'],
    ['tier', '1', 'tier: must be 0, 1, 2 or 3'],
    ['skills', 'docs', 'skills: must be a list of lower-case names such as docs or typescript (at most 32)'],
    ['skills', ['Docs'], 'skills.0: must be a lower-case name such as docs or typescript'],
    ['title', '', 'title: must not be empty'],
    ['title', 42, 'title: must be text of 1 to 300 characters'],
    ['priority', 1000, 'priority: must be a whole number from -100 to 100'],
    ['area', '/etc', 'area: must be a relative path such as docs/ or src/parser/'],
    ['held', 'yes', 'held: must be true or false'],
    ['source', 'email', 'source: must be one of yaml, github, api, obsidian'],
    ['labels', [1], 'labels.0: must be a list of at most 64 labels of at most 100 characters each'],
    ['createdAt', -1, 'createdAt: must be the creation time in milliseconds'],
  ])('%s = %j: "%s"', (field, value, expected) => {
    const e = owpErrorOf(() => parseTask({ ...task, [field]: value }));
    expect(e.code).toBe('invalid-field');
    expect(e.field).toBe(expected.split(':')[0]);
    expect(e.message).toContain(expected);
    expect(e.message).not.toMatch(ZOD_WORDING);
  });

  it('a missing required field says it is required and what it must be', () => {
    const e = owpErrorOf(() => parseTask({ id: 'octo/app#1', repo: 'octo/app', createdAt: 1 }));
    expect(e.field).toBe('title');
    expect(e.message).toBe('Invalid task: title: is required; it must be text of 1 to 300 characters.');
  });

  it('a value missing several checks of one field is told once (no "and 1 more" for the same sentence)', () => {
    const e = owpErrorOf(() => parseTask({ ...task, points: -0.5 }));
    expect(e.message).toBe('Invalid task: points: must be a whole number from 1 to 100.');
  });

  it('an unknown field is named, with the fields a task does have', () => {
    const e = owpErrorOf(() => parseTask({ ...task, pointz: 3 }));
    expect(e.field).toBe('pointz');
    expect(e.message).toMatch(/^Invalid task: pointz: is not a field of a task; its fields are id, repo, .*points/);
  });

  it('listProblems words every problem the same way, field first', () => {
    const problems = listProblems(TaskSchema, { ...task, points: 'x', tier: 9 });
    expect(problems).toEqual([
      { field: 'points', message: 'points: must be a whole number from 1 to 100' },
      { field: 'tier', message: 'tier: must be 0, 1, 2 or 3' },
    ]);
  });
});

describe('worker profile, repo policy and intent messages', () => {
  it('capacity, maxConcurrent and skills of a worker profile', () => {
    expect(owpErrorOf(() => parseWorkerProfile({ ...profile, capacity: 0 })).message).toContain('capacity: must be a whole number from 1 to 1000');
    expect(owpErrorOf(() => parseWorkerProfile({ ...profile, capacity: '5' })).message).toContain('capacity: must be a whole number from 1 to 1000');
    expect(owpErrorOf(() => parseWorkerProfile({ ...profile, maxConcurrent: 500 })).message).toContain('maxConcurrent: must be a whole number from 1 to 100');
    expect(owpErrorOf(() => parseWorkerProfile({ ...profile, skills: ['Type Script'] })).message).toContain('skills.0: must be a lower-case name such as docs or typescript');
    expect(listProblems(WorkerProfileSchema, { ...profile, role: 'admin' })[0]!.message).toMatch(/^role: is not a field of a worker profile; its fields are id, name, skills, capacity, maxConcurrent, maxOpenPrs, available$/);
  });

  it('repo policy numbers, tiers and the GitHub settings', () => {
    expect(owpErrorOf(() => parseRepoPolicy({ repo: 'a/b', reviewBudget: -1 })).message).toContain('reviewBudget: must be a whole number from 0 to 1000');
    expect(owpErrorOf(() => parseRepoPolicy({ repo: 'a/b', allowedTiers: [4] })).message).toContain('allowedTiers.0: must be 0, 1, 2 or 3');
    expect(owpErrorOf(() => parseRepoPolicy({ repo: 'a/b', allowedTiers: 1 })).message).toContain('allowedTiers: must be a list of risk tiers such as [0, 1]');
    expect(owpErrorOf(() => parseRepoPolicy({ repo: 'a/b', leaseTtlMs: 5 })).message).toContain('leaseTtlMs: must be a whole number of milliseconds from 1000 (1 s) to 2592000000 (30 days)');
    expect(listProblems(RepoPolicySchema, { repo: 'a/b', github: { enabeld: true } })[0]!.message).toMatch(/^github\.enabeld: is not a field of the GitHub settings; its fields are enabled, label, writeBack \(did you mean enabled\?\)$/);
  });

  it('an intent of an unknown kind lists the kinds; a bad fencing token says where it comes from', () => {
    const bad = owpErrorOf(() => parseIntent({ kind: 'steal', id: 'i', workerId: 'ann' }));
    expect(bad.code).toBe('invalid-intent');
    expect(bad.field).toBe('kind');
    expect(bad.message).toContain('kind: must be an intent kind: one of claim, claim-next, heartbeat, release, submit, complete, fail, review, requeue, cancel');
    expect(owpErrorOf(() => parseIntent({ id: 'i', workerId: 'ann' })).message).toContain('kind: is required; it must be an intent kind');
    const ft = listProblems(IntentSchema, { kind: 'heartbeat', id: 'i', workerId: 'ann', taskId: 't', fencingToken: 0 });
    expect(ft).toEqual([{ field: 'fencingToken', message: 'fencingToken: must be the fencing token you got with the lease (a whole number, 1 or more)' }]);
    expect(owpErrorOf(() => parseIntent({ kind: 'review', id: 'i', workerId: 'gh', taskId: 't', result: 'approved' })).message).toContain(
      'result: must be one of open, merged, closed, changes-requested',
    );
    expect(owpErrorOf(() => parseIntent(3)).message).toContain('(root): must be an intent: an object with kind, id, workerId');
  });
});
