/**
 * What the API routes need from the relay, and small helpers shared by the route files.
 *
 * Invariants:
 * - A worker token acts only for its own worker id; admin may name one (`workerId` in the
 *   body) to act for a worker, every other role has no worker id.
 * - The actor id of a maintainer intent is derived from the token, never from the body.
 */
import type { TaskCounts } from '../stats/task-counts.js';
import type * as Y from 'yjs';
import { OwpError, httpStatusFor, safeText, untrusted } from '../../shared/errors.js';
import { isWorkerId, type Outcome } from '../../shared/model.js';
import type { AuditLog } from '../audit/index.js';
import type { TokenStore } from '../auth/index.js';
import type { BoardView } from '../engine/board.js';
import type { Engine } from '../engine/engine.js';
import type { Principal, RouteContext } from '../ports.js';
import { aOrAn } from './router.js';

export interface ApiDeps {
  engine: Engine;
  board: BoardView;
  tokens: TokenStore;
  audit: AuditLog;
  /** Open (and start watching) a worker's inbox document. */
  inbox(workerId: string): Promise<Y.Doc>;
  /** Resolves once every update of that document so far is on disk (answer after it). */
  persisted(docName: string): Promise<void>;
  now(): number;
  version: string;
  startedAt: number;
  /** Last time each worker was heard from (HTTP or awareness). */
  lastSeen: Map<string, number>;
  /** What `GET /api/status` counts over the tasks, kept batch by batch (absent: counted per call). */
  taskCounts?: Pick<TaskCounts, 'of'>;
}

export const ONLINE_WINDOW_MS = 60_000;

/** `rec[key]` only if `rec` has it itself: an id like `constructor` must not read Object.prototype. */
export function own<T>(rec: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(rec, key) ? rec[key] : undefined;
}

/** The worker id a request acts for. */
export function workerOf(p: Principal, b: Record<string, unknown>, deps: ApiDeps): string {
  if (p.role === 'worker') {
    if (!p.workerId) throw new OwpError('not-authorized', 'This worker token is not bound to a worker id; ask an admin for a new one.');
    if (b.workerId !== undefined && b.workerId !== p.workerId) {
      throw new OwpError('not-authorized', `This token acts for worker ${p.workerId}, not ${untrusted(b.workerId)}; a worker may only act for itself.`);
    }
    deps.lastSeen.set(p.workerId, deps.now());
    return p.workerId;
  }
  if (p.role === 'admin' && isWorkerId(b.workerId)) return b.workerId;
  throw new OwpError('not-authorized', `${aOrAn(p.role, true)} ${p.role} token has no worker id; use a worker token (or, as admin, pass workerId).`);
}

/** A valid intent workerId naming the maintainer/admin behind a token. */
export function actorOf(p: Principal): string {
  if (p.workerId) return p.workerId;
  const fromName = (p.name ?? '').replace(/[^A-Za-z0-9_.@-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 60);
  return fromName ? `${p.role}-${fromName}` : `${p.role}-${p.tokenId.replace(/[^A-Za-z0-9]/g, '').slice(0, 12)}`;
}

/** Answer an outcome: 200 when granted/applied, else the status of its code with the outcome attached. */
export function sendOutcome(ctx: RouteContext, stored: Outcome, extra: Record<string, unknown> = {}): void {
  // A stored outcome's message may name what a request carried: answered through safeText.
  const o = stored.message === undefined ? stored : { ...stored, message: safeText(stored.message) };
  if (o.status === 'rejected') {
    const code = o.code ?? 'conflict';
    const error: Record<string, unknown> = { code, message: o.message ?? `Refused (${code}).` };
    if (o.filter) error.filter = o.filter;
    ctx.send(httpStatusFor(code), { error, outcome: o });
    return;
  }
  ctx.send(200, { outcome: o, ...extra });
}
