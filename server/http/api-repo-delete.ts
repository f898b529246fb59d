/**
 * `DELETE /api/repos/:owner/:name` (admin): take a repo's policy off the board, e.g. after a
 * trial or a conformance run. Answers the deleted policy, so it can be put back with PUT.
 *
 * Invariants:
 * - Refused `409 repo-in-use` while any task of the repo is live (queued, leased, pr_open,
 *   stuck, or on the board and not yet arbitrated): its policy is what schedules it.
 * - Every deletion is an audit entry (`repo-deleted`, the admin as actor) in the hash chain,
 *   written before the answer.
 */
import { OwpError, untrusted } from '../../shared/errors.js';
import { TERMINAL_STATES } from '../../shared/model.js';
import { BOARD_DOC } from '../../shared/protocol.js';
import type { Route } from '../ports.js';
import { actorOf, own, type ApiDeps } from './deps.js';

/** Ids of the repo's tasks that are not finished, sorted. */
export function liveTasksOf(deps: ApiDeps, repo: string): string[] {
  const live = new Set<string>();
  const runtimes = deps.engine.ledger().tasks;
  for (const rt of Object.values(runtimes)) if (rt.repo === repo && !TERMINAL_STATES.includes(rt.state)) live.add(rt.taskId);
  for (const t of Object.values(deps.board.board().tasks)) {
    if (t.repo === repo && !t.cancelled && !own(runtimes, t.id)) live.add(t.id);
  }
  return [...live].sort();
}

export function repoDeleteRoute(deps: ApiDeps): Route {
  return {
    method: 'DELETE',
    path: '/api/repos/:owner/:name',
    auth: ['admin'],
    async handler(ctx) {
      const repo = `${ctx.params.owner}/${ctx.params.name}`;
      const policy = own(deps.board.board().repos, repo);
      if (!policy) throw new OwpError('unknown-repo', `No policy for ${untrusted(repo, 200)}; list the pool's repos with GET /api/repos.`);
      const live = liveTasksOf(deps, repo);
      if (live.length > 0) {
        const shown = live.slice(0, 5).join(', ') + (live.length > 5 ? ` and ${live.length - 5} more` : '');
        throw new OwpError(
          'repo-in-use',
          `${repo} still has ${live.length} live task${live.length === 1 ? '' : 's'} (${shown}); cancel them (owp cancel TASK) or let them finish, then delete the policy.`,
        );
      }
      deps.board.deleteRepo(repo);
      await deps.audit.append([{ kind: 'repo-deleted', at: deps.now(), batch: deps.engine.ledger().batch, actor: actorOf(ctx.principal!), repo }]);
      await deps.persisted(BOARD_DOC);
      ctx.send(200, { repo: policy });
    },
  };
}
