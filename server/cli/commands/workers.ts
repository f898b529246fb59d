/** `owp worker register` and `owp workers`. */
import { UsageError, parseIntArg, parseList, str } from '../args.js';
import type { Command, Context } from '../command.js';
import { table, when } from '../output.js';
import { WorkerProfileSchema, type WorkerProfile, type WorkerRuntime } from '../../../shared/model.js';

const SKILL = WorkerProfileSchema.shape.skills.element;

export interface RegisterFlags {
  name?: string;
  skills?: string[];
  capacity?: number;
  maxConcurrent?: number;
  maxOpenPrs?: number;
}

export function registerFlags(ctx: Context): RegisterFlags {
  const f: RegisterFlags = {};
  if (str(ctx.p, 'name') !== undefined) f.name = str(ctx.p, 'name');
  if (str(ctx.p, 'skills') !== undefined) f.skills = parseSkills(str(ctx.p, 'skills')!);
  if (str(ctx.p, 'capacity') !== undefined) f.capacity = parseIntArg(str(ctx.p, 'capacity')!, '--capacity', 1, 1000);
  if (str(ctx.p, 'max-concurrent') !== undefined) f.maxConcurrent = parseIntArg(str(ctx.p, 'max-concurrent')!, '--max-concurrent', 1, 100);
  if (str(ctx.p, 'max-open-prs') !== undefined) f.maxOpenPrs = parseIntArg(str(ctx.p, 'max-open-prs')!, '--max-open-prs', 1, 100);
  return f;
}

/**
 * `--skills`: comma separated, lower-cased for you (skills are compared as lower case, as
 * GitHub `skill:X` labels are); anything else that is not a skill is bad usage.
 */
export function parseSkills(text: string): string[] {
  const skills = [...new Set(parseList(text).map((s) => s.toLowerCase()))];
  for (const s of skills)
    if (!SKILL.safeParse(s).success) throw new UsageError(`--skills: "${s}" is not a skill name: use letters, digits and + # . _ - (e.g. --skills typescript,c++,docs)`);
  return skills;
}

export const REGISTER_OPTIONS = {
  name: { type: 'string', arg: 'TEXT', help: 'display name (default: the worker id)' },
  skills: { type: 'string', arg: 'LIST', help: 'comma separated skills, e.g. typescript,docs' },
  capacity: { type: 'string', arg: 'N', help: 'points you can hold at once (default 3)' },
  'max-concurrent': { type: 'string', arg: 'N', help: 'tasks you work on at once (default 1; a PR awaiting review does not count)' },
  'max-open-prs': { type: 'string', arg: 'N', help: 'PRs awaiting review plus tasks in progress at most (default 3)' },
} as const;

export async function register(ctx: Context, f: RegisterFlags): Promise<WorkerProfile> {
  if (!f.skills) throw new UsageError('--skills is required, e.g. --skills typescript,docs');
  const body = {
    ...(f.name ? { name: f.name } : {}),
    skills: f.skills,
    capacity: f.capacity ?? 3,
    maxConcurrent: f.maxConcurrent ?? 1,
    ...(f.maxOpenPrs !== undefined ? { maxOpenPrs: f.maxOpenPrs } : {}),
  };
  const r = await ctx.client().post<{ worker: WorkerProfile }>('/api/workers/register', body);
  return r.worker;
}

export const workerRegister: Command = {
  name: 'worker register',
  summary: 'declare your skills and capacity (worker id comes from the token)',
  options: { ...REGISTER_OPTIONS },
  async run(ctx) {
    ctx.noMorePositionals(0);
    const w = await register(ctx, registerFlags(ctx));
    ctx.out.result({ worker: w }, () => `Registered worker ${w.id} (${w.name}): skills ${w.skills.join(',') || '-'}, capacity ${w.capacity} points, up to ${w.maxConcurrent} lease(s).`);
    return 0;
  },
};

interface WorkerRow {
  profile?: WorkerProfile;
  runtime?: WorkerRuntime;
  trust?: number;
  /** Per repo where the level may differ from `trust` (override, trust ladder). */
  trustLevels?: Record<string, { tier: number }>;
  online?: boolean;
}

/** `1`, or `1 (acme/app 2)` when a repo's override or trust ladder gives another level. */
function trustText(w: WorkerRow): string {
  const other = Object.entries(w.trustLevels ?? {}).filter(([, l]) => l.tier !== w.trust);
  return `${w.trust ?? ''}${other.length ? ` (${other.map(([r, l]) => `${r} ${l.tier}`).join(', ')})` : ''}`;
}

export const workers: Command = {
  name: 'workers',
  summary: 'list workers: skills, capacity in use, leases, credit, trust',
  async run(ctx) {
    ctx.noMorePositionals(0);
    const client = ctx.client();
    const r = await client.get<{ workers: WorkerRow[] }>('/api/workers');
    // A lease whose PR awaits review does not count against --max-concurrent: LEASES shows the
    // tasks in progress against it, PRS the pull requests awaiting review.
    const held = ctx.out.json ? [] : (await client.get<{ tasks: { runtime?: { lease?: { workerId: string } } | null }[] }>('/api/tasks?state=leased')).tasks;
    const working = (id: string | undefined) => held.filter((t) => t.runtime?.lease?.workerId === id).length;
    ctx.out.result(r, () =>
      r.workers.length
        ? table(
            ['WORKER', 'NAME', 'SKILLS', 'IN USE', 'LEASES', 'PRS', 'CREDIT', 'DONE', 'TRUST', 'ONLINE', 'LAST CREDIT'],
            r.workers.map((w) => [
              w.profile?.id ?? w.runtime?.workerId,
              w.profile?.name,
              w.profile?.skills.join(',') || '-',
              `${w.runtime?.pointsInUse ?? 0}/${w.profile?.capacity ?? '?'}`,
              `${working(w.runtime?.workerId)}/${w.profile?.maxConcurrent ?? '?'}`,
              (w.runtime?.activeLeases.length ?? 0) - working(w.runtime?.workerId),
              w.runtime?.credit ?? 0,
              w.runtime?.completed ?? 0,
              trustText(w),
              w.online ? 'yes' : 'no',
              when(w.runtime?.lastCreditAt),
            ]),
          )
        : 'No workers yet.',
    );
    return 0;
  },
};
