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
 */
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import type { Intent, Outcome, TaskRuntime, WorkerProfile } from '../../shared/model.js';
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
  readonly board = new Y.Doc();
  readonly ledger = new Y.Doc();
  readonly inbox?: Y.Doc;
  private providers: WebsocketProvider[] = [];
  private caches: DocCache[] = [];
  private fatal: { code: number; reason: string } | undefined;
  private retryTimer: number | undefined;
  /** The pause before the next retry after a 4429; 0 when none is due. */
  retryDelayMs = 0;
  status: ConnectionStatus = 'connecting';

  constructor(readonly opts: ClientOptions) {
    if (opts.workerId && opts.role === 'worker') this.inbox = new Y.Doc();
  }

  get canEditBoard(): boolean {
    return this.opts.role === 'maintainer' || this.opts.role === 'admin';
  }

  private docs(): [string, Y.Doc][] {
    const list: [string, Y.Doc][] = [
      [BOARD_DOC, this.board],
      [LEDGER_DOC, this.ledger],
    ];
    if (this.inbox && this.opts.workerId) list.push([inboxDoc(this.opts.workerId), this.inbox]);
    return list;
  }

  /** Load the local caches (the board reads offline), then connect. */
  async start(): Promise<void> {
    const p = platform();
    const opened = this.docs().map(([name, doc]) => {
      const cache = openCache(cacheName(this.opts.vaultId, this.opts.relayUrl, name), doc);
      this.caches.push(cache);
      return cache.ready.then((r) => ({ name, ...r }));
    });
    const failed = (await Promise.all(opened)).filter((r) => !r.ok);
    if (failed.length > 0) this.opts.onCacheError?.(failed.map((f) => f.name).join(', '), failed[0].error ?? 'unknown error');
    const server = yjsServerUrl(this.opts.relayUrl);
    for (const [name, doc] of this.docs()) {
      const provider = new WebsocketProvider(server, name, doc, {
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
        if (event && RETRY_LATER_CODES.has(event.code)) this.retryLater();
        else if (event && isRefusalCloseCode(event.code)) this.stopFor(event.code, event.reason);
        this.updateStatus();
      });
      this.providers.push(provider);
    }
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
    const inboxProvider = this.providers[2];
    if (!inboxProvider || !this.opts.workerId) return;
    inboxProvider.awareness.setLocalState({ workerId: this.opts.workerId, leases });
  }

  /** What this client currently announces as its awareness state (heartbeats). */
  awarenessState(): unknown {
    return this.providers[2]?.awareness.getLocalState() ?? null;
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
    this.clearRetry();
    for (const p of this.providers) p.destroy();
    this.providers = [];
    await Promise.all(this.caches.map((c) => c.destroy()));
    this.caches = [];
    for (const [, doc] of this.docs()) doc.destroy();
  }
}
