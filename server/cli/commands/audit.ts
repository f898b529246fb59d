/** `owp audit [--task ID] [--worker ID] [--since T] [--limit N]` and `owp audit verify`. */
import { RefusedError, parseIntArg, parseSince, str } from '../args.js';
import type { Command } from '../command.js';
import { table, when } from '../output.js';

interface AuditEntry {
  seq: number;
  at: number;
  actor: string;
  kind: string;
  taskId?: string;
  workerId?: string;
  from?: string;
  to?: string;
  code?: string;
  reason?: string;
  batch?: number;
  before?: number | boolean;
  after?: number | boolean;
  repo?: string;
}

/** A state change (`queued>leased`) or an edit's values (`0>5` for a priority, `1>2` for a trust tier). */
export function fromTo(e: { from?: string; to?: string; before?: number | boolean; after?: number | boolean }): string {
  if (e.from || e.to) return `${e.from ?? ''}>${e.to ?? ''}`;
  return e.before !== undefined || e.after !== undefined ? `${String(e.before ?? '')}>${String(e.after ?? '')}` : '';
}

export const audit: Command = {
  name: 'audit',
  summary: 'show the audit log (hash-chained record of every decision)',
  options: {
    task: { type: 'string', arg: 'ID', help: 'only entries about this task' },
    worker: { type: 'string', arg: 'ID', help: 'only entries about this worker' },
    since: { type: 'string', arg: 'T', help: 'ISO time (2026-01-31T10:00:00Z) or a duration ago (2h)' },
    limit: { type: 'string', arg: 'N', help: 'at most N entries (default: the relay\'s)' },
  },
  async run(ctx) {
    ctx.noMorePositionals(0);
    const q = new URLSearchParams();
    if (str(ctx.p, 'task')) q.set('task', str(ctx.p, 'task')!);
    if (str(ctx.p, 'worker')) q.set('worker', str(ctx.p, 'worker')!);
    if (str(ctx.p, 'since')) q.set('sinceAt', String(parseSince(str(ctx.p, 'since')!, ctx.now())));
    if (str(ctx.p, 'limit')) q.set('limit', String(parseIntArg(str(ctx.p, 'limit')!, '--limit', 1, 100_000)));
    const qs = q.toString();
    const r = await ctx.client().get<{ entries: AuditEntry[] }>(`/api/audit${qs ? `?${qs}` : ''}`);
    ctx.out.result(r, () =>
      r.entries.length
        ? table(
            ['SEQ', 'AT', 'KIND', 'TASK', 'WORKER', 'FROM>TO', 'ACTOR', 'CODE/REASON'],
            r.entries.map((e) => [
              e.seq,
              when(e.at),
              e.kind,
              e.taskId,
              e.workerId,
              fromTo(e),
              e.actor,
              [e.repo && `in ${e.repo}:`, e.code, e.reason].filter(Boolean).join(' '),
            ]),
          )
        : 'No audit entries match.',
    );
    return 0;
  },
};

export const auditVerify: Command = {
  name: 'audit verify',
  summary: 'check the audit log\'s hash chain (exit 1 if any entry was edited, removed or reordered)',
  async run(ctx) {
    ctx.noMorePositionals(0);
    const r = await ctx.client().get<{ ok: boolean; entries: number; brokenAt?: number }>('/api/audit/verify');
    if (!r.ok) throw new RefusedError('conflict', `the audit log is broken at entry ${r.brokenAt} of ${r.entries}: an entry was edited, removed or reordered`, 409, r);
    ctx.out.result(r, () => `Audit log intact: ${r.entries} entries, hash chain verified.`);
    return 0;
  },
};
