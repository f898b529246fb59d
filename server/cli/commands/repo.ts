/** `owp repo add|list|set`, `owp area freeze|unfreeze` (maintainer). */
import { UsageError, flag, parseDuration, parseIntArg, parseRepoArg, parseTiers, str, type OptionSpecs } from '../args.js';
import type { Command, Context } from '../command.js';
import { formatDuration } from '../args.js';
import { table } from '../output.js';
import type { RepoPolicy } from '../../../shared/model.js';
import { DEFAULT_TRUST_LADDER, LADDER_MEMORY } from '../../../shared/trust-ladder.js';

const POLICY_OPTIONS: OptionSpecs = {
  budget: { type: 'string', arg: 'N', help: 'review budget: PRs awaiting review + active leases at most N' },
  tiers: { type: 'string', arg: 'LIST', help: 'allowed risk tiers, e.g. 0,1,2' },
  'lease-ttl': { type: 'string', arg: 'DUR', help: 'lease time to live, e.g. 2h (heartbeats extend it)' },
  'max-attempts': { type: 'string', arg: 'N', help: 'grants before a task is marked stuck' },
  cooldown: { type: 'string', arg: 'DUR', help: 'how long a worker may not re-claim a task it released, e.g. 10m' },
  'daily-quota': { type: 'string', arg: 'N', help: 'claims per worker per UTC day' },
  github: { type: 'boolean', help: 'import issues labelled --label from GitHub and track their PRs' },
  'no-github': { type: 'boolean', help: 'stop GitHub import for this repo' },
  label: { type: 'string', arg: 'LABEL', help: 'GitHub label that marks pool tasks (default owp)' },
  'write-back': { type: 'boolean', help: 'let the relay comment on issues when leases change' },
  'trust-ladder': { type: 'string', arg: 'on|off', help: 'move workers one trust tier up or down from their reviewed PRs here (off by default)' },
  'promote-after': { type: 'string', arg: 'N', help: 'trust ladder: promote after N PRs merged at the current tier (default 5)' },
  lookback: { type: 'string', arg: 'M', help: 'trust ladder: ...when none of the last M PRs was closed unmerged (default 10)' },
  'demote-after': { type: 'string', arg: 'K', help: 'trust ladder: demote after K PRs in a row closed unmerged (default 3)' },
};

const LADDER_FLAGS = ['trust-ladder', 'promote-after', 'lookback', 'demote-after'];

/** The trust ladder settings the flags ask for, over the policy's current ones; undefined when no flag is given. */
function ladderFromFlags(ctx: Context, base: Partial<RepoPolicy>): RepoPolicy['trustLadder'] {
  const v = (n: string): string | undefined => str(ctx.p, n);
  if (!LADDER_FLAGS.some((f) => v(f) !== undefined)) return undefined;
  const onOff = v('trust-ladder');
  if (onOff !== undefined && onOff !== 'on' && onOff !== 'off') throw new UsageError(`--trust-ladder takes on or off, not ${onOff}`);
  const prev = base.trustLadder ?? { ...DEFAULT_TRUST_LADDER };
  return {
    enabled: onOff === undefined ? prev.enabled : onOff === 'on',
    promoteAfter: v('promote-after') !== undefined ? parseIntArg(v('promote-after')!, '--promote-after', 1, 100) : prev.promoteAfter,
    lookback: v('lookback') !== undefined ? parseIntArg(v('lookback')!, '--lookback', 1, LADDER_MEMORY) : prev.lookback,
    demoteAfter: v('demote-after') !== undefined ? parseIntArg(v('demote-after')!, '--demote-after', 1, LADDER_MEMORY) : prev.demoteAfter,
  };
}

function policyFromFlags(ctx: Context, base: Partial<RepoPolicy>): Partial<RepoPolicy> {
  const p: Partial<RepoPolicy> = {};
  const v = (n: string): string | undefined => str(ctx.p, n);
  if (v('budget') !== undefined) p.reviewBudget = parseIntArg(v('budget')!, '--budget', 0, 1000);
  if (v('tiers') !== undefined) p.allowedTiers = parseTiers(v('tiers')!);
  if (v('lease-ttl') !== undefined) p.leaseTtlMs = parseDuration(v('lease-ttl')!, '--lease-ttl');
  if (v('max-attempts') !== undefined) p.maxAttempts = parseIntArg(v('max-attempts')!, '--max-attempts', 1, 100);
  if (v('cooldown') !== undefined) p.cooldownMs = parseDuration(v('cooldown')!, '--cooldown');
  if (v('daily-quota') !== undefined) p.dailyQuota = parseIntArg(v('daily-quota')!, '--daily-quota', 0, 10_000);
  if (flag(ctx.p, 'github') && flag(ctx.p, 'no-github')) throw new UsageError('--github and --no-github contradict each other');
  const gh = flag(ctx.p, 'github') || flag(ctx.p, 'no-github') || v('label') !== undefined || flag(ctx.p, 'write-back');
  if (gh) {
    const prev = base.github ?? { enabled: false, label: 'owp', writeBack: false };
    p.github = {
      enabled: flag(ctx.p, 'no-github') ? false : flag(ctx.p, 'github') ? true : prev.enabled,
      label: v('label') ?? prev.label,
      writeBack: flag(ctx.p, 'write-back') ? true : prev.writeBack,
    };
  }
  const ladder = ladderFromFlags(ctx, base);
  if (ladder) p.trustLadder = ladder;
  return p;
}

function describe(r: RepoPolicy): string[] {
  return [
    `${r.repo}`,
    `  review budget  ${r.reviewBudget}`,
    `  allowed tiers  ${r.allowedTiers.join(',')}`,
    `  lease ttl      ${formatDuration(r.leaseTtlMs)}`,
    `  max attempts   ${r.maxAttempts}`,
    `  cooldown       ${formatDuration(r.cooldownMs)}`,
    `  daily quota    ${r.dailyQuota}`,
    `  frozen areas   ${r.frozenAreas.length ? r.frozenAreas.join(', ') : '-'}`,
    `  github         ${r.github?.enabled ? `on (label ${r.github.label}${r.github.writeBack ? ', write-back' : ''})` : 'off'}`,
    `  trust ladder   ${r.trustLadder?.enabled ? `on (promote after ${r.trustLadder.promoteAfter} merged with none of the last ${r.trustLadder.lookback} closed; demote after ${r.trustLadder.demoteAfter} closed in a row)` : 'off'}`,
  ];
}

/** The path of a repo's policy; owner and name are encoded one by one. */
const repoPath = (owner: string, name: string): string => `/api/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;

export const repoAdd: Command = {
  name: 'repo add',
  args: 'OWNER/NAME',
  summary: 'add a repository to the pool with its policy (refused if it is already there: use `owp repo set`)',
  options: POLICY_OPTIONS,
  details: 'Defaults: --budget 5 --tiers 0,1 --lease-ttl 2h --max-attempts 3 --cooldown 10m --daily-quota 20.',
  async run(ctx) {
    const { repo } = parseRepoArg(ctx.p.positionals[0], 'repo add');
    ctx.noMorePositionals(1);
    if (flag(ctx.p, 'no-github')) throw new UsageError('--no-github is for `owp repo set`');
    const r = await ctx.client().post<{ repo: RepoPolicy }>('/api/repos', { repo, ...policyFromFlags(ctx, {}) });
    ctx.out.result(r, () => ['Added:', ...describe(r.repo)]);
    return 0;
  },
};

export const repoSet: Command = {
  name: 'repo set',
  args: 'OWNER/NAME',
  summary: 'change some fields of a repository policy',
  options: POLICY_OPTIONS,
  async run(ctx) {
    const { owner, name } = parseRepoArg(ctx.p.positionals[0], 'repo set');
    ctx.noMorePositionals(1);
    const client = ctx.client();
    let base: Partial<RepoPolicy> = {};
    const needsBase =
      flag(ctx.p, 'github') || flag(ctx.p, 'no-github') || str(ctx.p, 'label') !== undefined || flag(ctx.p, 'write-back') || LADDER_FLAGS.some((f) => str(ctx.p, f) !== undefined);
    if (needsBase) {
      const all = await client.get<{ repos: RepoPolicy[] }>('/api/repos');
      base = all.repos.find((x) => x.repo === `${owner}/${name}`) ?? {};
    }
    const patch = policyFromFlags(ctx, base);
    if (!Object.keys(patch).length) throw new UsageError('nothing to change: give at least one of --budget --tiers --lease-ttl --max-attempts --cooldown --daily-quota --github --label --write-back --trust-ladder --promote-after --lookback --demote-after');
    const r = await client.patch<{ repo: RepoPolicy }>(repoPath(owner, name), patch);
    ctx.out.result(r, () => ['Updated:', ...describe(r.repo)]);
    return 0;
  },
};

export const repoDelete: Command = {
  name: 'repo delete',
  args: 'OWNER/NAME',
  summary: "take a repository's policy out of the pool (admin; refused while it has live tasks)",
  details: 'Cancel or finish its tasks first (`owp tasks --repo OWNER/NAME`); the deleted policy is printed so `owp repo add` can restore it.',
  async run(ctx) {
    const { owner, name } = parseRepoArg(ctx.p.positionals[0], 'repo delete');
    ctx.noMorePositionals(1);
    const r = await ctx.client().del<{ repo: RepoPolicy }>(repoPath(owner, name));
    ctx.out.result(r, () => ['Deleted:', ...describe(r.repo)]);
    return 0;
  },
};

export const repoList: Command = {
  name: 'repo list',
  summary: 'list repositories and their policies',
  async run(ctx) {
    ctx.noMorePositionals(0);
    const r = await ctx.client().get<{ repos: RepoPolicy[] }>('/api/repos');
    ctx.out.result(r, () =>
      r.repos.length
        ? table(
            ['REPO', 'BUDGET', 'TIERS', 'TTL', 'ATTEMPTS', 'COOLDOWN', 'QUOTA', 'FROZEN', 'GITHUB'],
            r.repos.map((x) => [
              x.repo,
              x.reviewBudget,
              x.allowedTiers.join(','),
              formatDuration(x.leaseTtlMs),
              x.maxAttempts,
              formatDuration(x.cooldownMs),
              x.dailyQuota,
              x.frozenAreas.join(',') || '-',
              x.github?.enabled ? x.github.label : 'off',
            ]),
          )
        : 'No repositories yet: add one with `owp repo add OWNER/NAME`.',
    );
    return 0;
  },
};

function areaCommand(action: 'freeze' | 'unfreeze'): Command {
  return {
    name: `area ${action}`,
    args: 'OWNER/NAME PATH',
    summary: action === 'freeze' ? 'freeze an area: no task touching it can be claimed' : 'lift an area freeze',
    async run(ctx) {
      const { owner, name } = parseRepoArg(ctx.p.positionals[0], `area ${action}`);
      const area = ctx.positional(1, 'PATH (an area such as docs/ or src/parser/)');
      ctx.noMorePositionals(2);
      const r = await ctx.client().post<{ repo: RepoPolicy }>(`${repoPath(owner, name)}/${action}`, { area });
      ctx.out.result(r, () => `${action === 'freeze' ? 'Froze' : 'Unfroze'} ${area} in ${r.repo.repo}. Frozen now: ${r.repo.frozenAreas.join(', ') || '-'}`);
      return 0;
    },
  };
}
export const areaFreeze = areaCommand('freeze');
export const areaUnfreeze = areaCommand('unfreeze');
