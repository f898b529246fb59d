/**
 * The task brief `owp worker run` writes for the contributor's tool: `<workdir>/<task>/TASK.md`.
 *
 * Invariants:
 * - Only TASK.md in the task's own folder is (re)written here (the worktree beside it is
 *   workspace.ts's); TASK.md is outside the worktree, so it is never committed.
 * - The folder name is the task id with anything but letters, digits, `_ . -` replaced by `_`,
 *   so ids with `/ : #` can never escape the workdir.
 * - No secret (token, fencing token aside) is written into the brief.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Task } from '../../../shared/model.js';

export function taskDirName(taskId: string): string {
  const s = taskId.replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^\.+/, '_');
  return s.slice(0, 150) || '_';
}

/** Where the tool works when `owp worker run` prepared a worktree (see workspace.ts). */
export interface BriefWorkspace {
  branch: string;
  baseBranch: string;
  /** Review feedback for a task sent back with changes requested. */
  review?: string;
  prUrl?: string;
}

export function renderBrief(task: Task, lease: { fencingToken: number; expiresAt: number }, ws?: BriefWorkspace): string {
  const lines = [
    `# ${task.title}`,
    '',
    `- Task: ${task.id}`,
    `- Repository: ${task.repo} (https://github.com/${task.repo})`,
    `- Issue: ${task.issueUrl ?? (task.issueNumber ? `https://github.com/${task.repo}/issues/${task.issueNumber}` : '-')}`,
    `- Points: ${task.points}; risk tier: ${task.tier}; skills: ${task.skills.join(', ') || '-'}`,
    `- Area: ${task.area || '(whole repository, no area lock)'}`,
    `- Labels: ${task.labels.join(', ') || '-'}`,
    `- Lease: fencing token ${lease.fencingToken}, expires ${new Date(lease.expiresAt).toISOString()} unless heartbeats extend it`,
    '',
    '## What to do',
    '',
    task.body.trim() || '(no description given; see the issue)',
    '',
    '## Acceptance',
    '',
    ...(ws
      ? [
          `- Change the files in the current folder: a worktree of ${task.repo} on branch \`${ws.branch}\`, from \`${ws.baseBranch}\`${task.area ? `; change files under \`${task.area}\` only` : ''}.`,
          '- Commit if you like (what is left uncommitted is committed for you); `owp` pushes the branch and opens the pull request. Do not push or open one yourself.',
        ]
      : [
          `- Open one pull request against ${task.repo} that resolves this task${task.area ? `, changing files under \`${task.area}\` only` : ''}.`,
          '- Print `PR: <url of the pull request>` as the last line of output when done (or enter it when `owp` asks).',
        ]),
    '- Exit with a non-zero code if you cannot finish; the task goes back to the pool with your reason.',
    '',
  ];
  if (ws?.review !== undefined) {
    lines.push('## Changes requested', '', `A reviewer asked for changes to ${ws.prUrl ?? 'the pull request'}. Address them on the same branch:`, '', ws.review.trim() || '(no comment given; see the pull request)', '');
  }
  return lines.join('\n');
}

/** Write the brief; returns the TASK.md path. */
export function writeBrief(workdir: string, task: Task, lease: { fencingToken: number; expiresAt: number }, ws?: BriefWorkspace): string {
  const dir = join(resolve(workdir), taskDirName(task.id));
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'TASK.md');
  writeFileSync(file, renderBrief(task, lease, ws));
  return file;
}
