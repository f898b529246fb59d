/**
 * Keeping a held lease alive: one place that renews (every TTL/4), backs off while the relay
 * cannot be reached (1 s doubling to 30 s), and reports a lost lease.
 *
 * Invariants:
 * - A `lease-lost` answer marks the lease lost and calls onLost once; nothing renews it after.
 * - A beat that returns after the loop moved on (`current()` false, or stopped) changes nothing.
 */
import { RefusedError, formatDuration } from '../args.js';
import type { Context } from '../command.js';
import { leaseAction } from '../commands/lease.js';
import type { Task } from '../../../shared/model.js';
import type { ToolRun } from './exec.js';

export interface Held {
  task: Task;
  fencingToken: number;
  expiresAt: number;
  ttlMs: number;
  heartbeats: number;
  relayDown: boolean;
  tool?: ToolRun;
  lost?: string;
  timer?: NodeJS.Timeout;
  onLost: () => void;
}

export interface KeeperOptions {
  /** False once the loop no longer holds this lease. */
  current(): boolean;
  /** No per-beat log line (a TTY shows the status line instead). */
  quiet: boolean;
  log(event: string, text: string, fields?: Record<string, unknown>): void;
}

export function startHeartbeat(ctx: Context, held: Held, o: KeeperOptions): void {
  schedule(ctx, held, o, Math.max(250, held.ttlMs / 4));
}

function schedule(ctx: Context, held: Held, o: KeeperOptions, delay: number, backoff = 1000): void {
  held.timer = setTimeout(async () => {
    if (!o.current() || held.lost) return;
    try {
      const r = await leaseAction(ctx, 'heartbeat', held.task.id, {}, held.fencingToken);
      if (!o.current() || held.timer === undefined) return;
      held.heartbeats++;
      held.relayDown = false;
      held.expiresAt = r.lease?.expiresAt ?? r.outcome?.expiresAt ?? ctx.now() + held.ttlMs;
      if (!o.quiet) o.log('heartbeat', `heartbeat ${held.task.id}: lease expires in ${formatDuration(held.expiresAt - ctx.now())}`, { taskId: held.task.id, expiresAt: held.expiresAt });
      schedule(ctx, held, o, Math.max(250, held.ttlMs / 4));
    } catch (e) {
      if (!o.current() || held.timer === undefined) return;
      const code = e instanceof RefusedError ? e.code : 'internal';
      if (code === 'lease-lost') {
        held.lost = `the relay says the lease on ${held.task.id} (fencing token ${held.fencingToken}) is no longer yours`;
        held.onLost();
        return;
      }
      held.relayDown = code === 'upstream-error' || code === 'shutting-down' || code === 'starting';
      const lapsed = ctx.now() > held.expiresAt ? ' (the lease may have lapsed)' : '';
      o.log('heartbeat-failed', `heartbeat ${held.task.id} failed: ${code}: ${(e as Error).message}; retrying in ${formatDuration(backoff)}${lapsed}`, { taskId: held.task.id, code });
      schedule(ctx, held, o, backoff, Math.min(backoff * 2, 30_000));
    }
  }, delay);
}

export function stopHeartbeat(held: Held): void {
  if (held.timer) clearTimeout(held.timer);
  held.timer = undefined;
}

