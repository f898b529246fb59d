/**
 * HTTP routes for health, identity, workers, repo policies, trust, tokens, audit and status.
 *
 * Invariants:
 * - Writes to documents happen in-process with origin 'relay' (one transaction each).
 * - Token routes never return a stored token: only `POST /api/tokens` shows the new one once.
 * - `/api/status` is computed from the in-memory board and ledger (no I/O); its task counts
 *   and leases (listed by task id) are kept batch by batch (server/stats/task-counts.ts).
 */
import { OwpError, quote, untrusted } from '../../shared/errors.js';
import { BOARD_DOC, inboxDoc, ORIGIN, PROTOCOL_VERSION } from '../../shared/protocol.js';
import { DEFAULTS, isWorkerId, parseWorkerProfile, type RepoPolicy } from '../../shared/model.js';
import { trustKey, trustLevels } from '../../shared/trust-ladder.js';
import type { Role, Route } from '../ports.js';
import { API } from '../../shared/api-spec.js';
import { repoDeleteRoute } from './api-repo-delete.js';
import { parseBody } from './body.js';
import { actorOf, ONLINE_WINDOW_MS, own, workerOf, type ApiDeps } from './deps.js';
import { countTasks } from '../stats/task-counts.js';

const ANY = ['worker', 'maintainer', 'viewer'] as const;
const MAINTAINER = ['maintainer'] as const;
const ADMIN: Role[] = ['admin'];
/** Checked (and worded) by the model's parse that follows: the same validators as the schema. */
const PROFILE_FIELDS = Object.keys(API.register.body.shape).filter((k) => k !== 'workerId');
const POLICY_FIELDS = Object.keys(API.createRepo.body.shape);

function intParam(url: URL, key: string): number | undefined {
  const v = url.searchParams.get(key);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new OwpError('invalid-field', `${key} must be a non-negative integer.`, key);
  return n;
}

export function adminRoutes(deps: ApiDeps): Route[] {
  /** The path's repo; a `repo` in the body must name the same one (never silently replaced). */
  const repoName = (p: Record<string, string>, b: { repo?: unknown } = {}) => {
    const name = `${p.owner}/${p.name}`;
    if (b.repo !== undefined && b.repo !== name) {
      throw new OwpError('invalid-field', `The body names repo ${quote(b.repo)} but the path is /api/repos/${untrusted(name, 200)}; drop repo from the body or use the path of the repo you mean.`, 'repo');
    }
    return name;
  };
  const repoOr404 = (name: string): RepoPolicy => {
    const r = own(deps.board.board().repos, name);
    if (!r) throw new OwpError('unknown-repo', `No policy for ${untrusted(name, 200)}; create it with PUT /api/repos/${untrusted(name, 200)}.`);
    return r;
  };
  /** Answer a board write only once it is on disk. */
  const saved = async <T>(v: T): Promise<T> => {
    await deps.persisted(BOARD_DOC);
    return v;
  };
  /** Freeze an area (a repo without a policy gets one) or unfreeze it (404 without a policy). */
  const freezeRoute = (verb: 'freeze' | 'unfreeze'): Route => ({
    method: 'POST',
    path: `/api/repos/:owner/:name/${verb}`,
    auth: [...MAINTAINER],
    async handler(ctx) {
      const { area } = parseBody(await ctx.json(), API[verb]);
      const name = repoName(ctx.params);
      const was = verb === 'freeze' ? (own(deps.board.board().repos, name)?.frozenAreas ?? []) : repoOr404(name).frozenAreas;
      const frozen = verb === 'unfreeze' ? was.filter((a) => a !== area) : was.includes(area) ? [...was] : [...was, area];
      ctx.send(200, { repo: await saved(deps.board.putRepo({ repo: name, frozenAreas: frozen }, false)) });
    },
  });

  return [
    {
      method: 'GET',
      path: '/healthz',
      auth: 'none',
      handler: (ctx) => ctx.send(200, { ok: true, version: deps.version, protocol: PROTOCOL_VERSION, uptimeMs: deps.now() - deps.startedAt }),
    },
    {
      method: 'GET',
      path: '/api/me',
      auth: [...ANY],
      handler(ctx) {
        const p = ctx.principal!;
        ctx.send(200, { role: p.role, tokenId: p.tokenId, ...(p.workerId ? { workerId: p.workerId } : {}), ...(p.name ? { name: p.name } : {}) });
      },
    },
    {
      method: 'POST',
      path: '/api/workers/register',
      auth: ['worker'],
      async handler(ctx) {
        // The profile's fields are checked (and worded) by parseWorkerProfile, the same validators.
        const b = parseBody(await ctx.json(), API.register, PROFILE_FIELDS);
        const workerId = workerOf(ctx.principal!, b, deps);
        const { workerId: _w, ...fields } = b;
        const profile = parseWorkerProfile({ name: ctx.principal!.name ?? workerId, capacity: DEFAULTS.capacity, maxConcurrent: DEFAULTS.maxConcurrent, ...fields, id: workerId });
        const doc = await deps.inbox(workerId);
        const m = doc.getMap<unknown>('profile');
        doc.transact(() => {
          for (const [k, v] of Object.entries(profile)) {
            if (k === 'id') continue;
            if (JSON.stringify(m.get(k)) !== JSON.stringify(v)) m.set(k, v);
          }
        }, ORIGIN.relay);
        await deps.persisted(inboxDoc(workerId));
        ctx.send(200, { worker: profile });
      },
    },
    {
      method: 'GET',
      path: '/api/workers',
      auth: [...ANY],
      handler(ctx) {
        const profiles = deps.engine.inboxes.profiles;
        const runtimes = deps.engine.ledger().workers;
        const { trust, repos } = deps.board.board();
        const policies = Object.values(repos);
        const now = deps.now();
        const ids = [...new Set([...Object.keys(profiles), ...Object.keys(runtimes)])].sort();
        ctx.send(200, {
          workers: ids.map((id) => ({
            profile: profiles[id] ?? null,
            runtime: runtimes[id] ?? null,
            trust: own(trust, id) ?? DEFAULTS.workerTrust,
            // Per repo where the level can differ from `trust`: an override, or a trust ladder.
            trustLevels: trustLevels(trust, id, own(runtimes, id), policies),
            online: now - (deps.lastSeen.get(id) ?? -Infinity) < ONLINE_WINDOW_MS,
          })),
        });
      },
    },
    {
      method: 'GET',
      path: '/api/repos',
      auth: [...ANY],
      handler: (ctx) => ctx.send(200, { repos: Object.values(deps.board.board().repos).sort((a, b) => (a.repo < b.repo ? -1 : 1)) }),
    },
    {
      // Create only: an existing policy is never replaced by a second `owp repo add`.
      method: 'POST',
      path: '/api/repos',
      auth: [...MAINTAINER],
      async handler(ctx) {
        const b = parseBody(await ctx.json(), API.createRepo, POLICY_FIELDS);
        if (typeof b.repo === 'string' && own(deps.board.board().repos, b.repo)) {
          throw new OwpError('conflict', `${b.repo} is already in the pool; change its policy with owp repo set ${b.repo} (PATCH /api/repos/${b.repo}), or replace it whole with PUT.`, 'repo');
        }
        ctx.send(201, { repo: await saved(deps.board.putRepo(b, true)) });
      },
    },
    {
      method: 'PUT',
      path: '/api/repos/:owner/:name',
      auth: [...MAINTAINER],
      async handler(ctx) {
        const b = parseBody(await ctx.json(), API.putRepo, POLICY_FIELDS);
        ctx.send(200, { repo: await saved(deps.board.putRepo({ ...b, repo: repoName(ctx.params, b) }, true)) });
      },
    },
    {
      method: 'PATCH',
      path: '/api/repos/:owner/:name',
      auth: [...MAINTAINER],
      async handler(ctx) {
        const b = parseBody(await ctx.json(), API.patchRepo, POLICY_FIELDS);
        const name = repoName(ctx.params, b);
        repoOr404(name);
        ctx.send(200, { repo: await saved(deps.board.putRepo({ ...b, repo: name }, false)) });
      },
    },
    repoDeleteRoute(deps),
    freezeRoute('freeze'),
    freezeRoute('unfreeze'),
    {
      method: 'PUT',
      path: '/api/trust/:workerId',
      auth: [...MAINTAINER],
      async handler(ctx) {
        const { tier, repo } = parseBody(await ctx.json(), API.trust);
        if (tier === null && repo === undefined) throw new OwpError('invalid-field', 'tier must be 0, 1, 2 or 3 (null clears an override: send it with repo).', 'tier');
        if (!isWorkerId(ctx.params.workerId)) {
          throw new OwpError('invalid-field', 'workerId must be letters, digits and _ . @ - (at most 100), not a reserved name such as constructor.', 'workerId');
        }
        // With a repo: an override that pins the worker's level there (null clears it); without: the base trust.
        deps.board.setTrust(trustKey(ctx.params.workerId, repo), tier === null ? undefined : tier, actorOf(ctx.principal!));
        await deps.persisted(BOARD_DOC);
        ctx.send(200, { workerId: ctx.params.workerId, tier, ...(repo === undefined ? {} : { repo }) });
      },
    },
    {
      method: 'POST',
      path: '/api/tokens',
      auth: ADMIN,
      async handler(ctx) {
        // workerId and name are checked (and worded) by the token store.
        const created = await deps.tokens.create(parseBody(await ctx.json(), API.createToken, ['workerId', 'name']));
        ctx.send(201, created);
      },
    },
    {
      method: 'GET',
      path: '/api/tokens',
      auth: ADMIN,
      handler: (ctx) => ctx.send(200, { tokens: deps.tokens.list() }),
    },
    {
      method: 'DELETE',
      path: '/api/tokens/:id',
      auth: ADMIN,
      async handler(ctx) {
        ctx.send(200, await deps.tokens.revoke(ctx.params.id));
      },
    },
    {
      method: 'GET',
      path: '/api/audit',
      auth: [...ANY],
      async handler(ctx) {
        const u = ctx.url;
        const entries = await deps.audit.query({
          task: u.searchParams.get('task') ?? undefined,
          worker: u.searchParams.get('worker') ?? undefined,
          since: intParam(u, 'since'),
          sinceAt: intParam(u, 'sinceAt'),
          limit: intParam(u, 'limit'),
        });
        ctx.send(200, { entries });
      },
    },
    {
      method: 'GET',
      path: '/api/audit/verify',
      auth: [...ANY],
      handler: async (ctx) => ctx.send(200, await deps.audit.verify()),
    },
    {
      method: 'GET',
      path: '/api/status',
      auth: [...ANY],
      handler: (ctx) => ctx.send(200, status(deps, intParam(ctx.url, 'latencySince'))),
    },
  ];
}

export function status(deps: ApiDeps, latencySince?: number): Record<string, unknown> {
  const board = deps.board.board();
  const ledger = deps.engine.ledger();
  // Kept batch by batch (server/stats/task-counts.ts): a call costs the repos and leases it shows.
  const { queue, leases, inReview } = deps.taskCounts ? deps.taskCounts.of(ledger.tasks) : countTasks(ledger.tasks);
  let capacity = 0;
  let inUse = 0;
  const profiles = deps.engine.inboxes.profiles;
  for (const p of Object.values(profiles)) if (p.available) capacity += p.capacity;
  for (const w of Object.values(ledger.workers)) inUse += w.pointsInUse;
  const budgets: Record<string, { reviewBudget: number; inUse: number }> = {};
  for (const repo of new Set([...Object.keys(board.repos), ...Object.keys(queue)])) {
    budgets[repo] = { reviewBudget: board.repos[repo]?.reviewBudget ?? DEFAULTS.reviewBudget, inUse: inReview[repo] ?? 0 };
  }
  return {
    batch: ledger.batch,
    queue,
    leases,
    capacity: { workers: Object.keys(profiles).length, points: capacity, pointsInUse: inUse },
    budgets,
    invalidTasks: deps.board.invalidTasks(),
    invalidProfiles: [...deps.engine.inboxes.invalidProfiles].map(([workerId, message]) => ({ workerId, message })),
    engine: { ...deps.engine.stats, queued: deps.engine.queued(), tickMs: deps.engine.tickMs, latency: deps.engine.latency(latencySince) },
  };
}
