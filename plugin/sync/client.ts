/**
 * The plugin's connection to the relay: the board, ledger and (for workers) inbox Yjs
 * documents, each with a local cache and a y-websocket provider.
 *
 * Invariants:
 * - The local cache is named per vault and per relay (`owp:<vaultId>:<relayUrl>:<doc>`):
 *   Obsidian's IndexedDB is shared by every vault, so a shorter name would mix boards.
 * - Intents are only ever appended to the inbox (never edited); offline they wait in the
 *   cached inbox and reach the relay when the provider reconnects.
 * - A close code 44xx stops reconnecting for good (until `reconnect()`); the reason is
 *   reported once through `onFatal`. Except 4429 (too many connections or refused tokens
 *   from this address): it is temporary, so the client pauses and retries later, with a
 *   delay that doubles up to a minute and resets once a document syncs.
 * - The plugin never writes the ledger; the board only for maintainers and admins.
 * - `CLOSE.docReset` (the relay re-created a document, docs/ROTATION.md) is no error: that
 *   document's copy and cache are dropped and a fresh one synced, under a new Y.Doc
 *   (`board` / `ledger` / `inbox` then return it; `onReset` tells the holders to re-point).
 *   Board edits the relay never had are carried over into the fresh copy once it synced.
 */
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import type { Intent, Outcome, TaskRuntime, WorkerProfile } from '../../shared/model.js';
import { reapplyEdits, retiredOf, unsyncedEdits } from '../../shared/doc-rotation.js';
import { BOARD_DOC, CLOSE, inboxDoc, isRefusalCloseCode, LEDGER_DOC, ORIGIN, PROTOCOL_VERSION, RETRY_LATER_CLOSE_CODES, type Role } from '../../shared/protocol.js';
import { openCache, platform, type DocCache } from './platform.js';
import { yjsServerUrl } from '../settings/settings.js';

export type ConnectionStatus = 'connecting' | 'syncing' | 'connected' | 'offline' | 'stopped';
export type { Role };

export interface ClientOptions {
  relayUrl: string;
  token: string;
  vaultId: string;
  role: Role;
  workerId?: string;
  onStatus?: (status: ConnectionStatus) => void;
  onFatal?: (code: number, reason: string) => void;
  /** Some local caches could not be opened (named, comma separated); reported once per start. */
  onCacheError?: (docs: string, error: string) => void;
  /** A document was re-created by the relay and replaced here by a fresh copy: re-read it. */
  onReset?: (docName: string) => void;
}

interface Slot {
  name: string;
  doc: Y.Doc;
  provider?: WebsocketProvider;
  cache?: DocCache;
}

export const CLOSE_REASONS: Record<number, string> = {
  [CLOSE.malformed]: 'the relay could not decode a message from this client.',
  [CLOSE.unauthorized]: 'the relay does not accept this token. Check the token in the plugin settings.',
  [CLOSE.forbidden]: 'this token may not write that document.',
  [CLOSE.unknownDoc]: 'the relay does not know that document.',
  [CLOSE.revoked]: 'this token was revoked. Ask the pool admin for a new one.',
  [CLOSE.tooLarge]: 'a message was too large for the relay.',
  [CLOSE.tooMany]: 'the relay is refusing connections from here for a while (too many connections or refused tokens).',
};

/** Close codes that mean "not now" rather than "never": retried after a pause. */
export const RETRY_LATER_CODES: ReadonlySet<number> = new Set(RETRY_LATER_CLOSE_CODES);
export const RETRY_FIRST_MS = 5_000;
export const RETRY_MAX_MS = 60_000;

/** The notice after a 44xx close: what the code means, what the relay said, what to do. */
export function fatalMessage(code: number, reason: string): string {
  const known = CLOSE_REASONS[code] ?? 'the relay refused the connection.';
  const said = reason.trim() ? ` The relay said: "${reason.trim()}".` : '';
  return `OWP: stopped connecting to the relay: ${known} (close code ${code}).${said} Fix the settings and run "Reconnect".`;
}

export function cacheName(vaultId: string, relayUrl: string, doc: string): string {
  return `owp:${vaultId}:${relayUrl}:${doc}`;
}

export class PoolClient {
  private readonly slots: Slot[];
  private destroyed = false;
  private fatal: { code: number; reason: string } | undefined;
  private retryTimer: number | undefined;
  /** The pause before the next retry after a 4429; 0 when none is due. */
  retryDelayMs = 0;
  status: ConnectionStatus = 'connecting';

  constructor(readonly opts: ClientOptions) {
    this.slots = [
      { name: BOARD_DOC, doc: new Y.Doc() },
      { name: LEDGER_DOC, doc: new Y.Doc() },
    ];
    if (opts.workerId && opts.role === 'worker') this.slots.push({ name: inboxDoc(opts.workerId), doc: new Y.Doc() });
  }

  get board(): Y.Doc {
    return this.slots[0].doc;
  }
  get ledger(): Y.Doc {
    return this.slots[1].doc;
  }
  get inbox(): Y.Doc | undefined {
    return this.slots[2]?.doc;
  }
  private get providers(): WebsocketProvider[] {
    return this.slots.flatMap((s) => (s.provider ? [s.provider] : []));
  }

  get canEditBoard(): boolean {
    return this.opts.role === 'maintainer' || this.opts.role === 'admin';
  }

  /** Load the local caches (the board reads offline), then connect. */
  async start(): Promise<void> {
    const opened = this.slots.map((slot) => {
      slot.cache = openCache(cacheName(this.opts.vaultId, this.opts.relayUrl, slot.name), slot.doc);
      return slot.cache.ready.then((r) => ({ name: slot.name, ...r }));
    });
    const failed = (await Promise.all(opened)).filter((r) => !r.ok);
    if (failed.length > 0) this.opts.onCacheError?.(failed.map((f) => f.name).join(', '), failed[0].error ?? 'unknown error');
    for (const slot of this.slots) this.connectSlot(slot);
    this.updateStatus();
  }

  private connectSlot(slot: Slot): WebsocketProvider {
    const p = platform();
    const provider = new WebsocketProvider(yjsServerUrl(this.opts.relayUrl), slot.name, slot.doc, {
      // the version this plugin speaks: a relay of another major closes with 4400 and says so (OWP-VER-5)
      params: { token: this.opts.token, protocol: PROTOCOL_VERSION },
      disableBc: p.disableBc,
      maxBackoffTime: 5000,
      ...(p.WebSocket ? { WebSocketPolyfill: p.WebSocket as typeof WebSocket } : {}),
    });
    provider.on('status', () => this.updateStatus());
    provider.on('sync', (synced: boolean) => {
      if (synced) this.retryDelayMs = 0;
      this.updateStatus();
    });
    provider.on('connection-close', (event: CloseEvent | null) => {
      if (event?.code === CLOSE.docReset) void this.resetSlot(slot, provider);
      else if (event && RETRY_LATER_CODES.has(event.code)) this.retryLater();
      else if (event && isRefusalCloseCode(event.code)) this.stopFor(event.code, event.reason);
      this.updateStatus();
    });
    slot.provider = provider;
    return provider;
  }

  /**
   * The relay re-created this document: drop the copy and its cache, sync a fresh one, and
   * carry over the board edits the relay never had (see the module header).
   */
  private async resetSlot(slot: Slot, provider: WebsocketProvider): Promise<void> {
    if (slot.provider !== provider) return;
    provider.destroy();
    slot.provider = undefined;
    const stale = slot.doc;
    await slot.cache?.clear();
    if (this.destroyed) return;
    slot.doc = new Y.Doc();
    slot.cache = openCache(cacheName(this.opts.vaultId, this.opts.relayUrl, slot.name), slot.doc);
    await slot.cache.ready;
    const fresh = this.connectSlot(slot);
    if (this.fatal || this.retryTimer !== undefined) fresh.shouldConnect = false;
    this.opts.onReset?.(slot.name);
    if (slot.name === BOARD_DOC && this.canEditBoard) {
      const onSync = (synced: boolean) => {
        if (!synced || this.destroyed) return;
        fresh.off('sync', onSync);
        reapplyEdits(slot.doc, unsyncedEdits(stale, retiredOf(slot.doc)), ORIGIN.plugin, (root) => root === 'tasks' || root === 'repos');
        stale.destroy();
      };
      fresh.on('sync', onSync);
    } else stale.destroy();
    this.updateStatus();
  }

  /** Pause every provider, then reconnect after a delay that doubles up to RETRY_MAX_MS. */
  private retryLater(): void {
    if (this.fatal || this.retryTimer !== undefined) return;
    this.retryDelayMs = this.retryDelayMs === 0 ? RETRY_FIRST_MS : Math.min(RETRY_MAX_MS, this.retryDelayMs * 2);
    for (const p of this.providers) p.shouldConnect = false;
    this.retryTimer = window.setTimeout(() => {
      this.retryTimer = undefined;
      if (this.fatal || this.providers.length === 0) return;
      for (const p of this.providers) p.connect();
      this.updateStatus();
    }, this.retryDelayMs);
  }

  private clearRetry(): void {
    if (this.retryTimer !== undefined) window.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private stopFor(code: number, reason: string): void {
    if (this.fatal) return;
    this.fatal = { code, reason };
    this.clearRetry();
    for (const p of this.providers) p.shouldConnect = false;
    this.opts.onFatal?.(code, reason);
  }

  private updateStatus(): void {
    let next: ConnectionStatus;
    if (this.fatal) next = 'stopped';
    else if (this.providers.length === 0) next = 'connecting';
    else if (this.providers.every((p) => p.wsconnected && p.synced)) next = 'connected';
    else if (this.providers.some((p) => p.wsconnected)) next = 'syncing';
    else next = 'offline';
    if (next !== this.status) {
      this.status = next;
      this.opts.onStatus?.(next);
    }
  }

  /** Close the sockets (keep the documents and caches), as when the network goes away. */
  disconnect(): void {
    for (const p of this.providers) p.disconnect();
    this.updateStatus();
  }

  /** Reconnect every provider, also after a 44xx close. */
  reconnect(): void {
    this.fatal = undefined;
    this.clearRetry();
    this.retryDelayMs = 0;
    for (const p of this.providers) p.connect();
    this.updateStatus();
  }

  /** Heartbeats: the relay reads awareness `{ workerId, leases: { taskId: fencingToken } }`. */
  setLeases(leases: Record<string, number>): void {
    const inboxProvider = this.slots[2]?.provider;
    if (!inboxProvider || !this.opts.workerId) return;
    inboxProvider.awareness.setLocalState({ workerId: this.opts.workerId, leases });
  }

  /** What this client currently announces as its awareness state (heartbeats). */
  awarenessState(): unknown {
    return this.slots[2]?.provider?.awareness.getLocalState() ?? null;
  }

  writeProfile(profile: Omit<WorkerProfile, 'id'>): void {
    if (!this.inbox) return;
    const map = this.inbox.getMap('profile');
    this.inbox.transact(() => {
      for (const [k, v] of Object.entries(profile)) {
        if (JSON.stringify(map.get(k)) !== JSON.stringify(v)) map.set(k, v);
      }
    }, ORIGIN.plugin);
  }

  appendIntent(intent: Intent): void {
    if (!this.inbox) throw new Error('Only a worker token can send intents.');
    this.inbox.getArray('intents').push([intent]);
  }

  outcome(intentId: string): Outcome | undefined {
    const o = this.ledger.getMap('outcomes').get(intentId) as Outcome | undefined;
    // Intent ids are scoped to their sender: another worker's outcome under this id is not ours.
    if (o && (!this.opts.workerId || o.workerId === this.opts.workerId)) return o;
    return this.inbox?.getMap('refusals').get(intentId) as Outcome | undefined;
  }

  runtime(taskId: string): TaskRuntime | undefined {
    return this.ledger.getMap('tasks').get(taskId) as TaskRuntime | undefined;
  }

  /** Inbox intents the ledger has no outcome for yet. */
  pendingIntents(): Intent[] {
    if (!this.inbox) return [];
    const outcomes = this.ledger.getMap('outcomes');
    const refusals = this.inbox.getMap('refusals');
    const answered = (id: string) => (outcomes.get(id) as Outcome | undefined)?.workerId === this.opts.workerId || refusals.has(id);
    return (this.inbox.getArray('intents').toArray() as Intent[]).filter((i) => i && !answered(i.id));
  }

  /** This worker's active leases from the ledger. */
  myLeases(): TaskRuntime[] {
    const me = this.opts.workerId;
    if (!me) return [];
    const out: TaskRuntime[] = [];
    this.ledger.getMap('tasks').forEach((v) => {
      const rt = v as TaskRuntime;
      if (rt.lease && rt.lease.workerId === me) out.push(rt);
    });
    return out.sort((a, b) => a.lease!.expiresAt - b.lease!.expiresAt);
  }

  async destroy(): Promise<void> {
    this.destroyed = true;
    this.clearRetry();
    for (const slot of this.slots) {
      slot.provider?.destroy();
      slot.provider = undefined;
    }
    await Promise.all(this.slots.map((s) => s.cache?.destroy() ?? Promise.resolve()));
    for (const slot of this.slots) {
      slot.cache = undefined;
      slot.doc.destroy();
    }
  }
}
