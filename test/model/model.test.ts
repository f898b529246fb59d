import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DEFAULTS,
  IntentSchema,
  areasOverlap,
  listProblems,
  normaliseArea,
  parseIntent,
  parseRepoPolicy,
  parseTask,
  parseWorkerProfile,
} from '../../shared/model.js';
import { fcOptions } from '../helpers/scheduler-arbitraries.js';
import { owpErrorOf } from '../helpers/errors.js';

describe('model validation', () => {
  it('fills task defaults', () => {
    const t = parseTask({ id: 'acme/app#1', repo: 'acme/app', title: 'Fix it', createdAt: 5 });
    expect(t).toMatchObject({ points: DEFAULTS.points, tier: 0, area: '', priority: 0, skills: [], held: false, cancelled: false, source: 'api', body: '' });
  });

  it('names the bad field and says why', () => {
    const e = owpErrorOf(() => parseTask({ id: 'x', repo: 'not a repo', title: 'T', createdAt: 1 }));
    expect(e.code).toBe('invalid-field');
    expect(e.field).toBe('repo');
    expect(e.message).toMatch(/repo: must look like owner\/name/);
    expect(owpErrorOf(() => parseTask({ id: 'x', repo: 'a/b', title: 'T', createdAt: 1, area: '../etc' })).field).toBe('area');
    expect(owpErrorOf(() => parseTask({ id: 'x', repo: 'a/b', title: 'T', createdAt: 1, tier: 7 })).message).toMatch(/tier: must be 0, 1, 2 or 3/);
  });

  it('rejects unknown keys (strict objects) and lists every problem', () => {
    expect(owpErrorOf(() => parseWorkerProfile({ id: 'ann', name: 'Ann', skills: [], capacity: 1, maxConcurrent: 1, role: 'admin' })).code).toBe('invalid-field');
    const problems = listProblems(IntentSchema, { kind: 'heartbeat', id: 'i', workerId: 'ann', taskId: 't', fencingToken: 0 });
    expect(problems.map((p) => p.field)).toContain('fencingToken');
  });

  it('parses every intent kind and refuses a bad one with invalid-intent', () => {
    expect(parseIntent({ kind: 'claim-next', id: 'i', workerId: 'ann' }).kind).toBe('claim-next');
    expect(parseIntent({ kind: 'review', id: 'i', workerId: 'gh', taskId: 't', result: 'merged' }).kind).toBe('review');
    expect(owpErrorOf(() => parseIntent({ kind: 'steal', id: 'i', workerId: 'ann' })).code).toBe('invalid-intent');
    expect(owpErrorOf(() => parseIntent({ kind: 'submit', id: 'i', workerId: 'ann', taskId: 't', fencingToken: 1, prUrl: 'javascript:alert(1)' })).field).toBe('prUrl');
  });

  it('fills repo policy defaults', () => {
    expect(parseRepoPolicy({ repo: 'a/b' })).toMatchObject({
      reviewBudget: DEFAULTS.reviewBudget,
      allowedTiers: [0, 1],
      leaseTtlMs: DEFAULTS.leaseTtlMs,
      maxAttempts: DEFAULTS.maxAttempts,
      cooldownMs: DEFAULTS.cooldownMs,
      dailyQuota: DEFAULTS.dailyQuota,
      frozenAreas: [],
    });
  });
});

describe('areas', () => {
  it('overlap by whole path segments', () => {
    expect(areasOverlap('docs/', 'docs/api/')).toBe(true);
    expect(areasOverlap('docs', 'docs/')).toBe(true);
    expect(areasOverlap('./src/', 'src/parser/x.ts')).toBe(true);
    expect(areasOverlap('src/par', 'src/parser/')).toBe(false);
    expect(areasOverlap('src/', 'lib/')).toBe(false);
  });

  it('the empty area takes no lock', () => {
    expect(areasOverlap('', 'src/')).toBe(false);
    expect(areasOverlap('', '')).toBe(false);
  });

  it('normalises a leading ./ and doubled slashes', () => {
    expect(normaliseArea('./src//a/')).toBe('src/a/');
  });

  it('overlap is symmetric and reflexive for non-empty areas', () => {
    const area = fc.array(fc.constantFrom('a', 'b', 'ab', 'src'), { minLength: 0, maxLength: 3 }).map((p) => p.join('/'));
    fc.assert(
      fc.property(area, area, (a, b) => {
        expect(areasOverlap(a, b)).toBe(areasOverlap(b, a));
        if (a !== '') expect(areasOverlap(a, a)).toBe(true);
      }),
      fcOptions(300),
    );
  });
});
