/**
 * The status bar line: connection state, the relay this vault hosts (if any), a large note
 * sync's progress, intents waiting for an outcome, and the time left on the active lease.
 * Pure: the plugin calls it on every change and once a second.
 */
import type { TaskRuntime } from '../../shared/model.js';
import { formatCountdown } from '../../shared/dashboard/format.js';
import type { ConnectionStatus } from '../sync/client.js';

const LABEL: Record<ConnectionStatus, string> = {
  connecting: 'connecting',
  syncing: 'syncing',
  connected: 'connected',
  offline: 'offline',
  stopped: 'stopped',
};

export function statusText(input: { status: ConnectionStatus; pending: number; leases: TaskRuntime[]; now: number; hosting?: string; notes?: { done: number; total: number } }): string {
  const parts = [`OWP: ${LABEL[input.status]}`];
  if (input.hosting) parts.push(`hosting ${input.hosting.replace(/^https?:\/\//, '')}`);
  if (input.notes) parts.push(`notes ${input.notes.done}/${input.notes.total}`);
  if (input.pending > 0) parts.push(`${input.pending} pending`);
  const lease = input.leases[0]?.lease;
  if (lease) {
    const more = input.leases.length > 1 ? ` (+${input.leases.length - 1})` : '';
    parts.push(`${lease.taskId} ${formatCountdown(lease.expiresAt - input.now)}${more}`);
  }
  return parts.join(' · ');
}
