/**
 * The Obsidian side of a session: notices, data.json, requestUrl. Kept out of main.ts so
 * main stays wiring only.
 */
import { Notice, requestUrl } from 'obsidian';
import type { OwpSettings } from '../settings/settings.js';
import { platform } from '../sync/platform.js';
import type { SessionDeps } from '../sync/session.js';
import type { NoteStore } from '../mirror/ports.js';
import type { ConnectionStatus, PoolClient } from '../sync/client.js';

/** HTTP to the relay with the plugin's token; never throws on an error status. */
export async function relayRequest(relayUrl: string, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await requestUrl({
    url: `${relayUrl}${path}`,
    method,
    headers: { Authorization: `Bearer ${token}` },
    ...(body === undefined ? {} : { contentType: 'application/json', body: JSON.stringify(body) }),
    throw: false,
  });
  let parsed: unknown;
  try {
    parsed = res.json as unknown;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed };
}

export function sessionDeps(input: {
  vaultId: string;
  settings: OwpSettings;
  connection?: { relayUrl: string; token: string };
  notes: NoteStore;
  client: () => PoolClient | undefined;
  save: () => Promise<void>;
  onStatus: (s: ConnectionStatus) => void;
  onDocsReplaced?: () => void;
}): SessionDeps {
  const { settings } = input;
  // Fixed for the session: a new tasks folder takes effect at the next (re)connect, never
  // while the mirror is running (typing a folder name would scatter notes otherwise).
  const tasksFolder = settings.tasksFolder;
  let progress: Notice | undefined;
  return {
    vaultId: input.vaultId,
    settings,
    ...(input.connection ? { connection: input.connection } : {}),
    notes: input.notes,
    host: {
      tasksFolder: () => tasksFolder,
      archiveAfterDays: () => settings.archiveAfterDays,
      now: () => platform().now(),
      canEditBoard: () => input.client()?.canEditBoard ?? false,
      notice: (m) => new Notice(m),
      progress: (done, total) => {
        const text = `OWP: bringing task notes up to date: ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')}`;
        progress ??= new Notice(text, 0);
        progress.setMessage(text);
        if (done >= total) {
          progress.hide();
          progress = undefined;
          new Notice(`OWP: ${total.toLocaleString('en-US')} task notes are up to date.`);
        }
      },
      pause: () => new Promise<void>((resolve) => window.setTimeout(resolve, 0)),
      loadIds: (kind) => settings[kind],
      saveIds: (kind, ids) => {
        settings[kind] = ids;
        void input.save();
      },
    },
    fetchMe: (relayUrl, token) => relayRequest(relayUrl, token, 'GET', '/api/me'),
    saveIdentity: async (identity) => {
      settings.identity = identity;
      await input.save();
    },
    saveNotesFolder: async (folder) => {
      settings.notesFolder = folder;
      await input.save();
    },
    notice: (m) => new Notice(m),
    onStatus: input.onStatus,
    ...(input.onDocsReplaced ? { onDocsReplaced: input.onDocsReplaced } : {}),
  };
}
