import { describe, expect, it } from 'vitest';
import { UsageError, formatDuration, parseCommandArgs, parseDuration, parseSince, parseTiers } from '../../server/cli/args.js';
import { resolveCommand } from '../../server/cli/main.js';
import { taskDirName } from '../../server/cli/worker/brief.js';
import { childEnv, prUrlFrom } from '../../server/cli/worker/exec.js';

describe('cli value parsers', () => {
  it('reads a negative number as an argument or a value, never as a flag', () => {
    const specs = { reason: { type: 'string', help: '' }, force: { type: 'boolean', help: '' } } as const;
    expect(parseCommandArgs(['t', '-5'], specs).positionals).toEqual(['t', '-5']);
    expect(parseCommandArgs(['-0.5', '--reason', '-12', 'x'], specs)).toEqual({ values: { reason: '-12' }, positionals: ['-0.5', 'x'] });
    expect(parseCommandArgs(['--', '-5', '--force'], specs).positionals).toEqual(['-5', '--force']);
    expect(() => parseCommandArgs(['-5x'], specs)).toThrow(UsageError);
    expect(() => parseCommandArgs(['-f'], specs)).toThrow(UsageError);
  });

  it('parses durations with units and refuses anything else', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('10m')).toBe(600_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('500ms')).toBe(500);
    for (const bad of ['', '10', 'h', '2 h', '2w', '-1s']) expect(() => parseDuration(bad)).toThrow(UsageError);
  });

  it('--since takes an ISO time or a duration ago', () => {
    const now = Date.parse('2026-01-31T12:00:00Z');
    expect(parseSince('2h', now)).toBe(now - 7_200_000);
    expect(parseSince('2026-01-31T10:00:00Z', now)).toBe(Date.parse('2026-01-31T10:00:00Z'));
    expect(() => parseSince('last tuesday', now)).toThrow(UsageError);
  });

  it('tiers are sorted, unique and 0..3', () => {
    expect(parseTiers('2,0,1,1')).toEqual([0, 1, 2]);
    expect(() => parseTiers('0,4')).toThrow(UsageError);
  });

  it('formats durations compactly', () => {
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(7_200_000)).toBe('2h');
    expect(formatDuration(-5000)).toBe('-5s');
  });
});

describe('command resolution', () => {
  it('finds two-word commands wherever global flags sit', () => {
    expect(resolveCommand(['--json', 'token', 'create', '--role', 'admin']).command?.name).toBe('token create');
    expect(resolveCommand(['--url', 'http://x', 'audit', 'verify']).command?.name).toBe('audit verify');
    const a = resolveCommand(['audit', '--task', 'x']);
    expect(a.command?.name).toBe('audit');
    expect(a.rest).toEqual(['--task', 'x']);
    const c = resolveCommand(['claim', 'acme/w:verify']);
    expect(c.command?.name).toBe('claim');
    expect(c.rest).toEqual(['acme/w:verify']);
    expect(resolveCommand(['token']).command).toBeUndefined();
    // a command's own flag ends the name: `--task verify` is a value, not `audit verify`
    const v = resolveCommand(['audit', '--task', 'verify']);
    expect(v.command?.name).toBe('audit');
    expect(v.rest).toEqual(['--task', 'verify']);
  });
});

describe('worker loop pieces', () => {
  it('task folder names cannot escape the workdir', () => {
    expect(taskDirName('acme/widgets:fix-1')).toBe('acme_widgets_fix-1');
    expect(taskDirName('o/r#12')).toBe('o_r_12');
    expect(taskDirName('../../etc')).not.toContain('/');
    expect(taskDirName('..')).not.toBe('..');
  });

  it('reads PR: <url> from the last line only when it is a URL', () => {
    expect(prUrlFrom('PR: https://github.com/o/r/pull/1')).toBe('https://github.com/o/r/pull/1');
    expect(prUrlFrom('  pr:https://x.test/p/2  ')).toBe('https://x.test/p/2');
    expect(prUrlFrom('PR: soon')).toBeUndefined();
    expect(prUrlFrom('see PR: https://x/1')).toBeUndefined();
  });

  it('the tool never sees OWP_TOKEN', () => {
    const env = childEnv({ OWP_TOKEN: 'secret', OWP_ADMIN_TOKEN: 'x', PATH: '/bin' }, { OWP_TASK_ID: 't' });
    expect(env.OWP_TOKEN).toBeUndefined();
    expect(env.OWP_ADMIN_TOKEN).toBeUndefined();
    expect(env).toMatchObject({ PATH: '/bin', OWP_TASK_ID: 't' });
  });
});

describe('owp status rendering', () => {
  it('shows queue by repo with review budget, leases with countdown, capacity', async () => {
    const { renderStatus } = await import('../../server/cli/commands/tasks.js');
    const now = Date.parse('2026-01-31T12:00:00Z');
    const lines = renderStatus(
      {
        batch: 7,
        queue: { 'acme/w': { queued: 2, leased: 1 } },
        budgets: { 'acme/w': { reviewBudget: 5, inUse: 1 } },
        leases: [{ taskId: 'acme/w:t1', repo: 'acme/w', state: 'leased', workerId: 'alice', fencingToken: 3, expiresAt: now + 90_000 }],
        capacity: { workers: 2, points: 6, pointsInUse: 2 },
        invalidTasks: [],
      },
      'http://relay',
      now,
    );
    const text = lines.join('\n');
    expect(text).toContain('Relay http://relay (batch 7)');
    expect(text).toMatch(/acme\/w\s+2\s+1\s+0\s+0\s+0\s+0\s+1\/5/);
    expect(text).toMatch(/acme\/w:t1\s+leased\s+alice\s+3\s+in 1m30s/);
    expect(text).toContain('Capacity: 2/6 points in use across 2 worker(s)');
    expect(text).not.toContain('Invalid tasks');
  });
});
