/**
 * `GET /api/tasks/:id/explain`: why a task is (not) being taken, from the scheduler's own
 * filters (shared/scheduler/explain.ts) on the relay's current board, profiles and ledger.
 *
 * Invariants:
 * - Read-only and computed on request from memory (no I/O); any role may ask.
 * - Presence is the relay's (a worker heard from within ONLINE_WINDOW_MS).
 * - Says only what the ledger document and the public worker projection already show
 *   (skills, capacity, points in use, cooldowns): never an outcome or a fencing token.
 */
import { OwpError, untrusted } from '../../shared/errors.js';
import { explainTask } from '../../shared/scheduler/explain.js';
import type { Route } from '../ports.js';
import { ONLINE_WINDOW_MS, own, type ApiDeps } from './deps.js';

export function explainRoutes(deps: ApiDeps): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/tasks/:id/explain',
      auth: ['worker', 'maintainer', 'viewer'],
      handler(ctx) {
        const id = ctx.params.id;
        const board = deps.board.board();
        const ledger = deps.engine.ledger();
        if (!own(board.tasks, id) && !own(ledger.tasks, id)) throw new OwpError('unknown-task', `No task ${untrusted(id, 200)}; list tasks with GET /api/tasks.`);
        const now = deps.now();
        const online = (w: string) => now - (deps.lastSeen.get(w) ?? -Infinity) < ONLINE_WINDOW_MS;
        ctx.send(200, { explanation: explainTask({ board, profiles: deps.engine.inboxes.profiles, ledger }, id, now, { online }) });
      },
    },
  ];
}
