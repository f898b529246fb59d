/**
 * The plugin's commands as plain functions over a small context, so they run (and are
 * tested) without Obsidian. Each one ends in a notice: the outcome, or why nothing was done.
 *
 * Invariants:
 * - Lease commands (release, submit) act with the fencing token the ledger holds for this
 *   worker's lease; without such a lease they refuse locally with a clear sentence.
 * - Board changes (create task) are made only by maintainers and admins.
 */
import * as Y from 'yjs';
import { TaskSchema, type Outcome } from '../../shared/model.js';
import { parseNote } from '../../shared/notes/frontmatter.js';
import { readTaskNote, updateTaskNote, ownedValuesFor } from '../../shared/notes/task-note.js';
import type { PoolClient } from '../sync/client.js';
import { PLUGIN_ORIGIN, type Mirror } from '../mirror/mirror.js';
import { describeOutcome, newIntentId, type OutcomeWatcher } from './intents.js';

export interface CommandContext {
  client: PoolClient;
  mirror: Mirror;
  watcher: OutcomeWatcher;
  notice(msg: string): void;
  /** Path and text of the note open in the active editor, if any. */
  activeNote(): Promise<{ path: string; text: string; basename: string } | undefined>;
  /** Replace a note's text if it is still `expected`. */
  replaceNote(path: string, expected: string, next: string): Promise<boolean>;
  now(): number;
  /** HTTP to the relay with this session's token. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
}

function workerId(ctx: CommandContext): string | undefined {
  const id = ctx.client.opts.workerId;
  if (!id || !ctx.client.inbox) {
    ctx.notice('OWP: this needs a worker token. Set a worker token in the plugin settings.');
    return undefined;
  }
  return id;
}

async function activeTaskId(ctx: CommandContext): Promise<string | undefined> {
  const note = await ctx.activeNote();
  if (!note) {
    ctx.notice('OWP: open a task note first.');
    return undefined;
  }
  try {
    const id = readTaskNote(note.text).owned.owp_id;
    if (typeof id === 'string' && id !== '') return id;
  } catch (e) {
    ctx.notice(`OWP: "${note.path}" has frontmatter that cannot be read: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
  ctx.notice(`OWP: "${note.path}" is not a task note (it has no owp_id).`);
  return undefined;
}

export async function claimThisTask(ctx: CommandContext): Promise<Outcome | undefined> {
  const me = workerId(ctx);
  if (!me) return undefined;
  const taskId = await activeTaskId(ctx);
  if (!taskId) return undefined;
  return ctx.watcher.send({ kind: 'claim', id: newIntentId(), workerId: me, taskId });
}

export function claimNext(ctx: CommandContext): Promise<Outcome> | undefined {
  const me = workerId(ctx);
  if (!me) return undefined;
  return ctx.watcher.send({ kind: 'claim-next', id: newIntentId(), workerId: me });
}

/** The lease to act on: the open note's task if this worker holds it, else the only lease held. */
async function myLease(ctx: CommandContext, me: string): Promise<{ taskId: string; fencingToken: number } | undefined> {
  const leases = ctx.client.myLeases();
  const note = await ctx.activeNote();
  let id: string | undefined;
  try {
    id = note ? (readTaskNote(note.text).owned.owp_id as string | undefined) : undefined;
  } catch {
    id = undefined;
  }
  const rt = leases.find((l) => l.taskId === id) ?? (leases.length === 1 ? leases[0] : undefined);
  if (!rt?.lease || rt.lease.workerId !== me) {
    ctx.notice(leases.length > 1 ? 'OWP: you hold several leases; open the note of the task you mean.' : 'OWP: you hold no lease on this task.');
    return undefined;
  }
  return { taskId: rt.taskId, fencingToken: rt.lease.fencingToken };
}

export async function releaseTask(ctx: CommandContext): Promise<Outcome | undefined> {
  const me = workerId(ctx);
  if (!me) return undefined;
  const lease = await myLease(ctx, me);
  if (!lease) return undefined;
  return ctx.watcher.send({ kind: 'release', id: newIntentId(), workerId: me, ...lease });
}

export async function submitPullRequest(ctx: CommandContext, prUrl: string): Promise<Outcome | undefined> {
  const me = workerId(ctx);
  if (!me) return undefined;
  const url = prUrl.trim();
  if (!/^https?:\/\/\S+$/.test(url)) {
    ctx.notice('OWP: that is not a link. Paste the pull request address, starting with https://.');
    return undefined;
  }
  const lease = await myLease(ctx, me);
  if (!lease) return undefined;
  return ctx.watcher.send({ kind: 'submit', id: newIntentId(), workerId: me, ...lease, prUrl: url });
}

/**
 * Maintainers: turn the open note into a task on the board. The note needs `owp_repo`;
 * its title comes from `owp_title` or the file name, its brief from the note's text.
 */
export async function createTaskFromNote(ctx: CommandContext): Promise<string | undefined> {
  if (!ctx.client.canEditBoard) {
    ctx.notice('OWP: only maintainers can create tasks. Use a maintainer token.');
    return undefined;
  }
  const note = await ctx.activeNote();
  if (!note) {
    ctx.notice('OWP: open the note to turn into a task first.');
    return undefined;
  }
  let parsed;
  try {
    parsed = readTaskNote(note.text);
  } catch (e) {
    ctx.notice(`OWP: "${note.path}" was not used: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
  const o = parsed.owned;
  if (typeof o.owp_id === 'string' && ctx.mirror.task(o.owp_id)) {
    ctx.notice(`OWP: this note already is task ${o.owp_id}.`);
    return undefined;
  }
  const repo = typeof o.owp_repo === 'string' ? o.owp_repo : '';
  const title = typeof o.owp_title === 'string' && o.owp_title ? o.owp_title : note.basename;
  const id = typeof o.owp_id === 'string' && o.owp_id ? o.owp_id : `${repo}#obs-${ctx.now().toString(36)}`;
  const body = parsed.brief ?? parseNote(note.text).content.trim();
  const r = TaskSchema.safeParse({
    id, repo, title, body, createdAt: ctx.now(), source: 'obsidian',
    ...(o.owp_points !== undefined ? { points: o.owp_points } : {}),
    ...(o.owp_skills !== undefined ? { skills: o.owp_skills } : {}),
    ...(o.owp_tier !== undefined && o.owp_tier !== null ? { tier: o.owp_tier } : {}),
    ...(typeof o.owp_area === 'string' ? { area: o.owp_area } : {}),
    ...(o.owp_priority !== undefined && o.owp_priority !== null ? { priority: o.owp_priority } : {}),
  });
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = issue.path.join('.') === 'repo' ? 'owp_repo (owner/name)' : issue.path.join('.');
    ctx.notice(`OWP: the task was not created: ${field} ${issue.message}.`);
    return undefined;
  }
  const task = r.data;
  // Mark the note as the task's note first, so the mirror adopts it instead of creating another.
  const next = updateTaskNote(note.text, ownedValuesFor(task, undefined), parsed.brief === undefined ? task.body : undefined);
  if (!(await ctx.replaceNote(note.path, note.text, next))) {
    ctx.notice('OWP: the note changed while the task was being made; try again.');
    return undefined;
  }
  ctx.mirror.adopt(task.id, note.path, next);
  const map = new Y.Map<unknown>();
  ctx.client.board.transact(() => {
    ctx.client.board.getMap('tasks').set(task.id, map);
    for (const [k, v] of Object.entries(task)) if (k !== 'id' && v !== undefined) map.set(k, v);
  }, PLUGIN_ORIGIN);
  ctx.notice(`OWP: task ${task.id} created from this note.`);
  return task.id;
}

/** Maintainers: cancel the open note's task (an explicit command; deleting a note never does). */
export async function cancelTask(ctx: CommandContext, reason: string): Promise<Outcome | undefined> {
  if (!ctx.client.canEditBoard) {
    ctx.notice('OWP: only maintainers can cancel tasks.');
    return undefined;
  }
  const taskId = await activeTaskId(ctx);
  if (!taskId) return undefined;
  const why = reason.trim();
  let res: { status: number; body: unknown };
  try {
    res = await ctx.api('POST', `/api/tasks/${encodeURIComponent(taskId)}/cancel`, why ? { reason: why } : {});
  } catch {
    ctx.notice('OWP: the relay cannot be reached; the task was not cancelled. Try again when connected.');
    return undefined;
  }
  const body = res.body as { outcome?: Outcome; error?: { code: string; message: string } } | undefined;
  if (res.status === 200 && body?.outcome) {
    ctx.notice(describeOutcome(body.outcome));
    return body.outcome;
  }
  ctx.notice(`OWP: cancel refused for ${taskId} (${body?.error?.code ?? res.status}): ${body?.error?.message ?? 'no reason given'}`);
  return body?.outcome;
}
