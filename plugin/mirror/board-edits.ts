/**
 * Small shared pieces of the mirror: the transaction origin of the plugin's board writes,
 * and the stable suffix for colliding note names.
 */
import { ORIGIN } from '../../shared/protocol.js';

export const PLUGIN_ORIGIN = ORIGIN.plugin;

/** FNV-1a, base 36: a short stable tag for a task id (suffix of a colliding note name). */
export function shortHash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(36);
}
