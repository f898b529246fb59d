/**
 * What to do next after a refusal: one sentence the CLI prints under `owp: <code>: <message>`
 * for the refusals newcomers meet most (no profile yet, a token the relay does not know, no
 * task that fits, limits still held by a submitted task, a repository without a policy, an
 * unknown token id, a task in the wrong state for review or requeue).
 *
 * Invariants:
 * - Pure: the hint depends only on the code, the command name and the relay URL.
 * - A hint never repeats or replaces the relay's message; it names an `owp` command to run.
 * - No hint for a code means none is printed (most messages already say what to do).
 */

export function refusalHint(code: string, command: string, url: string): string | undefined {
  switch (code) {
    case 'unknown-worker':
      return command === 'worker run'
        ? 'Give your skills the first time: `owp worker run --skills a,b` (later runs reuse them), or run `owp worker register --skills a,b` once.'
        : 'Register this worker first: `owp worker register --skills a,b` (with the same worker token), then claim again.';
    case 'unauthorized':
      return `Check --token / OWP_TOKEN: tokens belong to one relay and its data folder (this is ${url}; set --url or OWP_URL for another). An admin makes one with \`owp token create\`.`;
    case 'unknown-repo':
      return 'Add the repository and its policy first: `owp repo add OWNER/NAME` (`owp repo list` shows the known ones).';
    case 'no-matching-task':
      return command === 'claim'
        ? 'See what is queued with `owp tasks --state queued`; declare more skills or capacity with `owp worker register`, or let `owp worker run` wait for a task.'
        : undefined;
    case 'max-concurrent':
    case 'capacity-exceeded':
      return command === 'claim'
        ? 'Only tasks in progress count here (a PR awaiting review does not). `owp tasks --state leased` shows what you hold; `owp worker register` with a higher --max-concurrent or --capacity raises the limit.'
        : undefined;
    case 'conflict':
      return command === 'repo add' ? '`owp repo set OWNER/NAME --budget N ...` changes the fields you name and keeps the others; `owp repo list` shows the policy now.' : undefined;
    case 'max-open-prs':
      return command === 'claim'
        ? 'Your pull requests awaiting review (`owp tasks --state pr_open`) and tasks in progress count here; claims resume when a maintainer merges or closes one, or raise the limit with `owp worker register --max-open-prs N`.'
        : undefined;
    case 'pr-in-use':
      return 'Each task needs its own pull request; open a new one for this task (or ask a maintainer which task the existing one answers).';
    case 'not-found':
      return command === 'token revoke' ? '`owp token list` shows the token ids.' : undefined;
    case 'invalid-transition':
      return command === 'review' || command === 'requeue'
        ? '`owp tasks` shows the task\'s state; a review applies to a task with a PR open, `owp requeue` to a stuck or live task.'
        : undefined;
    default:
      return undefined;
  }
}
