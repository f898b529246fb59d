/**
 * One task with a tool, from workspace to pull request: prepare the worktree and brief, run
 * the tool there, then commit what it left, push the branch and open (or reuse) the PR.
 *
 * Outcomes (the loop acts on them):
 * - `submit`: a PR URL to submit (opened here, reused after changes requested, or printed
 *   by the tool as `PR: <url>`).
 * - `fail`: the tool failed (`toolFailed`, counts towards --max-failures) or made no
 *   changes (--on-empty fail); `reason` carries a bounded, redacted stderr tail.
 * - `release`: no changes with --on-empty release, or the workspace could not be made.
 * - `halt`: the work is committed but could not be pushed or opened as a PR (credentials,
 *   network): the lease is kept, and `owp worker run --resume` delivers it without
 *   running the tool again.
 */
import type { Task } from '../../../shared/model.js';
import { writeBrief } from './brief.js';
import { childEnv, prUrlFrom, runTool, type ToolResult, type ToolRun } from './exec.js';
import { StepError } from './git.js';
import { openPullRequest, prBody, prTitle, reviewComments } from './pull-request.js';
import { redact, tail } from './redact.js';
import { commitLeftovers, newCommits, ownerOfRemote, prepareWorkspace, pushBranch, writeState, type Workspace, type WorkspaceConfig } from './workspace.js';

export type ToolOutcome =
  | { kind: 'submit'; prUrl: string }
  | { kind: 'fail'; reason: string; toolFailed: boolean; stderr?: string }
  | { kind: 'release'; why: string }
  | { kind: 'halt'; why: string }
  | { kind: 'ask' };

export interface DeliverOptions {
  exec: string;
  workdir: string;
  /** Absent: --no-workspace (the tool gets an empty task folder and opens the PR itself). */
  workspace?: WorkspaceConfig;
  draft: boolean;
  onEmpty: 'fail' | 'release';
  stdinTty: boolean;
}

export interface TaskGrant {
  task: Task;
  fencingToken: number;
  expiresAt: number;
  /** Continue an existing worktree: changes requested or --resume. */
  continueWork: boolean;
  /** The maintainer's note, for changes requested (used when GitHub cannot be read). */
  note?: string;
  prUrl?: string;
  policyCloneUrl?: string;
}

export interface DeliverHooks {
  /** The tool started (the loop keeps it to stop it on Ctrl-C or a lost lease). */
  started(tool: ToolRun): void;
  line(text: string): void;
  log(event: string, text: string, fields?: Record<string, unknown>): void;
  /** True when the loop is stopping or the lease was lost: do nothing more. */
  cancelled(): boolean;
}

const TOOL_ENV_SECRET_FREE = (extra: Record<string, string>): NodeJS.ProcessEnv => childEnv(process.env, extra);

function failureReason(r: ToolResult): string {
  const base = r.error ? `the tool could not start: ${r.error}` : r.signal ? `the tool was killed by ${r.signal}` : `the tool exited with code ${r.code}`;
  const t = tail(redact(r.stderr), 12, 1200);
  return t ? `${base}; stderr: ${t}` : base;
}

async function runIt(cmd: string, cwd: string, env: NodeJS.ProcessEnv, o: DeliverOptions, h: DeliverHooks): Promise<ToolResult> {
  const tool = runTool(cmd, { cwd, env, stdinTty: o.stdinTty, onLine: h.line });
  h.started(tool);
  return tool.done;
}

/** --no-workspace: the tool runs in the task folder and must print `PR: <url>` itself. */
async function bareTask(g: TaskGrant, o: DeliverOptions, h: DeliverHooks): Promise<ToolOutcome> {
  const file = writeBrief(o.workdir, g.task, g);
  const dir = file.replace(/[/\\]TASK\.md$/, '');
  h.log('brief', `brief: ${file}`, { taskId: g.task.id, brief: file });
  const r = await runIt(o.exec, dir, TOOL_ENV_SECRET_FREE({ OWP_TASK_FILE: file, OWP_TASK_ID: g.task.id, OWP_TASK_DIR: dir }), o, h);
  if (h.cancelled()) return { kind: 'halt', why: 'stopped' };
  if (r.error || r.code !== 0) return { kind: 'fail', reason: failureReason(r), toolFailed: true, stderr: r.stderr };
  const url = prUrlFrom(r.lastLine);
  if (url) return { kind: 'submit', prUrl: url };
  if (o.stdinTty) return { kind: 'ask' };
  return { kind: 'fail', reason: 'the tool exited 0 but printed no `PR: <url>` line', toolFailed: true, stderr: r.stderr };
}

async function setUp(g: TaskGrant, cfg: WorkspaceConfig, o: DeliverOptions, h: DeliverHooks): Promise<{ ws: Workspace; file: string }> {
  const ws = await prepareWorkspace(cfg, g.task, g.fencingToken, g.policyCloneUrl, g.continueWork);
  let review: string | undefined;
  const prUrl = ws.state.prUrl ?? g.prUrl;
  if (g.prUrl && g.continueWork && ws.state.phase === 'tool') {
    review = (await reviewComments(g.prUrl, process.env)) ?? g.note ?? '';
  }
  const file = writeBrief(o.workdir, g.task, g, { branch: ws.state.branch, baseBranch: ws.state.baseBranch, ...(review !== undefined ? { review, prUrl } : {}) });
  h.log(
    'workspace',
    `${ws.continued ? 'continuing in' : 'prepared'} ${ws.worktree} on branch ${ws.state.branch} (from ${ws.state.baseBranch}); brief: ${file}`,
    { taskId: g.task.id, worktree: ws.worktree, branch: ws.state.branch, base: ws.state.baseBranch, brief: file, continued: ws.continued },
  );
  return { ws, file };
}

/** Commit leftovers, push, open or reuse the PR. */
async function deliver(ws: Workspace, g: TaskGrant, o: DeliverOptions, h: DeliverHooks): Promise<ToolOutcome> {
  if (ws.state.phase === 'tool') {
    if (await commitLeftovers(ws, g.task)) h.log('committed', `committed what the tool left uncommitted in ${ws.worktree}`, { taskId: g.task.id });
    if ((await newCommits(ws)) === 0) {
      const why = 'the tool made no changes';
      return o.onEmpty === 'release' ? { kind: 'release', why } : { kind: 'fail', reason: why, toolFailed: false };
    }
    ws.state.phase = 'deliver';
    writeState(ws);
  }
  const remote = o.workspace!.pushRemote ?? 'origin';
  await pushBranch(ws, remote);
  h.log('pushed', `pushed ${ws.state.branch} to ${remote}`, { taskId: g.task.id, branch: ws.state.branch, remote });
  let url = ws.state.prUrl ?? g.prUrl;
  if (!url) {
    const forkOwner = o.workspace!.pushRemote ? ownerOfRemote(o.workspace!.pushRemote) : undefined;
    const head = forkOwner && forkOwner.toLowerCase() !== g.task.repo.split('/')[0]!.toLowerCase() ? `${forkOwner}:${ws.state.branch}` : ws.state.branch;
    const pr = await openPullRequest({ repo: g.task.repo, head, base: ws.state.baseBranch, title: prTitle(g.task), body: prBody(g.task), draft: o.draft }, process.env);
    url = pr.url;
    h.log('pr-opened', `opened ${url} (${pr.via === 'gh' ? 'with gh' : 'through the GitHub API'})`, { taskId: g.task.id, prUrl: url, via: pr.via });
  }
  ws.state.prUrl = url;
  writeState(ws);
  return { kind: 'submit', prUrl: url };
}

export async function runToolTask(g: TaskGrant, o: DeliverOptions, h: DeliverHooks): Promise<ToolOutcome> {
  if (!o.workspace) return bareTask(g, o, h);
  let ws: Workspace;
  let file: string;
  try {
    ({ ws, file } = await setUp(g, o.workspace, o, h));
  } catch (e) {
    if (!(e instanceof StepError)) throw e;
    return { kind: 'release', why: `the workspace could not be prepared: ${e.message}` };
  }
  if (ws.state.phase === 'tool') {
    const env = TOOL_ENV_SECRET_FREE({
      OWP_TASK_FILE: file,
      OWP_TASK_ID: g.task.id,
      OWP_TASK_DIR: ws.taskDir,
      OWP_REPO_DIR: ws.worktree,
      OWP_BRANCH: ws.state.branch,
      OWP_BASE_BRANCH: ws.state.baseBranch,
    });
    const r = await runIt(o.exec, ws.worktree, env, o, h);
    if (h.cancelled()) return { kind: 'halt', why: 'stopped' };
    if (r.error || r.code !== 0) return { kind: 'fail', reason: failureReason(r), toolFailed: true, stderr: r.stderr };
    const printed = prUrlFrom(r.lastLine);
    if (printed) {
      Object.assign(ws.state, { prUrl: printed, phase: 'submitted' });
      writeState(ws);
      return { kind: 'submit', prUrl: printed };
    }
  } else h.log('resuming', `${g.task.id}: the tool had finished; delivering its commits`, { taskId: g.task.id });
  try {
    return await deliver(ws, g, o, h);
  } catch (e) {
    if (!(e instanceof StepError)) throw e;
    return { kind: 'halt', why: e.message };
  }
}
