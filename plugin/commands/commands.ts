/**
 * The plugin's commands as plain functions over a small context, so they run (and are
 * tested) without Obsidian. Each one ends in a notice: the outcome, or why nothing was done.
 *
 * Invariants:
 * - `applies` decides, synchronously and from the documents alone, whether a command makes
 *   sense for the open note and this token's role (Obsidian's checkCallback); the actions
 *   check again when they run, so a stale palette never sends a wrong intent.
 * - Lease commands act with the fencing token the ledger holds for this worker's lease.
 * - Maintainer actions (review, requeue, cancel) go to the relay's HTTP API as intents; hold
 *   and resume, and creating a task, are board edits (maintainers and admins only).
 */
import * as Y from 'yjs';
import { TaskSchema, TERMINAL_STATES, type Intent, type Outcome, type Task, type TaskRuntime } from '../../shared/model.js';
import { parseNote } from '../../shared/notes/frontmatter.js';
import { LOCAL_CLOCK, ownedValuesFor, readTaskNote, taskLineFor, updateTaskNote } from '../../shared/notes/task-note.js';
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

/** What a command's availability depends on: the session's documents and the open note's task id. */
export interface Situation {
  client: PoolClient;
  mirror: Mirror;
  /** The open note's task id (from its properties), if it is a task note. */
  taskId: string | undefined;
  /** A markdown note is open. */
  noteOpen: boolean;
}

export type LeaseKind = 'release' | 'submit' | 'complete' | 'fail';
export type ReviewResult = 'merged' | 'closed' | 'changes-requested';

const isWorker = (s: Situation) => !!s.client.inbox && !!s.client.opts.workerId;
const stateOf = (s: Situation): TaskRuntime['state'] | undefined => (s.taskId ? (s.client.runtime(s.taskId)?.state ?? (s.mirror.task(s.taskId) ? 'queued' : undefined)) : undefined);
const myLeaseOn = (s: Situation) => {
  const rt = s.taskId ? s.client.runtime(s.taskId) : undefined;
  return rt?.lease && rt.lease.workerId === s.client.opts.workerId ? rt : undefined;
};

/** Whether each command applies now (checkCallback). */
export const applies = {
  claim: (s: Situation) => isWorker(s) && stateOf(s) === 'queued' && !s.mirror.task(s.taskId!)?.held && !s.mirror.task(s.taskId!)?.cancelled,
  claimNext: (s: Situation) => isWorker(s),
  lease: (kind: LeaseKind) => (s: Situation) => {
    const rt = isWorker(s) ? myLeaseOn(s) : undefined;
    if (!rt) return false;
    return kind === 'release' || kind === 'fail' ? rt.state === 'leased' || rt.state === 'pr_open' : rt.state === 'leased';
  },
  review: (s: Situation) => s.client.canEditBoard && stateOf(s) === 'pr_open',
  requeue: (s: Situation) => {
    const st = stateOf(s);
    return s.client.canEditBoard && st !== undefined && st !== 'queued' && !TERMINAL_STATES.includes(st);
  },
  cancel: (s: Situation) => {
    const st = stateOf(s);
    return s.client.canEditBoard && st !== undefined && !TERMINAL_STATES.includes(st);
  },
  hold: (held: boolean) => (s: Situation) => {
    const task = s.taskId ? s.mirror.task(s.taskId) : undefined;
    const st = stateOf(s);
    return s.client.canEditBoard && !!task && task.held !== held && st !== undefined && !TERMINAL_STATES.includes(st);
  },
  create: (s: Situation) => s.client.canEditBoard && s.noteOpen && s.taskId === undefined,
};

async function activeTaskId(ctx: CommandContext): Promise<string | undefined> {
  const note = await ctx.activeNote();
  if (!note) {
    ctx.notice('OWP: open a task note first.');
    return undefined;
  }
  try {
    const id = readTaskNote(note.text).id;
    if (id !== undefined) return id;
  } catch (e) {
    ctx.notice(`OWP: "${note.path}" has frontmatter that cannot be read: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
  ctx.notice(`OWP: "${note.path}" is not a task note (it has no task property).`);
  return undefined;
}

function workerId(ctx: CommandContext): string | undefined {
  const id = ctx.client.opts.workerId;
  if (!id || !ctx.client.inbox) {
    ctx.notice('OWP: this needs a worker token. Set a worker token in the plugin settings.');
    return undefined;
  }
  return id;
}

export async function claimThisTask(ctx: CommandContext): Promise<Outcome | undefined> {
  const me = workerId(ctx);
  const taskId = me && (await activeTaskId(ctx));
  if (!me || !taskId) return undefined;
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
    id = note ? readTaskNote(note.text).id : undefined;
  } catch {
    id = undefined;
  }
  const rt = leases.find((l) => l.taskId === id) ?? (leases.length === 1 && id === undefined ? leases[0] : undefined);
  if (!rt?.lease || rt.lease.workerId !== me) {
    ctx.notice(leases.length > 1 && id === undefined ? 'OWP: you hold several leases; open the note of the task you mean.' : 'OWP: you hold no lease on this task.');
    return undefined;
  }
  return { taskId: rt.taskId, fencingToken: rt.lease.fencingToken };
}

/** Release, submit (with the PR link), complete or fail (with a reason) the open note's lease. */
export async function leaseAction(ctx: CommandContext, kind: LeaseKind, input = ''): Promise<Outcome | undefined> {
  const me = workerId(ctx);
  if (!me) return undefined;
  const text = input.trim();
  if (kind === 'submit' && !/^https?:\/\/\S+$/.test(text)) {
    ctx.notice('OWP: that is not a link. Paste the pull request address, starting with https://.');
    return undefined;
  }
  if (kind === 'fail' && text === '') {
    ctx.notice('OWP: say why the task failed (one sentence), so the next person knows; nothing was sent.');
    return undefined;
  }
  const lease = await myLease(ctx, me);
  if (!lease) return undefined;
  const base = { id: newIntentId(), workerId: me, ...lease };
  const intent: Intent =
    kind === 'submit' ? { kind, ...base, prUrl: text } : kind === 'fail' ? { kind, ...base, reason: text } : { kind, ...base };
  return ctx.watcher.send(intent);
}

const VERB = { review: 'review', requeue: 'requeue', cancel: 'cancel' } as const;

/** Maintainers: review (merged / closed / changes requested), requeue or cancel the open note's task. */
export async function maintainerAction(ctx: CommandContext, kind: 'review' | 'requeue' | 'cancel', extra: { result?: ReviewResult; reason?: string } = {}): Promise<Outcome | undefined> {
  if (!ctx.client.canEditBoard) {
    ctx.notice(`OWP: only maintainers can ${VERB[kind]} tasks. Use a maintainer token.`);
    return undefined;
  }
  const taskId = await activeTaskId(ctx);
  if (!taskId) return undefined;
  const body = kind === 'review' ? { result: extra.result } : kind === 'cancel' && extra.reason?.trim() ? { reason: extra.reason.trim() } : {};
  let res: { status: number; body: unknown };
  try {
    res = await ctx.api('POST', `/api/tasks/${encodeURIComponent(taskId)}/${kind}`, body);
  } catch {
    ctx.notice(`OWP: the relay cannot be reached; nothing was done (${VERB[kind]} ${taskId}). Try again when connected.`);
    return undefined;
  }
  const answer = res.body as { outcome?: Outcome; error?: { code: string; message: string } } | undefined;
  if (answer?.outcome) {
    ctx.notice(describeOutcome(answer.outcome));
    return answer.outcome;
  }
  ctx.notice(`OWP: ${VERB[kind]} refused for ${taskId} (${answer?.error?.code ?? res.status}): ${answer?.error?.message ?? 'no reason given'}`);
  return undefined;
}

/** Maintainers: hold the open note's task (not offered) or resume it. A board edit. */
export async function setHeld(ctx: CommandContext, held: boolean): Promise<boolean> {
  if (!ctx.client.canEditBoard) {
    ctx.notice('OWP: only maintainers can hold or resume tasks.');
    return false;
  }
  const taskId = await activeTaskId(ctx);
  const map = taskId ? (ctx.client.board.getMap('tasks').get(taskId) as Y.Map<unknown> | undefined) : undefined;
  if (!taskId || !map) {
    if (taskId) ctx.notice(`OWP: ${taskId} is not on the board.`);
    return false;
  }
  if (map.get('held') === held) {
    ctx.notice(`OWP: ${taskId} is already ${held ? 'on hold' : 'offered'}.`);
    return false;
  }
  ctx.client.board.transact(() => map.set('held', held), PLUGIN_ORIGIN);
  ctx.notice(held ? `OWP: ${taskId} is on hold: it is not offered until you resume it.` : `OWP: ${taskId} is offered again.`);
  return true;
}

const str = (d: Record<string, unknown>, k: string) => (typeof d[k] === 'string' && d[k] !== '' ? (d[k]) : undefined);

/**
 * Maintainers: turn the open note into a task on the board. The note needs a `repo`
 * property (owner/name); the title is the file name, the brief the note's text.
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
  if (parsed.id !== undefined && ctx.mirror.task(parsed.id)) {
    ctx.notice(`OWP: this note already is task ${parsed.id}.`);
    return undefined;
  }
  const d = parsed.data;
  const repo = str(d, 'repo') ?? '';
  const id = parsed.id ?? `${repo}#obs-${ctx.now().toString(36)}`;
  const body = parsed.brief ?? parseNote(note.text).content.trim();
  const r = TaskSchema.safeParse({
    id, repo, title: parsed.line?.title ?? note.basename, body, createdAt: ctx.now(), source: 'obsidian',
    ...(d.points !== undefined ? { points: parsed.owned.points } : {}),
    ...(d.skills !== undefined ? { skills: parsed.owned.skills } : {}),
    ...(d.tier !== undefined && d.tier !== null ? { tier: parsed.owned.tier } : {}),
    ...(typeof d.area === 'string' ? { area: d.area } : {}),
    ...(d.priority !== undefined && d.priority !== null ? { priority: parsed.owned.priority } : {}),
  });
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = issue.path.join('.') === 'repo' ? 'repo (owner/name)' : issue.path.join('.');
    ctx.notice(`OWP: the task was not created: ${field} ${issue.message}.`);
    return undefined;
  }
  const task: Task = r.data;
  // Mark the note as the task's note first, so the mirror adopts it instead of creating another.
  const values = ownedValuesFor({ task, runtime: undefined, clock: LOCAL_CLOCK, noteTags: d.tags });
  const next = updateTaskNote(note.text, values, taskLineFor(task, undefined, LOCAL_CLOCK), parsed.brief === undefined ? task.body : undefined);
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
