/**
 * One intent-channel message -> its answer, by running the very HTTP route it stands for
 * (server/http/api-leases.ts) with a context that answers on the socket instead.
 *
 * Invariants:
 * - The HTTP router's checks: shutting down (503), the role may call the route (403, the
 *   router's sentence; the token's rate limit is taken per message by ./index.ts); then the
 *   route's handler, which parses the body with the published schema and hands the intent to
 *   the engine. An answer is the HTTP status and the HTTP body.
 * - A handler error that is not an OwpError is logged and answered 500 `internal`, never thrown.
 * - Nothing here touches the socket: the caller sends the answer (or drops it, socket gone).
 */
import { OwpError, httpStatusFor, isOwpError } from '../../shared/errors.js';
import { httpPathOf, INTENT_OPS, type IntentOp, type IntentRequest } from '../../shared/intent-channel.js';
import { aOrAn } from '../http/router.js';
import type { Logger, Principal, Route, RouteContext } from '../ports.js';

export interface Reply {
  status: number;
  body: unknown;
  retryAfter?: number;
}

export interface DispatchDeps {
  /** The HTTP routes of the ops, by op (see routesByOp). */
  routes: ReadonlyMap<IntentOp, Route>;
  shuttingDown(): boolean;
  log: Logger;
}

/** The routes the ops stand for, picked out of the relay's HTTP routes by method and path. */
export function routesByOp(routes: readonly Route[]): Map<IntentOp, Route> {
  const out = new Map<IntentOp, Route>();
  for (const op of Object.keys(INTENT_OPS) as IntentOp[]) {
    const path = INTENT_OPS[op] ? `/api/tasks/:id/${op}` : '/api/claim';
    const r = routes.find((x) => x.method === 'POST' && x.path === path);
    if (!r) throw new Error(`intent channel: no HTTP route POST ${path} to serve op ${op}`);
    out.set(op, r);
  }
  return out;
}

const errorReply = (e: OwpError): Reply => ({ status: httpStatusFor(e.code), body: { error: e.toJSON() } });

/** A route context with no HTTP request behind it: a handler that reached for one would be a bug here. */
function socketContext(req: IntentRequest, principal: Principal, route: Route, answer: (r: Reply) => void): RouteContext {
  const body = req.body ?? {};
  const nowhere = (): never => {
    throw new Error(`intent channel: the handler of ${route.path} used the HTTP request or response`);
  };
  let url: URL | undefined;
  return {
    get req() {
      return nowhere();
    },
    get res() {
      return nowhere();
    },
    // Made only if the handler reads it: the lease routes do not (a URL parse per message was 2% of the relay's CPU).
    get url() {
      return (url ??= new URL(httpPathOf(req.op, req.task), 'http://relay.invalid'));
    },
    params: req.task !== undefined ? { id: req.task } : {},
    principal,
    rawBody: () => Promise.resolve(Buffer.from(JSON.stringify(body))),
    json: <T>() => Promise.resolve(body as T),
    send: (status, b) => answer({ status, body: b }),
  };
}

/** Run one well-formed request as its HTTP route would; resolves with the answer. */
export async function dispatch(d: DispatchDeps, principal: Principal, req: IntentRequest): Promise<Reply> {
  const route = d.routes.get(req.op)!;
  try {
    if (d.shuttingDown()) throw new OwpError('shutting-down', 'The relay is shutting down; retry in a moment.');
    if (route.auth !== 'none' && principal.role !== 'admin' && !route.auth.includes(principal.role)) {
      throw new OwpError('not-authorized', `${aOrAn(principal.role, true)} ${principal.role} token may not call ${route.method} ${route.path}; it needs ${route.auth.join(' or ')}.`);
    }
    let reply: Reply | undefined;
    await route.handler(socketContext(req, principal, route, (r) => (reply ??= r)));
    if (!reply) throw new Error(`intent channel: ${route.path} answered nothing`);
    return reply;
  } catch (e) {
    if (isOwpError(e)) return errorReply(e);
    d.log.error('intent message failed', { op: req.op, error: String((e as Error)?.stack ?? e) });
    return errorReply(new OwpError('internal', 'The relay hit an unexpected error; it is logged. Retry, and report it if it persists.'));
  }
}
