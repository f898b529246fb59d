/** The worker loop's pure parts: redaction, branch names, PR bodies, --clone-url, the preset table and its doc. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCloneUrls } from '../../server/cli/commands/worker-run.js';
import { prBody } from '../../server/cli/worker/pull-request.js';
import { redact, tail } from '../../server/cli/worker/redact.js';
import { TOOL_PRESETS } from '../../server/cli/worker/tools.js';
import { branchFor, ownerOfRemote } from '../../server/cli/worker/workspace.js';
import { parseTask } from '../../shared/model.js';
import { REPO_ROOT } from '../helpers/cli-run.js';

describe('worker parts', () => {
  it('redacts tokens, keys, auth headers, URL passwords and secrets in assignments', () => {
    const text = [
      'push https://alice:s3cretpass@github.com/acme/app.git failed',
      'Authorization: Bearer abcdefghijklmnop1234',
      'GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789',
      'key sk-ant-api03-abcdefghijklmnopqrstuv and AKIAABCDEFGHIJKLMNOP',
      'github_pat_11AAAAAAA0abcdefghijklmnopqrstuvwxyz',
      'plain words stay',
    ].join('\n');
    const out = redact(text);
    for (const secret of ['s3cretpass', 'abcdefghijklmnop1234', 'ghp_abc', 'sk-ant', 'AKIAABCDEFGHIJKLMNOP', 'github_pat_']) expect(out).not.toContain(secret);
    expect(out).toContain('plain words stay');
    expect(out).toContain('https://[redacted]@github.com/acme/app.git');
  });

  it('tail keeps the last non-empty lines within a character bound', () => {
    expect(tail('a\n\nb\nc\n', 2)).toBe('b\nc');
    expect(tail('x'.repeat(50), 5, 10)).toBe('…' + 'x'.repeat(9));
  });

  it('branch names are owp/<slug>, valid for git whatever the task id', () => {
    expect(branchFor('acme/app#12')).toBe('owp/acme-app-12');
    expect(branchFor('Octo/App:Fix..Parser.lock')).toBe('owp/octo-app-fix.parser-lock');
    expect(branchFor('###')).toBe('owp/task');
    expect(branchFor('a'.repeat(300)).length).toBe(64);
  });

  it('PR body: summary, Closes #N for issue tasks, hidden marker', () => {
    const t = parseTask({ id: 'acme/app#12', repo: 'acme/app', title: 'Fix', body: 'First paragraph.\n\nSecond.', issueNumber: 12, createdAt: 1 });
    const body = prBody(t);
    expect(body).toContain('First paragraph.');
    expect(body).not.toContain('Second.');
    expect(body).toContain('Closes #12');
    expect(body.endsWith('<!-- owp-task: acme/app#12 -->')).toBe(true);
    expect(prBody({ ...t, issueNumber: undefined })).not.toContain('Closes');
  });

  it('--clone-url OWNER/NAME=URL, refusing other shapes; fork owners from remotes', () => {
    expect(parseCloneUrls(['acme/app=/srv/app.git', 'o/r=file:///x/r.git'])).toEqual({ 'acme/app': '/srv/app.git', 'o/r': 'file:///x/r.git' });
    expect(() => parseCloneUrls(['acme/app'])).toThrow(/use OWNER\/NAME=URL/);
    expect(() => parseCloneUrls(['acme/app=--upload-pack=x'])).toThrow(/must not start with "-"/);
    expect(ownerOfRemote('git@github.com:alice/app.git')).toBe('alice');
    expect(ownerOfRemote('https://github.com/alice/app')).toBe('alice');
  });

  it('docs/CONTRIBUTING-WITH-OWP.md shows every preset exactly as the table has it', () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs', 'CONTRIBUTING-WITH-OWP.md'), 'utf8');
    for (const t of TOOL_PRESETS) expect(doc).toContain(`| \`${t.name}\` | ${t.title} | \`${t.command}\` | ${t.version} |`);
  });
});
