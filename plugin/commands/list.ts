/**
 * The command palette entries: ids, names (sentence case), when each applies and what it
 * runs. Without Obsidian imports: the plugin passes in how to prompt, notify and open things.
 *
 * Invariants:
 * - A command that needs a task note, a lease or a role shows only where it applies
 *   (`when`, used as Obsidian's checkCallback); the others always show.
 * - Every command ends in a notice, including "not connected".
 */
import type { Session } from '../sync/session.js';
import * as cmd from './commands.js';

export interface PromptOptions {
  title: string;
  name: string;
  desc: string;
  placeholder: string;
  button: string;
  warning?: boolean;
}

export interface CommandListDeps {
  session(): Session | undefined;
  context(s: Session): cmd.CommandContext;
  /** The open note's task id and whether a markdown note is open (synchronous, from the metadata cache). */
  openNote(): { taskId: string | undefined; noteOpen: boolean };
  prompt(opts: PromptOptions, then: (value: string) => void): void;
  notice(msg: string): void;
  openDashboard(): void;
  openMyTasks(): void;
  reconnect(): void;
}

export interface CommandEntry {
  id: string;
  name: string;
  /** Undefined: always available. */
  when?: () => boolean;
  run: () => void;
}

const PR_PROMPT: PromptOptions = {
  title: 'Submit pull request link',
  name: 'Pull request link',
  desc: 'The address of the pull request for the task you hold.',
  placeholder: 'https://github.com/owner/repo/pull/1',
  button: 'Submit',
};

const FAIL_PROMPT: PromptOptions = {
  title: 'Fail task',
  name: 'Reason',
  desc: 'The task goes back to the queue with your reason, for the next person.',
  placeholder: 'What stopped you',
  button: 'Fail task',
  warning: true,
};

const CANCEL_PROMPT: PromptOptions = {
  title: 'Cancel task',
  name: 'Reason',
  desc: 'The task of the open note ends for everyone. Its note stays.',
  placeholder: 'Why the task is cancelled',
  button: 'Cancel task',
  warning: true,
};

export function commandList(deps: CommandListDeps): CommandEntry[] {
  const withSession =
    (run: (ctx: cmd.CommandContext, s: Session) => unknown) =>
    (): void => {
      const s = deps.session();
      if (!s) deps.notice('OWP: not connected. Check the relay address and token in the settings, then run "Reconnect".');
      else void run(deps.context(s), s);
    };
  const when = (test: (s: cmd.Situation) => boolean) => (): boolean => {
    const s = deps.session();
    if (!s) return false;
    const open = deps.openNote();
    return test({ client: s.client, mirror: s.mirror, ...open });
  };
  const review = (result: cmd.ReviewResult, name: string): CommandEntry => ({
    id: `review-${result}`,
    name,
    when: when(cmd.applies.review),
    run: withSession((c) => cmd.maintainerAction(c, 'review', { result })),
  });
  return [
    { id: 'claim-this-task', name: 'Claim this task', when: when(cmd.applies.claim), run: withSession((c) => cmd.claimThisTask(c)) },
    { id: 'claim-next-task', name: 'Claim next matching task', when: when(cmd.applies.claimNext), run: withSession((c) => cmd.claimNext(c)) },
    { id: 'release-task', name: 'Release task', when: when(cmd.applies.lease('release')), run: withSession((c) => cmd.leaseAction(c, 'release')) },
    {
      id: 'submit-pull-request',
      name: 'Submit pull request link',
      when: when(cmd.applies.lease('submit')),
      run: withSession((c) => deps.prompt(PR_PROMPT, (url) => void cmd.leaseAction(c, 'submit', url))),
    },
    { id: 'complete-task', name: 'Complete task', when: when(cmd.applies.lease('complete')), run: withSession((c) => cmd.leaseAction(c, 'complete')) },
    {
      id: 'fail-task',
      name: 'Fail task',
      when: when(cmd.applies.lease('fail')),
      run: withSession((c) => deps.prompt(FAIL_PROMPT, (reason) => void cmd.leaseAction(c, 'fail', reason))),
    },
    review('merged', 'Review: pull request merged'),
    review('closed', 'Review: pull request closed'),
    review('changes-requested', 'Review: changes requested'),
    { id: 'requeue-task', name: 'Requeue task', when: when(cmd.applies.requeue), run: withSession((c) => cmd.maintainerAction(c, 'requeue')) },
    {
      id: 'cancel-task',
      name: 'Cancel task',
      when: when(cmd.applies.cancel),
      run: withSession((c) => deps.prompt(CANCEL_PROMPT, (reason) => void cmd.maintainerAction(c, 'cancel', { reason }))),
    },
    { id: 'hold-task', name: 'Hold task', when: when(cmd.applies.hold(true)), run: withSession((c) => cmd.setHeld(c, true)) },
    { id: 'resume-task', name: 'Resume held task', when: when(cmd.applies.hold(false)), run: withSession((c) => cmd.setHeld(c, false)) },
    { id: 'create-task-from-note', name: 'Create task from this note', when: when(cmd.applies.create), run: withSession((c) => cmd.createTaskFromNote(c)) },
    { id: 'open-dashboard', name: 'Open dashboard', run: () => deps.openDashboard() },
    { id: 'open-my-tasks', name: 'Open my tasks', run: () => deps.openMyTasks() },
    { id: 'reconnect', name: 'Reconnect', run: () => deps.reconnect() },
    {
      id: 'restore-task-note',
      name: 'Restore task note',
      run: withSession(async (_c, s) => {
        const ids = await s.mirror.restore();
        deps.notice(ids.length ? `OWP: restored ${ids.length} task note${ids.length > 1 ? 's' : ''}: ${ids.join(', ')}.` : 'OWP: no deleted task notes to restore.');
      }),
    },
  ];
}
