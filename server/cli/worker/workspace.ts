/**
 * A workspace per task: a cached clone per repository under the work folder, fetched before
 * each task, and a git worktree on `owp/<task-slug>` from the up-to-date default branch.
 *
 * Layout under --workdir (default ./owp-work):
 *   .repos/<owner>/<name>/         the cached clone (no checkout of its own)
 *   <task-dir>/TASK.md             the brief (outside the worktree: never committed)
 *   <task-dir>/owp-task.json       branch, base commit, fencing token, phase, PR URL
 *   <task-dir>/repo/               the worktree the tool runs in
 *
 * Invariants:
 * - The clone URL is: --clone-url OWNER/NAME=URL, else the policy's cloneUrl, else
 *   https://github.com/OWNER/NAME.git. git runs with the contributor's own credentials
 *   (their helpers and ssh keys); no OWP or relay token is given to it.
 * - A fresh grant (a fencing token the state file does not know) starts from the remote's
 *   default branch on a fresh branch; a branch of that name already on the push remote (an
 *   earlier attempt) is not overwritten: the new one gets `-<fencingToken>`.
 * - Changes requested, and --resume of the same grant, continue in the same worktree and
 *   branch, keeping the PR.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Task } from '../../../shared/model.js';
import { git, gitMaybe, StepError } from './git.js';
import { taskDirName } from './brief.js';

export interface WorkspaceState {
  taskId: string;
  repo: string;
  branch: string;
  baseBranch: string;
  /** HEAD when the tool last started: new commits are counted from here. */
  startCommit: string;
  fencingToken: number;
  /** `tool`: the tool has not finished; `deliver`: commits are made, push / PR / submit remain; `submitted`: done until a review. */
  phase: 'tool' | 'deliver' | 'submitted';
  prUrl?: string;
  /** The commit last pushed (a rewritten branch is pushed with --force-with-lease against it). */
  pushed?: string;
}

export interface Workspace {
  taskDir: string;
  worktree: string;
  cache: string;
  stateFile: string;
  state: WorkspaceState;
  /** True when an earlier run's worktree and branch were kept. */
  continued: boolean;
}

export interface WorkspaceConfig {
  workdir: string;
  /** OWNER/NAME -> URL or local path, from --clone-url. */
  cloneUrls: Record<string, string>;
  /** Remote name or URL the branch is pushed to (default origin). */
  pushRemote?: string;
}

export function cloneUrlFor(repo: string, cfg: WorkspaceConfig, policyUrl?: string): string {
  return cfg.cloneUrls[repo] ?? policyUrl ?? `https://github.com/${repo}.git`;
}

/** `owp/<slug>`: the task id in lower case, anything but [a-z0-9._-] as `-`, at most 60. */
export function branchFor(taskId: string): string {
  const slug = taskId
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/\.{2,}/g, '.')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 60)
    .replace(/[-.]+$/g, '')
    .replace(/\.lock$/, '-lock');
  return `owp/${slug || 'task'}`;
}

export function readState(file: string): WorkspaceState | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as WorkspaceState;
  } catch {
    return undefined;
  }
}

export function writeState(ws: Workspace): void {
  const tmp = ws.stateFile + '.tmp';
  writeFileSync(tmp, JSON.stringify(ws.state, null, 2) + '\n');
  renameSync(tmp, ws.stateFile);
}

export function taskFolder(workdir: string, taskId: string): string {
  return join(resolve(workdir), taskDirName(taskId));
}

/** The relay accepted the PR: the next round (changes requested) counts commits from then. */
export function markSubmitted(workdir: string, taskId: string, prUrl: string): void {
  const stateFile = join(taskFolder(workdir, taskId), 'owp-task.json');
  const state = readState(stateFile);
  if (!state) return;
  writeState({ stateFile, state: { ...state, phase: 'submitted', prUrl } } as Workspace);
}

/** Clone once, fetch every time after; returns the cache path and the default branch. */
async function syncCache(cfg: WorkspaceConfig, repo: string, url: string): Promise<{ cache: string; baseBranch: string }> {
  const cache = join(resolve(cfg.workdir), '.repos', ...repo.split('/'));
  if (!existsSync(join(cache, '.git'))) {
    mkdirSync(join(cache, '..'), { recursive: true });
    await git(undefined, ['clone', '--no-checkout', '--', url, cache], `git clone ${url}`);
  } else {
    if ((await gitMaybe(cache, ['remote', 'get-url', 'origin'])) !== url) await git(cache, ['remote', 'set-url', 'origin', url]);
    await git(cache, ['fetch', '--prune', 'origin'], `git fetch ${url}`);
    await gitMaybe(cache, ['remote', 'set-head', 'origin', '--auto']);
  }
  const head = await gitMaybe(cache, ['symbolic-ref', '--short', 'refs/remotes/origin/HEAD']);
  let baseBranch = head?.replace(/^origin\//, '');
  if (!baseBranch) {
    for (const b of ['main', 'master']) if (await gitMaybe(cache, ['rev-parse', '--verify', '--quiet', `refs/remotes/origin/${b}`])) baseBranch ??= b;
  }
  if (!baseBranch) throw new StepError(`${url} has no default branch to start from (is the repository empty?)`);
  return { cache, baseBranch };
}

async function branchOnRemote(worktreeOrCache: string, remote: string, branch: string): Promise<boolean> {
  const out = await gitMaybe(worktreeOrCache, ['ls-remote', '--heads', remote, `refs/heads/${branch}`]);
  return !!out;
}

/**
 * Make the workspace for `task` under `fencingToken`. `continueWork` (changes requested,
 * --resume) keeps an existing worktree of the same task; otherwise it starts fresh.
 */
export async function prepareWorkspace(cfg: WorkspaceConfig, task: Task, fencingToken: number, policyUrl: string | undefined, continueWork: boolean): Promise<Workspace> {
  const url = cloneUrlFor(task.repo, cfg, policyUrl);
  const { cache, baseBranch } = await syncCache(cfg, task.repo, url);
  const taskDir = taskFolder(cfg.workdir, task.id);
  const worktree = join(taskDir, 'repo');
  const stateFile = join(taskDir, 'owp-task.json');
  mkdirSync(taskDir, { recursive: true });
  const old = readState(stateFile);
  const alive = existsSync(join(worktree, '.git')) && (await gitMaybe(worktree, ['rev-parse', 'HEAD'])) !== undefined;
  if (old && alive && old.taskId === task.id && (continueWork || old.fencingToken === fencingToken)) {
    const state: WorkspaceState = { ...old, fencingToken };
    // A new round after a submit counts commits from here; an interrupted round keeps its start.
    if (old.phase === 'submitted') Object.assign(state, { phase: 'tool', startCommit: await git(worktree, ['rev-parse', 'HEAD']) });
    const ws: Workspace = { taskDir, worktree, cache, stateFile, state, continued: true };
    writeState(ws);
    return ws;
  }
  if (existsSync(worktree)) {
    await gitMaybe(cache, ['worktree', 'remove', '--force', worktree]);
    await gitMaybe(cache, ['worktree', 'prune']);
  }
  let branch = branchFor(task.id);
  const remote = cfg.pushRemote ?? 'origin';
  if (await branchOnRemote(cache, remote, branch)) branch = `${branch}-${fencingToken}`;
  const base = `refs/remotes/origin/${baseBranch}`;
  await git(cache, ['worktree', 'add', '--force', '--no-track', '-B', branch, worktree, base], 'git worktree add');
  const startCommit = await git(worktree, ['rev-parse', 'HEAD']);
  const ws: Workspace = {
    taskDir,
    worktree,
    cache,
    stateFile,
    state: { taskId: task.id, repo: task.repo, branch, baseBranch, startCommit, fencingToken, phase: 'tool' },
    continued: false,
  };
  writeState(ws);
  return ws;
}

/** Commit what the tool left uncommitted, with a message naming the task. True if it committed. */
export async function commitLeftovers(ws: Workspace, task: Task): Promise<boolean> {
  const status = await git(ws.worktree, ['status', '--porcelain']);
  if (!status) return false;
  await git(ws.worktree, ['add', '-A']);
  const r = await gitMaybe(ws.worktree, ['commit', '-q', '-m', `${task.title}\n\nOWP task ${task.id}`]);
  if (r === undefined) {
    await git(ws.worktree, ['commit', '-q', '-m', `${task.title}\n\nOWP task ${task.id}`], 'git commit (set your identity with `git config --global user.name` and `user.email`)');
  }
  return true;
}

/** Commits on the branch since the tool started. */
export async function newCommits(ws: Workspace): Promise<number> {
  return Number(await git(ws.worktree, ['rev-list', '--count', `${ws.state.startCommit}..HEAD`]));
}

/** Push the branch; a branch the tool rewrote is pushed with --force-with-lease against what we pushed last. */
export async function pushBranch(ws: Workspace, remote: string): Promise<void> {
  const head = await git(ws.worktree, ['rev-parse', 'HEAD']);
  const ref = `HEAD:refs/heads/${ws.state.branch}`;
  const plain = await gitMaybe(ws.worktree, ['push', '--porcelain', remote, ref]);
  if (plain === undefined) {
    if (!ws.state.pushed) await git(ws.worktree, ['push', remote, ref], `git push to ${remote}`);
    else await git(ws.worktree, ['push', `--force-with-lease=refs/heads/${ws.state.branch}:${ws.state.pushed}`, remote, ref], `git push to ${remote}`);
  }
  ws.state.pushed = head;
  writeState(ws);
}

/** OWNER of a GitHub-style remote URL or path (`.../OWNER/NAME(.git)`), for a fork's PR head. */
export function ownerOfRemote(remote: string): string | undefined {
  const m = /[/:]([A-Za-z0-9_.-]+)\/[A-Za-z0-9_.-]+?(?:\.git)?\/?$/.exec(remote);
  return m?.[1];
}
