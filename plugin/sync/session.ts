/**
 * One connected session: who we are, the documents, the mirror and the outcome watcher.
 * The plugin opens one on load and a new one when the relay or token changes.
 *
 * Invariants:
 * - The identity (role, worker id) comes from the relay (`GET /api/me`); the last answer is
 *   remembered per relay and token so the vault opens offline with the cached documents.
 * - Workers publish their profile to their inbox and their leases as awareness heartbeats.
 * - `close()` detaches everything it attached.
 * - When the relay re-created the board or the ledger (a rotation, docs/ROTATION.md) the
 *   client swaps in a fresh copy; the mirror, the outcome watcher and the heartbeat observer
 *   are made again on it (no notice: nothing went wrong) and `onDocsReplaced` re-attaches views.
 * - A changed tasks folder moves no note: existing notes stay where they are (found by
 *   owp_id), new notes go to the new folder, and a notice says so once.
 */
import { cacheIdentity, tokenFingerprint, type CachedIdentity, type Identity, type OwpSettings } from '../settings/settings.js';
import { fatalMessage, PoolClient, type ConnectionStatus } from './client.js';
import { Mirror } from '../mirror/mirror.js';
import type { MirrorHost, NoteStore } from '../mirror/ports.js';
import { OutcomeWatcher } from '../commands/intents.js';

export interface MeAnswer {
  role: Identity['role'];
  workerId?: string;
  name?: string;
}

export interface SessionDeps {
  vaultId: string;
  settings: OwpSettings;
  /** The relay and token to use instead of the settings' (this vault hosts the pool: plugin/host/). */
  connection?: { relayUrl: string; token: string };
  notes: NoteStore;
  host: MirrorHost;
  /** GET /api/me; throws when the relay cannot be reached, returns status and body otherwise. */
  fetchMe(relayUrl: string, token: string): Promise<{ status: number; body: unknown }>;
  saveIdentity(identity: CachedIdentity): Promise<void>;
  /** Remember the tasks folder this vault's notes were made in (`notesFolder`). */
  saveNotesFolder(folder: string): Promise<void>;
  notice(msg: string): void;
  onStatus(status: ConnectionStatus): void;
  /** The client's documents were replaced by fresh copies: views re-attach to them. */
  onDocsReplaced?: () => void;
}

export class Session {
  private cleanups: (() => void)[] = [];
  /** Detaches the mirror, watcher and heartbeat observer of the current documents. */
  private detachDocs: () => void = () => undefined;
  mirror!: Mirror;
  watcher!: OutcomeWatcher;

  constructor(
    readonly identity: Identity,
    readonly client: PoolClient,
    private readonly deps: SessionDeps,
  ) {}

  /** Make the mirror, the outcome watcher and the heartbeat observer on the client's current documents. */
  async attachDocs(): Promise<void> {
    this.detachDocs();
    const { client, deps } = this;
    const mirror = (this.mirror = new Mirror(client.board, client.ledger, deps.notes, deps.host));
    const watcher = (this.watcher = new OutcomeWatcher(client, (m) => deps.notice(m)));
    const beat = () => {
      const leases: Record<string, number> = {};
      for (const rt of client.myLeases()) leases[rt.taskId] = rt.lease!.fencingToken;
      client.setLeases(leases);
    };
    const tasks = client.ledger.getMap('tasks');
    tasks.observe(beat);
    this.detachDocs = () => {
      tasks.unobserve(beat);
      mirror.stop();
      watcher.stop();
    };
    beat();
    await mirror.start();
  }

  /** Publish the contributor profile to the worker's inbox (only changed fields are written). */
  publishProfile(s: OwpSettings): void {
    if (!this.client.inbox) return;
    this.client.writeProfile({
      name: s.name || this.identity.name || this.identity.workerId!,
      skills: s.skills,
      capacity: s.capacity,
      maxConcurrent: s.maxConcurrent,
      available: true,
    });
  }

  add(cleanup: () => void): void {
    this.cleanups.push(cleanup);
  }

  async close(): Promise<void> {
    for (const c of this.cleanups.splice(0)) c();
    this.detachDocs();
    await this.client.destroy();
  }
}

async function resolveIdentity(deps: SessionDeps): Promise<Identity | undefined> {
  const { relayUrl, token } = deps.connection ?? deps.settings;
  if (!token) {
    deps.notice('OWP: no token yet. Add the token from your pool admin in the plugin settings.');
    return undefined;
  }
  try {
    const res = await deps.fetchMe(relayUrl, token);
    if (res.status === 200) {
      const me = res.body as MeAnswer;
      const identity: Identity = { relayUrl, token, role: me.role, ...(me.workerId ? { workerId: me.workerId } : {}), ...(me.name ? { name: me.name } : {}) };
      await deps.saveIdentity(cacheIdentity(identity));
      return identity;
    }
    const err = (res.body as { error?: { code?: string; message?: string } } | undefined)?.error;
    deps.notice(`OWP: the relay refused the token (${err?.code ?? res.status}): ${err?.message ?? 'check the token in the settings.'}`);
    return undefined;
  } catch {
    const cached = deps.settings.identity;
    if (cached && cached.relayUrl === relayUrl && cached.tokenHash === tokenFingerprint(token)) {
      deps.notice('OWP: the relay cannot be reached; working offline from the local copy.');
      const { tokenHash: _h, ...rest } = cached;
      return { ...rest, token };
    }
    deps.notice(`OWP: cannot reach the relay at ${relayUrl}. Check that it runs and the address is right, then run "Reconnect".`);
    return undefined;
  }
}

export async function openSession(deps: SessionDeps): Promise<Session | undefined> {
  const identity = await resolveIdentity(deps);
  if (!identity) return undefined;
  let session: Session | undefined;
  const client = new PoolClient({
    relayUrl: identity.relayUrl,
    token: identity.token,
    vaultId: deps.vaultId,
    role: identity.role,
    ...(identity.workerId ? { workerId: identity.workerId } : {}),
    onStatus: (s) => deps.onStatus(s),
    onFatal: (code, reason) => deps.notice(fatalMessage(code, reason)),
    onCacheError: (docs, error) => deps.notice(`OWP: the local copy (${docs}) could not be opened: ${error}. The plugin works while connected, but not offline.`),
    onReset: () => {
      if (!session) return;
      void session.attachDocs().then(() => deps.onDocsReplaced?.());
    },
  });
  await client.start();
  session = new Session(identity, client, deps);
  session.publishProfile(deps.settings);
  await session.attachDocs();
  await noteFolderChange(deps, session.mirror);
  return session;
}

async function noteFolderChange(deps: SessionDeps, mirror: Mirror): Promise<void> {
  const now = deps.settings.tasksFolder;
  const before = deps.settings.notesFolder;
  if (before === now) return;
  if (before !== undefined) {
    const stay = mirror.notesOutside(now).filter((p) => p.startsWith(before + '/'));
    if (stay.length > 0) {
      deps.notice(
        `OWP: the tasks folder is now "${now}". The ${stay.length} existing task note${stay.length > 1 ? 's stay' : ' stays'} in "${before}" and keep${stay.length > 1 ? '' : 's'} syncing; new task notes go to "${now}". Move them yourself if you like: the plugin finds them by their task property.`,
      );
    }
  }
  await deps.saveNotesFolder(now);
}
