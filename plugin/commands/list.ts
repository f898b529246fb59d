/**
 * The command palette entries: ids, names (sentence case) and what each runs. Without
 * Obsidian imports: the plugin passes in how to prompt, notify and open things.
 * Invariant: every command ends in a notice, including "not connected".
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
  prompt(opts: PromptOptions, then: (value: string) => void): void;
  notice(msg: string): void;
  openDashboard(): void;
  reconnect(): void;
}

export interface CommandEntry {
  id: string;
  name: string;
  run: () => void;
}

const PR_PROMPT: PromptOptions = {
  title: 'Submit pull request link',
  name: 'Pull request link',
  desc: 'The address of the pull request for the task you hold.',
  placeholder: 'https://github.com/owner/repo/pull/1',
  button: 'Submit',
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
  return [
    { id: 'claim-this-task', name: 'Claim this task', run: withSession((c) => cmd.claimThisTask(c)) },
    { id: 'claim-next-task', name: 'Claim next matching task', run: withSession((c) => cmd.claimNext(c)) },
    { id: 'release-task', name: 'Release task', run: withSession((c) => cmd.releaseTask(c)) },
    {
      id: 'submit-pull-request',
      name: 'Submit pull request link',
      run: withSession((c) => deps.prompt(PR_PROMPT, (url) => void cmd.submitPullRequest(c, url))),
    },
    { id: 'open-dashboard', name: 'Open dashboard', run: () => deps.openDashboard() },
    { id: 'create-task-from-note', name: 'Create task from this note', run: withSession((c) => cmd.createTaskFromNote(c)) },
    { id: 'cancel-task', name: 'Cancel task', run: withSession((c) => deps.prompt(CANCEL_PROMPT, (reason) => void cmd.cancelTask(c, reason))) },
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
