/**
 * The intent channel's vocabulary (docs/PROTOCOL.md, "Intent channel"): one WebSocket at
 * `/owp/intents` carrying the HTTP API's intent routes as JSON messages, several in flight.
 * The relay (server/intents-ws) and the CLI's client (server/cli/intent-channel.ts) import it.
 *
 * Invariants:
 * - Each op is one HTTP route of shared/api-spec.ts `API`, with that route's body schema and
 *   that route's answer: an answer carries the HTTP status and the exact HTTP body.
 * - A request message has only the fields `id`, `op`, `task`, `body`; anything else is
 *   refused `invalid-field` naming it (never ignored).
 * - Pure: no I/O, no Node built-ins.
 */
import { didYouMean } from './did-you-mean.js';

/** The WebSocket path of the intent channel. */
export const INTENTS_PATH = '/owp/intents';
/** Intents one socket may have in flight (sent, not yet answered) unless the relay says otherwise in its hello. */
export const DEFAULT_MAX_IN_FLIGHT = 64;

/** Op -> whether it names a task as the HTTP path does (`/api/tasks/:id/<op>`). `claim` is `POST /api/claim` (its task, if any, is `body.taskId`). */
export const INTENT_OPS = {
  claim: false,
  heartbeat: true,
  release: true,
  submit: true,
  complete: true,
  fail: true,
  review: true,
  requeue: true,
  cancel: true,
} as const;
export type IntentOp = keyof typeof INTENT_OPS;
export const INTENT_OP_NAMES = Object.keys(INTENT_OPS) as IntentOp[];

/** A message id: the client's, echoed in the answer (not the intent's id: that is `body.intentId`). */
export type MessageId = string | number;

/** Client -> relay. */
export interface IntentRequest {
  id: MessageId;
  op: IntentOp;
  /** The task id of the HTTP path, for every op but `claim`. */
  task?: string;
  /** The HTTP body of the route (absent: `{}`). */
  body?: Record<string, unknown>;
}

/** Relay -> client, first message on every admitted socket. */
export interface IntentHello {
  type: 'hello';
  protocol: string;
  maxInFlight: number;
  ops: IntentOp[];
}

/** Relay -> client, one per request, in any order. */
export interface IntentAnswer {
  type: 'answer';
  /** The request's id; null when the message could not be read far enough to know it. */
  id: MessageId | null;
  /** The HTTP status the same request gets over HTTP. */
  status: number;
  /** The HTTP body the same request gets over HTTP. */
  body: unknown;
  /** With a 429 from the token's rate limit: seconds to wait (HTTP's Retry-After). */
  retryAfter?: number;
}

const REQUEST_FIELDS = ['id', 'op', 'task', 'body'];

/** The HTTP path an op stands for. */
export function httpPathOf(op: IntentOp, task?: string): string {
  return INTENT_OPS[op] ? `/api/tasks/${encodeURIComponent(task ?? '')}/${op}` : '/api/claim';
}

/** The op an HTTP call stands for (the client's switch between HTTP and the channel), if any. */
export function opOfHttp(method: string, path: string): { op: IntentOp; task?: string } | undefined {
  if (method.toUpperCase() !== 'POST' || path.includes('?')) return undefined;
  if (path === '/api/claim') return { op: 'claim' };
  const m = /^\/api\/tasks\/([^/]+)\/([a-z]+)$/.exec(path);
  if (!m || !Object.hasOwn(INTENT_OPS, m[2]!) || !INTENT_OPS[m[2] as IntentOp]) return undefined;
  try {
    return { op: m[2] as IntentOp, task: decodeURIComponent(m[1]!) };
  } catch {
    return undefined;
  }
}

export const isMessageId = (v: unknown): v is MessageId =>
  (typeof v === 'string' && v.length >= 1 && v.length <= 128) || (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);

export type ParsedRequest = { ok: true; request: IntentRequest } | { ok: false; id: MessageId | null; code: 'invalid-field'; message: string; field?: string };

/** Check a decoded message's envelope (the body is the route's, checked by its schema). */
export function parseIntentRequest(raw: unknown): ParsedRequest {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return bad(null, 'A message must be a JSON object { id, op, task?, body? }.');
  const m = raw as Record<string, unknown>;
  const id = isMessageId(m.id) ? m.id : null;
  const unknown = Object.keys(m).filter((k) => !REQUEST_FIELDS.includes(k));
  if (unknown.length > 0) return bad(id, `${unknown[0]} is not a field of an intent message${didYouMean(unknown[0]!, REQUEST_FIELDS)}; its fields are ${REQUEST_FIELDS.join(', ')}.`, unknown[0]);
  if (id === null) return bad(null, 'id must be a string of 1 to 128 characters or a non-negative integer, unique among your messages in flight.', 'id');
  if (typeof m.op !== 'string' || !Object.hasOwn(INTENT_OPS, m.op)) {
    const op = typeof m.op === 'string' ? m.op : '';
    return bad(id, `op must be one of ${INTENT_OP_NAMES.join(', ')}${op ? `, not ${JSON.stringify(op.slice(0, 40))}${didYouMean(op, INTENT_OP_NAMES)}` : ''}.`, 'op');
  }
  const op = m.op as IntentOp;
  if (INTENT_OPS[op]) {
    if (typeof m.task !== 'string' || m.task.length === 0) return bad(id, `task (the task id, as in POST /api/tasks/:id/${op}) is required for ${op}.`, 'task');
  } else if (m.task !== undefined) {
    return bad(id, 'A claim names its task in body.taskId (as POST /api/claim does), not in task.', 'task');
  }
  if (m.body !== undefined && (!m.body || typeof m.body !== 'object' || Array.isArray(m.body))) return bad(id, 'body must be a JSON object (the HTTP body of the route).', 'body');
  return { ok: true, request: { id, op, ...(m.task !== undefined ? { task: m.task as string } : {}), ...(m.body !== undefined ? { body: m.body as Record<string, unknown> } : {}) } };
}

function bad(id: MessageId | null, message: string, field?: string): ParsedRequest {
  return { ok: false, id, code: 'invalid-field', message, ...(field ? { field } : {}) };
}
