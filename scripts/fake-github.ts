/**
 * `node --import tsx scripts/fake-github.ts [--repo OWNER/NAME]`:
 * the local fake GitHub of the tests (test/fake-github/server.ts) as a process you can point
 * a relay at, to try docs/GITHUB.md without a GitHub account or token.
 *
 * It seeds one repository with labelled issues, prints the two variables to start a relay
 * with, and then reads commands on stdin to play GitHub's part (open, merge or close a pull
 * request, request changes, close an issue, add one).
 *
 * Invariants:
 * - Listens on 127.0.0.1 only; everything is in memory and gone when it exits.
 * - The token it accepts is a fake one, printed for you; no real GitHub is contacted.
 * - A bad stdin line is answered with what it expects; it never exits on bad input.
 */
import { createInterface } from 'node:readline';
import { startFakeGithub } from '../test/fake-github/server.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const repo = arg('repo', 'octo/hello');
const gh = await startFakeGithub();
// The fake's clock starts in January 2026 (fixed for tests); a relay finds pull requests with
// `?since=<its own clock>`, so here it starts at the real time instead.
(gh as unknown as { clock: number }).clock = Date.now();
gh.createRepo(repo);
gh.addIssue(repo, { title: 'Fix the typos in the README', body: 'Three typos in "Install".', labels: ['owp', 'points:1', 'skill:docs', 'area:docs/'] });
gh.addIssue(repo, { title: 'Name the line in parser errors', body: 'Include line and column.', labels: ['owp', 'points:3', 'skill:typescript', 'tier:1', 'area:src/parser/'] });
gh.addIssue(repo, { title: 'A label with a bad value', body: 'points:abc falls back to 1 and is reported.', labels: ['owp', 'points:abc'] });
gh.addIssue(repo, { title: 'Not for the pool', body: 'No owp label: never imported.', labels: ['bug'] });

const HELP = [
  'Commands (one per line):',
  '  pr ISSUE            open a pull request whose body says "Fixes #ISSUE"; prints its number',
  '  merge PR | close PR  merge / close a pull request',
  '  changes PR          a reviewer requests changes on a pull request',
  '  close-issue N       close an issue (its task is cancelled at the next sync)',
  '  issue TITLE...      open a new issue labelled owp',
  '  comments N          print the comments on issue N (write-back)',
  '  requests            how many API requests the relay made, and the rate limit left',
  '  help | quit',
].join('\n');

console.log(`Fake GitHub listening on ${gh.url} with ${repo}: issues #1-#3 labelled owp, #4 not.`);
console.log('Start a relay against it (another terminal):');
console.log(`  OWP_GITHUB_API_URL=${gh.url} OWP_GITHUB_TOKEN=${gh.token} npm start`);
console.log(`then, as admin or maintainer: owp repo add ${repo} --github && owp github sync`);
console.log(HELP);

function run(line: string): string {
  const [cmd, ...rest] = line.trim().split(/\s+/);
  const n = Number(rest[0]);
  const needNumber = (): string | undefined => (Number.isInteger(n) && n > 0 ? undefined : `"${cmd}" needs a number, e.g. ${cmd} 1`);
  try {
    switch (cmd) {
      case undefined:
      case '':
        return '';
      case 'help':
        return HELP;
      case 'pr': {
        const bad = needNumber();
        if (bad) return bad;
        gh.issue(repo, n); // throws when there is no such issue
        const pr = gh.openPr(repo, { title: `Fix #${n}`, body: `Fixes #${n}` });
        return `opened pull request #${pr} (https://github.com/${repo}/pull/${pr}) fixing #${n}`;
      }
      case 'merge':
      case 'close':
      case 'changes': {
        const bad = needNumber();
        if (bad) return bad;
        if (!gh.issue(repo, n).isPr) return `#${n} is an issue, not a pull request`;
        if (cmd === 'merge') gh.mergePr(repo, n);
        else if (cmd === 'close') gh.closePr(repo, n);
        else gh.addReview(repo, n, 'reviewer', 'CHANGES_REQUESTED');
        return `${cmd === 'merge' ? 'merged' : cmd === 'close' ? 'closed' : 'requested changes on'} pull request #${n}`;
      }
      case 'close-issue': {
        const bad = needNumber();
        if (bad) return bad;
        gh.closeIssue(repo, n);
        return `closed issue #${n}`;
      }
      case 'issue': {
        if (!rest.length) return '"issue" needs a title, e.g. issue Add a changelog';
        const i = gh.addIssue(repo, { title: rest.join(' '), labels: ['owp'] });
        return `opened issue #${i} labelled owp`;
      }
      case 'comments': {
        const bad = needNumber();
        if (bad) return bad;
        const list = gh.comments(repo, n);
        return list.length ? list.map((c) => `- ${c.user.login}: ${c.body}`).join('\n') : `no comments on #${n}`;
      }
      case 'requests':
        return `${gh.requests.length} request(s) so far; rate limit left ${gh.rateRemaining}/${gh.rateLimit}`;
      case 'quit':
      case 'exit':
        void stop();
        return '';
      default:
        return `unknown command "${cmd}"; type help`;
    }
  } catch (e) {
    return `cannot: ${(e as Error).message}`;
  }
}

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await gh.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const out = run(line);
  if (out) console.log(out);
});
// stdin closed (e.g. started in the background): keep serving until a signal.
rl.on('close', () => undefined);
