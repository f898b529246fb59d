/**
 * GitHub webhooks: signature check and what an event asks the relay to do.
 *
 * Invariants:
 * - Nothing happens for a delivery whose `X-Hub-Signature-256` is missing or wrong: the
 *   HMAC SHA-256 of the raw body with the configured secret is compared in constant time.
 * - Without a configured secret, every delivery is refused (403): an unsigned webhook
 *   endpoint would let anyone trigger syncs.
 * - The answer never echoes the body or the secret.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_EVENTS = ['issues', 'issue_comment', 'pull_request', 'pull_request_review'] as const;

export function signBody(secret: string, body: Buffer | string): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
}

export function verifySignature(secret: string, body: Buffer, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string' || !/^sha256=[0-9a-f]{64}$/i.test(header)) return false;
  const want = Buffer.from(signBody(secret, body), 'utf8');
  const got = Buffer.from(header.toLowerCase(), 'utf8');
  return want.length === got.length && timingSafeEqual(want, got);
}

export type WebhookAction =
  | { kind: 'ignore'; reason: string }
  | { kind: 'sync'; repo: string }
  | { kind: 'pr'; repo: string; prNumber: number };

interface Payload {
  repository?: { full_name?: string };
  pull_request?: { number?: number };
  issue?: { number?: number; pull_request?: unknown };
}

/** What a verified delivery asks for. */
export function actionFor(event: string | undefined, payload: unknown): WebhookAction {
  if (event === 'ping') return { kind: 'ignore', reason: 'ping' };
  if (!event || !(WEBHOOK_EVENTS as readonly string[]).includes(event)) return { kind: 'ignore', reason: `event ${event ?? '(none)'} is not used` };
  const p = (payload ?? {}) as Payload;
  const repo = p.repository?.full_name;
  if (typeof repo !== 'string' || !/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(repo)) return { kind: 'ignore', reason: 'no repository in the payload' };
  if ((event === 'pull_request' || event === 'pull_request_review') && typeof p.pull_request?.number === 'number') {
    return { kind: 'pr', repo, prNumber: p.pull_request.number };
  }
  return { kind: 'sync', repo };
}
