/**
 * `--tool NAME` presets: the common AI coding CLIs, each a documented non-interactive
 * command line, kept as data in one table (docs/CONTRIBUTING-WITH-OWP.md prints the same).
 *
 * Invariants:
 * - Each command runs in the task's worktree through the shell, reads the brief from
 *   $OWP_TASK_FILE (always quoted) and may edit files; committing, pushing and opening the
 *   pull request are done by `owp worker run` afterwards.
 * - `version` is the tool version the command line was written for; flags move between
 *   releases, so `owp worker tools` shows it and --exec overrides any preset.
 * - A preset whose program is not on PATH fails before anything is claimed.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface ToolPreset {
  name: string;
  title: string;
  program: string;
  command: string;
  version: string;
}

const BRIEF = '"$(cat "$OWP_TASK_FILE")"';

export const TOOL_PRESETS: readonly ToolPreset[] = [
  { name: 'claude', title: 'Claude Code', program: 'claude', command: `claude -p ${BRIEF} --permission-mode acceptEdits`, version: '2.0' },
  { name: 'aider', title: 'Aider', program: 'aider', command: 'aider --yes-always --no-check-update --message-file "$OWP_TASK_FILE"', version: '0.86' },
  { name: 'codex', title: 'Codex CLI', program: 'codex', command: `codex exec --full-auto ${BRIEF}`, version: '0.46' },
  { name: 'gemini', title: 'Gemini CLI', program: 'gemini', command: `gemini --yolo -p ${BRIEF}`, version: '0.9' },
  { name: 'copilot', title: 'GitHub Copilot CLI', program: 'copilot', command: `copilot --allow-all-tools -p ${BRIEF}`, version: '0.0.339' },
  { name: 'cursor', title: "Cursor's agent", program: 'cursor-agent', command: `cursor-agent --force --output-format text -p ${BRIEF}`, version: '2025.10' },
];

export function findPreset(name: string): ToolPreset | undefined {
  return TOOL_PRESETS.find((t) => t.name === name.toLowerCase());
}

/** The full path of `program` on PATH, or undefined. */
export function onPath(program: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, program);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}
