/**
 * `owp import yaml FILE...`: validate every file locally, then upsert their tasks.
 *
 * Invariant: if any file has any problem, nothing is sent (exit 1, code invalid-yaml, each
 * problem as `file:line: field: message`). Re-importing an unchanged file changes nothing
 * (the relay reports the tasks as unchanged).
 */
import { readFileSync } from 'node:fs';
import { RefusedError, UsageError, flag } from '../args.js';
import type { Command } from '../command.js';
import { formatYamlProblem, parseYamlTasks, type YamlTask, type YamlTaskProblem } from '../../../shared/yaml-tasks.js';

/** Tasks per request: well under the relay's 1 MiB body limit even with long bodies. */
const CHUNK = 100;

export const importYaml: Command = {
  name: 'import yaml',
  args: 'FILE...',
  summary: 'import tasks from YAML files (all or nothing; idempotent)',
  options: {
    'create-repo': { type: 'boolean', help: 'create a repo that has no policy yet with the default policy (else such an import is refused)' },
  },
  details: [
    'File format:',
    '  repo: owner/name',
    '  tasks:',
    '    - id: fix-readme          # task id becomes owner/name:fix-readme',
    '      title: Fix the README   # required',
    '      points: 1  skills: []  tier: 0  area: ""  priority: 0  body: ""  labels: []   (defaults)',
    'Unknown keys and duplicate ids are errors. Any error in any file imports nothing (exit 1).',
    'A repo with no policy (a typo in repo:?) is refused unless --create-repo: add it with `owp repo add OWNER/NAME`.',
  ].join('\n'),
  async run(ctx) {
    const files = ctx.p.positionals;
    if (!files.length) throw new UsageError('give at least one YAML FILE');
    const problems: YamlTaskProblem[] = [];
    const tasks: YamlTask[] = [];
    const seen = new Map<string, string>();
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        const why = code === 'ENOENT' ? 'no such file; check the path' : code === 'EISDIR' ? 'it is a folder; give the YAML file inside it' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
        problems.push({ file, line: 0, field: '(file)', message: `cannot read: ${code ?? 'error'} (${why})` });
        continue;
      }
      const r = parseYamlTasks(text, file);
      problems.push(...r.problems);
      for (const t of r.tasks) {
        const other = seen.get(t.id);
        if (other) problems.push({ file, line: 0, field: 'id', message: `task ${t.id} is also defined in ${other}` });
        seen.set(t.id, file);
        tasks.push(t);
      }
    }
    if (problems.length) {
      const lines = problems.map(formatYamlProblem);
      throw new RefusedError('invalid-yaml', `nothing imported; fix these and run again:\n${lines.join('\n')}`, 400, { problems });
    }
    const client = ctx.client();
    const total = { added: [] as string[], updated: [] as string[], unchanged: [] as string[], createdRepos: [] as string[] };
    const createRepo = flag(ctx.p, 'create-repo');
    if (!createRepo) {
      // Checked before the first chunk is sent, so a refused import imports nothing at all.
      const known = new Set((await client.get<{ repos: { repo: string }[] }>('/api/repos')).repos.map((r) => r.repo));
      const missing = [...new Set(tasks.map((t) => t.repo))].filter((r) => !known.has(r)).sort();
      if (missing.length)
        throw new RefusedError(
          'unknown-repo',
          `nothing imported: no policy for ${missing.join(', ')}; if repo: is a typo fix it, else add the repo first (\`owp repo add ${missing[0]}\`) or import with --create-repo to create it with the default policy`,
          404,
        );
    }
    const bar = ctx.out.progress(tasks.length, 'importing');
    for (let i = 0; i < tasks.length; i += CHUNK) {
      const r = await client.post<Partial<typeof total>>('/api/tasks', { tasks: tasks.slice(i, i + CHUNK), createRepo });
      total.createdRepos.push(...(r.createdRepos ?? []));
      total.added.push(...(r.added ?? []));
      total.updated.push(...(r.updated ?? []));
      total.unchanged.push(...(r.unchanged ?? []));
      bar.tick(Math.min(tasks.length, i + CHUNK));
    }
    bar.end();
    ctx.out.result({ files, ...total }, () => [
      ...total.createdRepos.map((repo) => `Created ${repo} with the default policy (see it with \`owp repo list\`).`),
      `Imported ${tasks.length} task(s) from ${files.length} file(s): ${total.added.length} added, ${total.updated.length} updated, ${total.unchanged.length} unchanged.`,
      ...total.added.map((id) => `  + ${id}`),
      ...total.updated.map((id) => `  ~ ${id}`),
    ]);
    return 0;
  },
};
