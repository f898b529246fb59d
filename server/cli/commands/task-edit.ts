/**
 * A maintainer's edits of one task on the board: `owp task hold ID` (the scheduler offers
 * it to nobody until `owp task unhold ID`; a lease already held runs on) and
 * `owp task priority ID N` (-100..100; higher is offered first). What the dashboard's Hold,
 * Lift hold and Set priority send: `PATCH /api/tasks/:id`, audited as `task-held`,
 * `task-unheld` and `task-priority-changed` with the maintainer's name.
 *
 * Invariants:
 * - The task is read first, so the answer says what changed (`0 -> 7`) or that nothing did
 *   (already on hold: exit 0, no audit entry). The patch is sent either way, so a token
 *   without the maintainer role is refused even then.
 * - A priority out of range is bad usage (exit 2) before anything is sent; the relay checks
 *   it again with the same bounds (shared/model.ts).
 */
import { parseIntArg } from '../args.js';
import { taskPath } from '../client.js';
import type { Command, Context } from '../command.js';
import type { Task, TaskRuntime } from '../../../shared/model.js';

const PRIORITY_MIN = -100;
const PRIORITY_MAX = 100;

interface TaskView {
  task: Task | null;
  runtime: TaskRuntime | null;
}

/** What the task's state means for a hold, for the human answer. */
function stateNote(v: TaskView): string {
  const state = v.runtime?.state ?? (v.task?.cancelled ? 'cancelled' : 'queued');
  if (state === 'leased' || state === 'pr_open') return ` (it is ${state === 'leased' ? 'leased' : 'awaiting review'}: the current lease runs on; a hold stops the next offer)`;
  if (state === 'done' || state === 'cancelled') return ` (it is ${state}: the hold matters only if it is queued again)`;
  return '';
}

/** Read the task, then patch it; `task` is undefined when the field already had the value. */
async function patch(ctx: Context, taskId: string, body: Partial<Task>): Promise<{ before: TaskView; task?: Task; after: Task }> {
  const client = ctx.client();
  const before = await client.get<TaskView>(taskPath(taskId));
  // Sent even when nothing changes: the relay checks the role either way (a no-op is not audited).
  const r = await client.patch<{ task: Task }>(taskPath(taskId), body);
  const key = Object.keys(body)[0] as keyof Task;
  return { before, after: r.task, ...(before.task && before.task[key] === body[key] ? {} : { task: r.task }) };
}

function holdCommand(held: boolean): Command {
  return {
    name: held ? 'task hold' : 'task unhold',
    args: 'TASK_ID',
    summary: held ? 'hold a task: the scheduler offers it to nobody until `owp task unhold`' : 'lift the hold on a task: the scheduler may offer it again',
    details: held
      ? 'A lease already held runs on; a hold stops the next offer. Audited as task-held with your name. Holding a task already on hold changes nothing (exit 0).'
      : 'Audited as task-unheld with your name. A task that is not on hold is left as it is (exit 0).',
    async run(ctx) {
      const taskId = ctx.positional(0, 'TASK_ID');
      ctx.noMorePositionals(1);
      const { before, task, after } = await patch(ctx, taskId, { held });
      ctx.out.result({ taskId, held, changed: task !== undefined, task: after }, () =>
        task === undefined
          ? `${taskId} is ${held ? 'already on hold' : 'not on hold'}; nothing changed.`
          : held
            ? `Held ${taskId}${stateNote(before)}. Lift it with \`owp task unhold ${taskId}\`.`
            : `Lifted the hold on ${taskId}; the scheduler may offer it again.`,
      );
      return 0;
    },
  };
}

export const taskHold = holdCommand(true);
export const taskUnhold = holdCommand(false);

export const taskPriority: Command = {
  name: 'task priority',
  args: 'TASK_ID N',
  summary: `set a task's priority (${PRIORITY_MIN}..${PRIORITY_MAX}; higher is offered first, default 0)`,
  details: 'Audited as task-priority-changed with your name. Example: owp task priority acme/app#12 20 (a negative N works as is: owp task priority acme/app#12 -5).',
  async run(ctx) {
    const taskId = ctx.positional(0, 'TASK_ID');
    const priority = parseIntArg(ctx.positional(1, 'N (the priority, a whole number from -100 to 100)'), 'N (the priority)', PRIORITY_MIN, PRIORITY_MAX);
    ctx.noMorePositionals(2);
    const { before, task, after } = await patch(ctx, taskId, { priority });
    const was = before.task?.priority;
    ctx.out.result({ taskId, priority, before: was, changed: task !== undefined, task: after }, () =>
      task === undefined ? `${taskId} already has priority ${priority}; nothing changed.` : `Priority of ${taskId}: ${was ?? '-'} -> ${priority}.`,
    );
    return 0;
  },
};
