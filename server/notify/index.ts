/**
 * Outgoing webhook notifications for maintainers (off unless a URL is configured): a PR
 * awaits review, a task is stuck, a repo's review budget is full, a budget was freed.
 *
 * Invariants:
 * - Never blocks a batch: `onBatch` only decides what to say (pure, ./messages.ts) and
 *   queues it; delivery runs later, one request at a time, in order.
 * - Each delivery is JSON a Slack incoming webhook accepts (`text`), with the details under
 *   `owp`, signed with HMAC-SHA256 over `<timestamp>.<body>` (headers `X-OWP-Timestamp`,
 *   `X-OWP-Signature-256: sha256=<hex>`), so a receiver can reject forged or replayed calls.
 * - A failed delivery (network error, 429, 5xx) is retried with exponential backoff up to
 *   `attempts` times; any other 4xx is not retried. The queue is bounded: past `maxQueue`
 *   the oldest is dropped with a warning.
 * - The webhook URL may carry a secret path (Slack's do): it is never logged.
 */
import { createHmac, randomUUID } from 'node:crypto';
import type { AuditEvent } from '../../shared/model.js';
import type { Fact } from '../../shared/stats/facts.js';
import type { ReviewGauge } from '../../shared/stats/figures.js';
import type { Logger } from '../ports.js';
import { messagesFor, type Notification } from './messages.js';

export interface NotifyOptions {
  url: string;
  secret?: string;
  /** Tries per notification (default 5). */
  attempts?: number;
  /** First retry delay in ms, doubling each time (default 1000). */
  backoffMs?: number;
  /** Notifications waiting at most (default 1000). */
  maxQueue?: number;
  /** Per request (default 10 s). */
  timeoutMs?: number;
  log: Logger;
  now: () => number;
}

/** The signature header value for a body sent at `timestamp` (seconds). */
export function signNotification(secret: string, timestamp: string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex');
}

export class Notifier {
  private readonly queue: Notification[] = [];
  private running = false;
  private stopped = false;
  private readonly fullRepos = new Set<string>();
  private wake: (() => void) | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Delivered, retried and dropped counts (for tests and /api/status). */
  readonly stats = { delivered: 0, retries: 0, failed: 0, dropped: 0 };

  constructor(private readonly o: NotifyOptions) {}

  /** Decide what a batch means to maintainers and queue it (no I/O here). */
  onBatch(events: readonly AuditEvent[], facts: readonly Fact[], gauges: () => Record<string, ReviewGauge>, titleOf: (taskId: string) => string | undefined): void {
    if (this.stopped) return;
    const out = messagesFor(events, facts, facts.length > 0 ? gauges() : undefined, this.fullRepos, titleOf);
    for (const n of out) this.push(n);
  }

  private push(n: Notification): void {
    if (this.queue.length >= (this.o.maxQueue ?? 1000)) {
      this.queue.shift();
      this.stats.dropped += 1;
      this.o.log.warn('notify: queue full; dropped the oldest notification');
    }
    this.queue.push(n);
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (!this.stopped && this.queue.length > 0) {
        const n = this.queue.shift()!;
        await this.deliver(n);
      }
    } finally {
      this.running = false;
      this.wake?.();
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      t.unref?.();
      this.timers.add(t);
    });
  }

  private async deliver(n: Notification): Promise<void> {
    const body = JSON.stringify({ text: n.text, owp: { event: n.event, ...n.details, at: this.o.now() } });
    const attempts = this.o.attempts ?? 5;
    const delivery = randomUUID();
    for (let attempt = 1; attempt <= attempts && !this.stopped; attempt++) {
      const timestamp = String(Math.floor(this.o.now() / 1000));
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-owp-event': n.event, 'x-owp-delivery': delivery, 'x-owp-timestamp': timestamp };
      if (this.o.secret) headers['x-owp-signature-256'] = signNotification(this.o.secret, timestamp, body);
      let retry: boolean;
      let why: string;
      try {
        const res = await fetch(this.o.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000) });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          this.stats.delivered += 1;
          return;
        }
        retry = res.status === 429 || res.status >= 500;
        why = `the receiver answered ${res.status}`;
      } catch (e) {
        retry = true;
        why = `the receiver could not be reached (${(e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name})`;
      }
      if (!retry || attempt === attempts) {
        this.stats.failed += 1;
        this.o.log.warn('notify: delivery failed; giving up', { event: n.event, attempts: attempt, why });
        return;
      }
      this.stats.retries += 1;
      await this.sleep((this.o.backoffMs ?? 1000) * 2 ** (attempt - 1));
    }
  }

  /** Resolves when nothing is queued or being delivered (tests). */
  async idle(): Promise<void> {
    while (this.running || this.queue.length > 0) await new Promise<void>((r) => (this.wake = r));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.queue.length = 0;
    this.wake?.();
  }
}
