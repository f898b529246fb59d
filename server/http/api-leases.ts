/**
 * HTTP routes for claims, lease actions, maintainer intents and board tasks.
 *
 * Invariants:
 * - Every state change goes through the engine as an intent (one outcome per intent id);
 *   the answer is sent only after the batch holding it was persisted and broadcast.
 * - Worker routes act for the token's worker id only (see deps.workerOf).
 * - Bodies are parsed with the published schemas (./body.ts); tasks and intents are then
 *   validated with shared/model.ts before anything is written.
 */
import { randomUUID } from 'node:crypto';
import { OwpError, untrusted } from '../../shared/errors.js';
import { BOARD_DOC } from '../../shared/protocol.js';
import { API } from '../../shared/api-spec.js';
import { parseIntent, TASK_STATES, type Intent, type Task, type TaskState } from '../../shared/model.js';
import type { UpsertTaskInput } from '../engine/board.js';
import type { Route, RouteContext } from '../ports.js';
import { parseBody } from './body.js';
import { actorOf, own, sendOutcome, workerOf, type ApiDeps } from './deps.js';

const WORKER = ['worker'] as const;
const MAINTAINER = ['maintainer'] as const;
const ANY = ['worker', 'maintainer', 'viewer'] as const;
/** Body fields that are the intent's own: parseIntent checks them and words their refusal. */
const INTENT_OWN = ['prUrl', 'reason', 'result', 'note'];

function taskView(deps: ApiDeps, id: string): { task: Task | null; runtime: unknown } {
  return { task: own(deps.board.board().tasks, id) ?? null, runtime: deps.engine.runtime(id) ?? null };
}

/** The repos named by these task inputs that have no policy on the board (sorted). */
function reposWithoutPolicy(deps: ApiDeps, list: unknown[]): string[] {
  const repos = new Set<string>();
  for (const t of list) {
    const repo = t && typeof t === 'object' ? (t as { repo?: unknown }).repo : undefined;
    // A malformed name is left to task validation, which says what is wrong with it.
    if (typeof repo === 'string' && /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(repo) && !own(deps.board.board().repos, repo)) repos.add(repo);
  }
  return [...repos].sort();
}

export function leaseRoutes(deps: ApiDeps): Route[] {
  const submit = (raw: Record<string, unknown>) => deps.engine.submit(parseIntent(raw) as Intent);

  const claim: Route = {
    method: 'POST',
    path: '/api/claim',
    auth: [...WORKER],
    async handler(ctx) {
      const b = parseBody(await ctx.json(), API.claim);
      const workerId = workerOf(ctx.principal!, b, deps);
      const taskId = b.taskId;
      const id = b.intentId ?? randomUUID();
      const o = await submit(taskId ? { kind: 'claim', id, workerId, taskId } : { kind: 'claim-next', id, workerId });
      const tid = o.taskId ?? taskId;
      const rt = tid ? deps.engine.runtime(tid) : undefined;
      sendOutcome(ctx, o, { task: tid ? (own(deps.board.board().tasks, tid) ?? null) : null, lease: rt?.lease ?? null });
    },
  };

  const heartbeat: Route = {
    method: 'POST',
    path: '/api/tasks/:id/heartbeat',
    auth: [...WORKER],
    async handler(ctx) {
      const b = parseBody(await ctx.json(), API.heartbeat);
      const workerId = workerOf(ctx.principal!, b, deps);
      const o = await deps.engine.heartbeat(workerId, ctx.params.id, b.fencingToken);
      sendOutcome(ctx, o, { lease: deps.engine.runtime(ctx.params.id)?.lease ?? null });
    },
  };

  type IntentSpec = (typeof API)['release' | 'submit' | 'complete' | 'fail' | 'review' | 'requeue' | 'cancel'];
  /**
   * `POST /api/tasks/:id/<kind>` as one intent. A lease action acts for the token's worker
   * and needs the lease's fencing token; a maintainer action acts as the token's actor id.
   * The body's other fields are the intent's own (checked, and worded, by parseIntent).
   */
  const intentRoute = (kind: 'release' | 'submit' | 'complete' | 'fail' | 'review' | 'requeue' | 'cancel', spec: IntentSpec, by: 'worker' | 'maintainer'): Route => ({
    method: 'POST',
    path: `/api/tasks/:id/${kind}`,
    auth: by === 'worker' ? [...WORKER] : [...MAINTAINER],
    async handler(ctx) {
      const b: Record<string, unknown> = parseBody(await ctx.json(), spec, INTENT_OWN);
      const { intentId, workerId: _w, fencingToken, ...fields } = b;
      const who = by === 'worker' ? { workerId: workerOf(ctx.principal!, b, deps), fencingToken } : { workerId: actorOf(ctx.principal!) };
      const o = await submit({ kind, id: (intentId as string | undefined) ?? randomUUID(), ...who, taskId: ctx.params.id, ...fields });
      sendOutcome(ctx, o, { runtime: deps.engine.runtime(ctx.params.id) ?? null });
    },
  });

  const listTasks: Route = {
    method: 'GET',
    path: '/api/tasks',
    auth: [...ANY],
    handler(ctx) {
      const state = ctx.url.searchParams.get('state') ?? undefined;
      const repo = ctx.url.searchParams.get('repo') ?? undefined;
      if (state !== undefined && !TASK_STATES.includes(state as TaskState)) {
        throw new OwpError('invalid-field', `state must be one of ${TASK_STATES.join(', ')}.`, 'state');
      }
      const ids = new Set([...Object.keys(deps.board.board().tasks), ...Object.keys(deps.engine.ledger().tasks)]);
      const tasks = [];
      for (const id of [...ids].sort()) {
        const v = taskView(deps, id);
        const rt = v.runtime as { state?: string; repo?: string } | null;
        if (state !== undefined && rt?.state !== state) continue;
        if (repo !== undefined && (v.task?.repo ?? rt?.repo) !== repo) continue;
        tasks.push(v);
      }
      ctx.send(200, { tasks });
    },
  };

  const getTask: Route = {
    method: 'GET',
    path: '/api/tasks/:id',
    auth: [...ANY],
    handler(ctx) {
      const v = taskView(deps, ctx.params.id);
      if (!v.task && !v.runtime) throw new OwpError('unknown-task', `No task ${untrusted(ctx.params.id, 200)}; list tasks with GET /api/tasks.`);
      ctx.send(200, v);
    },
  };

  const upsert: Route = {
    method: 'POST',
    path: '/api/tasks',
    auth: [...MAINTAINER],
    async handler(ctx) {
      const raw = await ctx.json();
      // Each task is checked (and its refusal worded) by the board with the same TaskSchema.
      const b = parseBody(Array.isArray(raw) ? { tasks: raw } : raw, API.importTasks, ['tasks.*']);
      const list: unknown[] = b.tasks;
      const missing = reposWithoutPolicy(deps, list);
      // Refused unless asked: a typo in repo: must not create a repo under the default policy.
      if (b.createRepo !== true && missing.length > 0) {
        throw new OwpError(
          'unknown-repo',
          `No policy for ${missing.join(', ')}, so nothing was imported: add the repo first (owp repo add ${missing[0]}, or PUT /api/repos/${missing[0]}), ` +
            'fix the repo: line if it is a typo, or send createRepo: true (owp import yaml --create-repo) to create it with the default policy.',
          'repo',
        );
      }
      const result = deps.board.upsertTasks(list as UpsertTaskInput[], deps.now(), actorOf(ctx.principal!));
      const created = b.createRepo === true ? missing.map((repo) => deps.board.putRepo({ repo }, false).repo) : [];
      await deps.persisted(BOARD_DOC);
      ctx.send(200, { ...result, ...(created.length ? { createdRepos: created } : {}) });
    },
  };

  const patch: Route = {
    method: 'PATCH',
    path: '/api/tasks/:id',
    auth: [...MAINTAINER],
    async handler(ctx) {
      // The fields' values are checked by the board's parseTask (the same validators).
      const b = parseBody(await ctx.json(), API.patchTask, Object.keys(API.patchTask.body.shape));
      const task = deps.board.patchTask(ctx.params.id, b as Partial<Task>, actorOf(ctx.principal!));
      await deps.persisted(BOARD_DOC);
      ctx.send(200, { task });
    },
  };

  return [
    claim,
    heartbeat,
    intentRoute('release', API.release, 'worker'),
    intentRoute('submit', API.submit, 'worker'),
    intentRoute('complete', API.complete, 'worker'),
    intentRoute('fail', API.fail, 'worker'),
    intentRoute('review', API.review, 'maintainer'),
    intentRoute('requeue', API.requeue, 'maintainer'),
    intentRoute('cancel', API.cancel, 'maintainer'),
    listTasks,
    getTask,
    upsert,
    patch,
  ];
}

export type { RouteContext };
