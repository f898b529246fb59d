/**
 * What a batch means to maintainers, as notifications (pure: no I/O, no clock).
 *
 * - `pr-awaiting-review`: a PR was opened for a task (a fact of kind `pr`).
 * - `task-stuck`: a task reached `stuck` (max attempts used up).
 * - `review-budget-full` / `review-budget-freed`: a repo's review gauge crossed its
 *   budget, one way or the other; `fullRepos` remembers which repos are full between
 *   batches (and is updated here).
 */
import type { AuditEvent } from '../../shared/model.js';
import type { Fact } from '../../shared/stats/facts.js';
import type { ReviewGauge } from '../../shared/stats/figures.js';

export type NotificationEvent = 'pr-awaiting-review' | 'task-stuck' | 'review-budget-full' | 'review-budget-freed';

export interface Notification {
  event: NotificationEvent;
  text: string;
  details: Record<string, unknown>;
}

/** Slack mrkdwn escaping (`&`, `<`, `>`), so a task title cannot forge a link or a mention. */
export function escapeSlack(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function messagesFor(
  events: readonly AuditEvent[],
  facts: readonly Fact[],
  gauges: Record<string, ReviewGauge> | undefined,
  fullRepos: Set<string>,
  titleOf: (taskId: string) => string | undefined,
): Notification[] {
  const out: Notification[] = [];
  const named = (taskId: string) => {
    const t = titleOf(taskId);
    return t ? `${escapeSlack(taskId)} "${escapeSlack(t)}"` : escapeSlack(taskId);
  };
  for (const f of facts) {
    if (f.kind !== 'pr') continue;
    const pr = events.find((e) => e.kind === 'pr-submitted' && e.taskId === f.taskId)?.reason;
    out.push({
      event: 'pr-awaiting-review',
      text: `PR awaiting review: ${named(f.taskId)} by ${escapeSlack(f.workerId ?? 'a worker')}${pr ? ` ${escapeSlack(pr)}` : ''}`,
      details: { taskId: f.taskId, repo: f.repo, workerId: f.workerId, prUrl: pr },
    });
  }
  for (const e of events) {
    if (e.kind !== 'task-stuck' || !e.taskId) continue;
    out.push({
      event: 'task-stuck',
      text: `Task stuck: ${named(e.taskId)}${e.reason ? `: ${escapeSlack(e.reason)}` : ''} (requeue it with \`owp requeue ${escapeSlack(e.taskId)}\`)`,
      details: { taskId: e.taskId, reason: e.reason },
    });
  }
  if (gauges) {
    for (const [repo, g] of Object.entries(gauges)) {
      if (g.full && !fullRepos.has(repo)) {
        fullRepos.add(repo);
        out.push({
          event: 'review-budget-full',
          text: `Review budget full in ${escapeSlack(repo)}: ${g.prOpen} PR(s) awaiting review and ${g.leased} lease(s) use all ${g.reviewBudget}; no new claims until a review frees one.`,
          details: { repo, ...g },
        });
      } else if (!g.full && fullRepos.has(repo)) {
        fullRepos.delete(repo);
        out.push({
          event: 'review-budget-freed',
          text: `Review budget freed in ${escapeSlack(repo)}: ${g.inUse} of ${g.reviewBudget} in use; claims resume.`,
          details: { repo, ...g },
        });
      }
    }
  }
  return out;
}
