/**
 * GitHub issue -> OWP task mapping: how issue labels become task fields.
 *
 * Label conventions (prefix is case-insensitive, the value follows the colon):
 *   points:N    1..100                      default DEFAULTS.points (1)
 *   skill:X     several allowed, lower-cased default none
 *   tier:N      risk tier 0..3              default DEFAULTS.tier (0)
 *   area:PATH   relative path, e.g. docs/   default DEFAULTS.area ('' = no area lock)
 *   priority:N  integer -100..100           default DEFAULTS.priority (0)
 *
 * Invariants:
 * - Pure: no I/O, no clock, no Node or Obsidian imports (the plugin may bundle this).
 * - Never throws on bad labels: an invalid value (e.g. `points:abc`) falls back to the
 *   default and is reported in `problems` with the label and an actionable sentence.
 * - The produced TaskInput always passes TaskSchema for any issue with a number and a
 *   title string (title and body are trimmed to the model's limits, labels too).
 */
import { DEFAULTS, LIMITS, type RiskTier, type TaskInput } from './model.js';

export interface LabelProblem {
  label: string;
  message: string;
}

export interface LabelFields {
  points: number;
  skills: string[];
  tier: RiskTier;
  area: string;
  priority: number;
  problems: LabelProblem[];
}

/** The subset of a GitHub issue (REST `issues` answer) this mapping reads. */
export interface GithubIssueLike {
  number: number;
  title: string;
  body?: string | null;
  html_url?: string;
  labels?: (string | { name?: string | null })[];
  created_at?: string;
}

const SKILL_RE = /^[a-z0-9][a-z0-9+#._-]*$/;

export function labelNames(labels: GithubIssueLike['labels']): string[] {
  const out: string[] = [];
  for (const l of labels ?? []) {
    const name = typeof l === 'string' ? l : l?.name;
    if (typeof name === 'string' && name.length > 0) out.push(name);
  }
  return out;
}

function parseIntIn(value: string, min: number, max: number): number | undefined {
  if (!/^[+-]?\d+$/.test(value.trim())) return undefined;
  const n = Number(value.trim());
  return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
}

function validArea(a: string): boolean {
  return a.length <= LIMITS.areaLength && !a.startsWith('/') && !a.includes('..') && !a.includes('\\');
}

/** Map label names to task fields. Unknown labels are ignored (they stay in `labels`). */
export function mapIssueLabels(names: string[]): LabelFields {
  const problems: LabelProblem[] = [];
  const seen = new Set<string>();
  let points: number | undefined;
  let tier: RiskTier | undefined;
  let area: string | undefined;
  let priority: number | undefined;
  const skills = new Set<string>();

  const once = (key: string, label: string): boolean => {
    if (seen.has(key)) {
      problems.push({ label, message: `Label "${label}" repeats ${key}:, and only the first one is used; remove the extra label.` });
      return false;
    }
    seen.add(key);
    return true;
  };

  for (const label of names) {
    const m = /^([A-Za-z]+):(.*)$/.exec(label);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    const value = m[2]!.trim();
    switch (key) {
      case 'points': {
        if (!once(key, label)) break;
        const n = parseIntIn(value, 1, LIMITS.points);
        if (n === undefined) {
          problems.push({ label, message: `Label "${label}" is not a whole number of points from 1 to ${LIMITS.points}; using the default ${DEFAULTS.points}.` });
        } else points = n;
        break;
      }
      case 'tier': {
        if (!once(key, label)) break;
        const n = parseIntIn(value, 0, 3);
        if (n === undefined) {
          problems.push({ label, message: `Label "${label}" is not a risk tier 0, 1, 2 or 3; using the default ${DEFAULTS.tier}.` });
        } else tier = n as RiskTier;
        break;
      }
      case 'priority': {
        if (!once(key, label)) break;
        const n = parseIntIn(value, -100, 100);
        if (n === undefined) {
          problems.push({ label, message: `Label "${label}" is not a whole number from -100 to 100; using the default priority ${DEFAULTS.priority}.` });
        } else priority = n;
        break;
      }
      case 'area': {
        if (!once(key, label)) break;
        const a = value.replace(/^\.\//, '');
        if (!validArea(a)) {
          problems.push({ label, message: `Label "${label}" is not a relative path such as docs/ or src/parser/; the task gets no area.` });
        } else area = a;
        break;
      }
      case 'skill': {
        const s = value.toLowerCase();
        if (s.length === 0 || s.length > LIMITS.skillLength || !SKILL_RE.test(s)) {
          problems.push({ label, message: `Label "${label}" is not a skill name (lower case letters, digits and + # . _ -); it is ignored.` });
        } else if (skills.size >= LIMITS.skills && !skills.has(s)) {
          problems.push({ label, message: `Label "${label}" is over the limit of ${LIMITS.skills} skills; it is ignored.` });
        } else skills.add(s);
        break;
      }
      default:
        break;
    }
  }
  return {
    points: points ?? DEFAULTS.points,
    skills: [...skills].sort(),
    tier: tier ?? DEFAULTS.tier,
    area: area ?? DEFAULTS.area,
    priority: priority ?? DEFAULTS.priority,
    problems,
  };
}

/** The task id of an issue: `OWNER/NAME#NUMBER`. */
export function issueTaskId(repo: string, issueNumber: number): string {
  return `${repo}#${issueNumber}`;
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max - 1) + '…';
}

/**
 * Build the board task for an issue. `createdAt` is the time to use when the issue carries
 * no parsable `created_at`. Fields a maintainer owns on the board (held, cancelled) are
 * not set here; the importer merges them from the existing task.
 */
export function taskFromIssue(repo: string, issue: GithubIssueLike, createdAt: number): { task: TaskInput; problems: LabelProblem[] } {
  const names = labelNames(issue.labels);
  const fields = mapIssueLabels(names);
  const created = issue.created_at ? Date.parse(issue.created_at) : NaN;
  const title = (issue.title ?? '').trim() || `Issue #${issue.number}`;
  const url = issue.html_url && /^https?:\/\/\S+$/.test(issue.html_url) && issue.html_url.length <= LIMITS.urlLength ? issue.html_url : undefined;
  const task: TaskInput = {
    id: issueTaskId(repo, issue.number),
    repo,
    issueNumber: issue.number,
    ...(url ? { issueUrl: url } : {}),
    title: clip(title, LIMITS.titleLength),
    body: clip(issue.body ?? '', LIMITS.bodyLength),
    points: fields.points,
    skills: fields.skills,
    tier: fields.tier,
    area: fields.area,
    priority: fields.priority,
    labels: names.slice(0, LIMITS.labels).map((n) => clip(n, 100)),
    createdAt: Number.isFinite(created) && created >= 0 ? created : createdAt,
    source: 'github',
  };
  return { task, problems: fields.problems };
}
