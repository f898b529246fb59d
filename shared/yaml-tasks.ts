/**
 * YAML task files: parse and validate a file of tasks for one repo into board task inputs.
 *
 *   repo: owner/name
 *   tasks:
 *     - id: fix-typo            # becomes owner/name:fix-typo
 *       title: Fix the typo in the README
 *       points: 1               # default DEFAULTS.points
 *       skills: [docs]          # default []
 *       tier: 0                 # default DEFAULTS.tier
 *       area: docs/             # default '' (no area lock)
 *       priority: 0             # default DEFAULTS.priority
 *       body: |                 # default ''
 *         What to do and how we will accept it.
 *       labels: [good-first]    # default []
 *
 * Invariants:
 * - Pure: no Node, no I/O, no clock. The same text always gives the same result.
 * - Nothing is ever evaluated: the `yaml` package's core schema only, no custom tags, a
 *   small alias budget; unknown tags are problems, not code.
 * - Every problem names the file, the 1-based line and the field (`file:line: field: message`).
 * - All-or-nothing: when `problems` is not empty, `tasks` is empty, so a caller that imports
 *   only problem-free results never imports half a file.
 * - Unknown keys and duplicate task ids are problems (typos are caught, never ignored).
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode, type YAMLMap } from 'yaml';
import { TaskSchema, type TaskInput } from './model.js';
import { OwpError } from './errors.js';
import { closestName } from './did-you-mean.js';

/** A task as a YAML file describes it: everything but createdAt, which the relay stamps. */
export type YamlTask = Omit<TaskInput, 'createdAt'> & { source: 'yaml' };

export interface YamlTaskProblem {
  file: string;
  /** 1-based line of the offending node (the closest one we can point at). */
  line: number;
  field: string;
  message: string;
}

export interface YamlTaskFile {
  file: string;
  repo: string;
  tasks: YamlTask[];
  problems: YamlTaskProblem[];
}

export const YAML_FILE_KEYS = ['repo', 'tasks'] as const;
export const YAML_TASK_KEYS = ['id', 'title', 'points', 'skills', 'tier', 'area', 'priority', 'body', 'labels'] as const;

/** A local id: what goes after `owner/name:`. Kept file-name and URL friendly on purpose. */
const LOCAL_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const REPO = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

const YamlTaskSchema = TaskSchema.omit({ createdAt: true, held: true, cancelled: true, cancelReason: true });

export function formatYamlProblem(p: YamlTaskProblem): string {
  return `${p.file}:${p.line}: ${p.field}: ${p.message}`;
}

/** Parse one YAML task file. Never throws; see `problems`. */
export function parseYamlTasks(text: string, file = '<input>'): YamlTaskFile {
  const lc = new LineCounter();
  const problems: YamlTaskProblem[] = [];
  const lineOf = (node: unknown): number => {
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
    return range ? lc.linePos(range[0]).line : 1;
  };
  const add = (node: unknown, field: string, message: string, line?: number): void => {
    problems.push({ file, line: line ?? lineOf(node), field, message });
  };
  const fail = (): YamlTaskFile => ({ file, repo: '', tasks: [], problems });

  const doc = parseDocument(text, {
    lineCounter: lc,
    schema: 'core',
    customTags: [],
    uniqueKeys: true,
    prettyErrors: false,
    keepSourceTokens: false,
  });
  for (const e of doc.errors) {
    const line = e.linePos?.[0]?.line ?? (e.pos ? lc.linePos(e.pos[0]).line : 1);
    add(null, '(yaml)', e.message.split('\n')[0]!, line);
  }
  for (const w of doc.warnings) {
    // Unknown tags (e.g. !!js/function) arrive as warnings: refuse them, never resolve them.
    const line = w.linePos?.[0]?.line ?? (w.pos ? lc.linePos(w.pos[0]).line : 1);
    add(null, '(yaml)', w.message.split('\n')[0]!, line);
  }
  if (problems.length) return fail();

  const root = doc.contents;
  if (!isMap(root)) {
    add(root, '(root)', 'the file must be a mapping with `repo:` and `tasks:`');
    return fail();
  }
  checkKeys(root, YAML_FILE_KEYS, '', add);

  const repoNode = root.get('repo', true);
  let repo = '';
  if (repoNode === undefined) add(root, 'repo', 'is missing: add `repo: owner/name` at the top');
  else if (!isScalar(repoNode) || typeof repoNode.value !== 'string' || !REPO.test(repoNode.value))
    add(repoNode, 'repo', 'must look like owner/name');
  else repo = repoNode.value;

  const tasksNode = root.get('tasks', true);
  const tasks: YamlTask[] = [];
  if (tasksNode === undefined) add(root, 'tasks', 'is missing: add a `tasks:` list');
  else if (!isSeq(tasksNode)) add(tasksNode, 'tasks', 'must be a list of tasks (each item starts with `- id: ...`)');
  else {
    const seen = new Map<string, number>();
    tasksNode.items.forEach((item, i) => {
      const where = `tasks[${i}]`;
      if (!isMap(item)) {
        add(item, where, 'must be a mapping with at least id and title');
        return;
      }
      checkKeys(item, YAML_TASK_KEYS, `${where}.`, add);
      const idNode = item.get('id', true);
      let localId = '';
      if (idNode === undefined) add(item, `${where}.id`, 'is missing: every task needs an id unique in this file');
      else if (!isScalar(idNode) || (typeof idNode.value !== 'string' && typeof idNode.value !== 'number'))
        add(idNode, `${where}.id`, 'must be a short text such as fix-readme-typo');
      else {
        localId = String(idNode.value);
        if (!LOCAL_ID.test(localId)) {
          add(idNode, `${where}.id`, 'must be letters, digits and _ . - (starting with a letter or digit)');
          localId = '';
        } else if (seen.has(localId)) {
          add(idNode, `${where}.id`, `duplicate id "${localId}" (first used on line ${seen.get(localId)})`);
          localId = '';
        } else seen.set(localId, lineOf(idNode));
      }
      const raw = item.toJS(doc, { maxAliasCount: 50 }) as Record<string, unknown>;
      const input: Record<string, unknown> = {};
      for (const k of YAML_TASK_KEYS) if (k !== 'id' && raw[k] !== undefined && raw[k] !== null) input[k] = raw[k];
      const r = YamlTaskSchema.safeParse({ ...input, id: `${repo || 'x/x'}:${localId || 'x'}`, repo: repo || 'x/x', source: 'yaml' });
      if (!r.success) {
        // Each field's schema words its own sentence (shared/model.ts); a value that misses
        // several checks of one field (0.5 points: not whole, under 1) is told once.
        const told = new Set<string>();
        for (const issue of r.error.issues) {
          const top = String(issue.path[0] ?? '');
          const node = findNode(item, issue.path.map(String)) ?? item;
          const field = `${where}.${issue.path.map(String).join('.') || top}`;
          if (told.has(`${field}\n${issue.message}`)) continue;
          told.add(`${field}\n${issue.message}`);
          add(node, field, issue.message);
        }
        return;
      }
      if (repo && localId) tasks.push({ ...(r.data as YamlTask), id: `${repo}:${localId}`, repo, source: 'yaml' });
    });
  }
  if (problems.length) return fail();
  return { file, repo, tasks, problems };
}

/** Parse or throw OwpError('invalid-yaml') whose message lists every problem, one per line. */
export function parseYamlTasksOrThrow(text: string, file = '<input>'): YamlTaskFile {
  const r = parseYamlTasks(text, file);
  if (r.problems.length) {
    const first = r.problems[0]!;
    throw new OwpError('invalid-yaml', r.problems.map(formatYamlProblem).join('\n'), first.field);
  }
  return r;
}

function checkKeys(
  map: YAMLMap,
  allowed: readonly string[],
  prefix: string,
  add: (node: unknown, field: string, message: string) => void,
): void {
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    if (!allowed.includes(key)) {
      const hint = closestName(key, allowed);
      add(pair.key, `${prefix}${key}`, `unknown key${hint ? ` (did you mean "${hint}"?)` : ''}; allowed: ${allowed.join(', ')}`);
    }
  }
}

function findNode(map: YAMLMap, path: string[]): YamlNode | undefined {
  let node: unknown = map;
  let found: YamlNode | undefined;
  for (const seg of path) {
    if (isMap(node)) node = node.get(seg, true);
    else if (isSeq(node)) node = node.items[Number(seg)];
    else break;
    if (node && typeof node === 'object' && 'range' in node) found = node as YamlNode;
    else break;
  }
  return found;
}
