/**
 * The mirror's writes to the board: a maintainer's note edits, validated before they are sent.
 *
 * Invariants:
 * - Only descriptive fields (EDITABLE_KEYS) and the brief are ever written, in one
 *   transaction with origin PLUGIN_ORIGIN, and only when the whole task still validates
 *   (TaskSchema); otherwise nothing is written and the notice says which field is wrong.
 */
import type * as Y from 'yjs';
import { TaskSchema, type Task } from '../../shared/model.js';
import { ORIGIN } from '../../shared/protocol.js';
import type { EDITABLE_KEYS, TaskNote } from '../../shared/notes/task-note.js';

export const PLUGIN_ORIGIN = ORIGIN.plugin;

const FIELD_OF: Record<(typeof EDITABLE_KEYS)[number], keyof Task> = {
  owp_title: 'title',
  owp_points: 'points',
  owp_skills: 'skills',
  owp_tier: 'tier',
  owp_area: 'area',
  owp_priority: 'priority',
};

/** Push a maintainer's note edits to the board. Returns false (and tells why) when invalid. */
export function pushNoteEdits(
  board: Y.Doc,
  task: Task,
  note: TaskNote,
  keys: (typeof EDITABLE_KEYS)[number][],
  brief: boolean,
  path: string,
  notice: (m: string) => void,
): boolean {
  const patch: Record<string, unknown> = {};
  for (const k of keys) patch[FIELD_OF[k]] = note.owned[k];
  if (brief) patch.body = note.brief;
  const r = TaskSchema.safeParse({ ...task, ...patch });
  if (!r.success) {
    const issue = r.error.issues[0];
    notice(`OWP: "${path}" was not sent: ${issue.path.join('.')} ${issue.message}. The note is put back.`);
    return false;
  }
  const map = board.getMap('tasks').get(task.id) as Y.Map<unknown>;
  board.transact(() => {
    for (const [field, value] of Object.entries(patch)) map.set(field, (r.data as Record<string, unknown>)[field] ?? value);
  }, PLUGIN_ORIGIN);
  return true;
}

/** FNV-1a, base 36: a short stable tag for a task id (suffix of a colliding note name). */
export function shortHash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(36);
}
