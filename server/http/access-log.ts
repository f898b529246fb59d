/**
 * The access log: one line per HTTP request, written when its answer ends (an event stream's
 * when it closes).
 *
 * Invariants:
 * - A line holds the method, the route PATTERN (`/api/tasks/:id/claim`: bounded, no ids; an
 *   unmatched request gets its path, cut to 200 characters), the status, the duration in ms,
 *   the caller's role, the client address and, for a refusal, its stable error code. Never
 *   a query string (it may hold `?token=`), a header or a body.
 * - Level: 5xx error (503 `shutting-down` / `starting` and 502 `upstream-error` warn: expected, not
 *   the relay's fault); 401, 403 and 429 (refused tokens, roles and brakes) warn; probes and
 *   scrapes (/healthz, /readyz, /metrics) that succeed debug; everything else info.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../ports.js';

export interface RequestNote {
  started: number;
  /** The matched route's pattern. */
  route?: string;
  role?: string;
  /** The stable code of an error answer. */
  code?: string;
}

const PROBES = new Set(['/healthz', '/readyz', '/metrics']);
/** 5xx answers that are not the relay's fault: logged at warn. */
const EXPECTED_5XX = new Set(['shutting-down', 'starting', 'upstream-error']);

export function logRequest(log: Logger, req: IncomingMessage, res: ServerResponse, note: RequestNote, ip: string | undefined): void {
  const status = res.statusCode;
  const fields: Record<string, unknown> = {
    method: (req.method ?? '?').slice(0, 16),
    route: note.route ?? null,
    status,
    ms: Math.round((performance.now() - note.started) * 10) / 10,
  };
  if (!note.route) fields.path = pathOf(req.url);
  if (note.role) fields.role = note.role;
  if (ip) fields.ip = ip;
  if (note.code) fields.code = note.code;
  if (!res.writableFinished) fields.aborted = true;
  if (status >= 500 && !EXPECTED_5XX.has(note.code ?? '')) log.error('request', fields);
  else if (status >= 500) log.warn('request', fields);
  else if (status === 401 || status === 403 || status === 429) log.warn('request', fields);
  else if (status < 400 && note.route && PROBES.has(note.route)) log.debug?.('request', fields);
  else log.info('request', fields);
}

function pathOf(url: string | undefined): string {
  const path = (url ?? '/').split('?')[0];
  return path.length > 200 ? path.slice(0, 200) + '...' : path;
}
