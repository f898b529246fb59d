/**
 * startRelay: wires store, tokens, audit, documents, sync server, engine, HTTP API, SSE
 * and feature modules into one running relay.
 *
 * Invariants:
 * - Start order: LevelDB -> tokens -> audit -> documents -> engine (ledger loaded from
 *   LevelDB, ledger doc made to match) -> HTTP + sockets listen. Nothing is served before
 *   the ledger is loaded, so /healthz answering means ready.
 * - Close order: stop accepting -> features stop -> engine finishes the tick in flight and
 *   the intents queued -> SSE and sockets closed (1001) -> documents flushed and compacted
 *   -> LevelDB closed. close() is idempotent.
 * - Feature modules see only RelayPort (server/ports.ts).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { BOARD_DOC, INBOX_PREFIX, LEDGER_DOC, inboxDoc } from '../shared/protocol.js';
import { emptyLedger } from '../shared/model.js';
import { openAuditLog } from './audit/index.js';
import { AuthGuard, DEFAULT_AUTH_FAILURE_LIMIT } from './auth/guard.js';
import { openTokenStore, type TokenStore } from './auth/index.js';
import { BoardView } from './engine/board.js';
import { Engine } from './engine/engine.js';
import { PublicProfiles } from './engine/public-profiles.js';
import { adminRoutes } from './http/api-admin.js';
import { backupRoutes } from './backup/index.js';
import { leaseRoutes } from './http/api-leases.js';
import { explainRoutes } from './http/api-explain.js';
import { actorOf, type ApiDeps } from './http/deps.js';
import type { RateLimitOptions } from './ratelimit/index.js';
import { Router } from './http/router.js';
import { createLogger } from './log/index.js';
import { EventHub } from './http/sse.js';
import type { Logger, Principal, RelayFeature, RelayPort } from './ports.js';
import { Notifier } from './notify/index.js';
import { StatsIndex } from './stats/index.js';
import { statsRoutes } from './stats/routes.js';
import { openRelayStore, type Durability, type Store } from './store/index.js';
import { attachSyncServer, DocStore } from './sync/index.js';

export interface RelayConfig {
  dataDir: string;
  /** Opens the store to run on instead of LevelDB or PostgreSQL, once dataDir exists (the relay inside Obsidian opens its file store); the relay closes it. */
  openStore?: () => Promise<Store>;
  /** The version /healthz reports (default: package.json's; the relay inside Obsidian passes the plugin's). */
  version?: string;
  /** postgres://... (OWP_DATABASE_URL): persist in PostgreSQL instead of LevelDB under dataDir (docs/STORAGE.md). */
  databaseUrl?: string;
  /** OWP_DURABILITY: `fsync` (default) syncs every write before anyone is answered; `os` leaves it to the OS (docs/RELIABILITY.md). */
  durability?: Durability;
  host?: string;
  /** 0 = any free port. Default 8787. */
  port?: number;
  adminToken?: string;
  tickMs?: number;
  retentionMs?: number;
  publicDashboard?: boolean;
  features?: (port: RelayPort) => RelayFeature[];
  /** Default: JSON lines on stdout at info (server/log). */
  log?: Logger;
  now?: () => number;
  /** Per-token rate limit (default 50/s, burst 100); false turns it off. */
  rateLimit?: RateLimitOptions | false;
  /**
   * Refused tokens per address, shared by HTTP, SSE and sockets (default 1/s, burst 30;
   * off when rateLimit is false). Past it, that address gets 429 / close 4429 for any token.
   */
  authFailureLimit?: RateLimitOptions | false;
  /**
   * Caps (defaults: 1000 event streams, 32 per token, 64 sockets per token, 200 socket messages/s per token, burst 2000, 64 MiB of SSE replay, 30 s to send a whole request: a trickled body gets 408,
   * 1 MiB per request body and per socket message). Settable by operators: server/config (docs/CONFIG.md).
   */
  limits?: {
    sseClients?: number;
    ssePerToken?: number;
    socketsPerToken?: number;
    socketMessages?: RateLimitOptions;
    sseBufferBytes?: number;
    requestTimeoutMs?: number;
    bodyBytes?: number;
    socketMessageBytes?: number;
    jsonDepth?: number;
  };
  /** Sweeper period for lease expiry (default 250 ms). */
  sweepMs?: number;
  /** How often finished tasks are checked for archiving (default 60 s). */
  archiveEveryMs?: number;
  /** SSE keep-alive comment period (default 15 s). */
  ssePingMs?: number;
  /** The GitHub host submitted pull request links must be on (default github.com; see githubHostFrom). */
  githubHost?: string;
  /** Outgoing webhook notifications (server/notify): off unless given. `backoffMs` for tests. */
  notify?: { url: string; secret?: string; backoffMs?: number };
}

export interface RunningRelay {
  url: string;
  port: number;
  createdAdminToken?: string;
  relay: RelayPort;
  tokens: TokenStore;
  engine: Engine;
  close(): Promise<void>;
}

async function packageVersion(): Promise<string> {
  try {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export async function startRelay(config: RelayConfig): Promise<RunningRelay> {
  const log = config.log ?? createLogger();
  const now = config.now ?? Date.now;
  await mkdir(config.dataDir, { recursive: true });
  const store = config.openStore ? await config.openStore() : await openRelayStore(config);
  const cleanup: (() => Promise<void> | void)[] = [() => store.close()];
  try {
    const tokens = await openTokenStore(store, { now });
    const { created } = await tokens.ensureAdmin(config.adminToken);
    const audit = await openAuditLog(store);
    const docs = new DocStore(store, { log });
    cleanup.unshift(() => docs.close());
    // A maintainer's board edit over sync is audited under their name (the peer is the origin).
    const board = new BoardView(await docs.get(BOARD_DOC), (origin) => (origin instanceof Object && 'principal' in origin ? actorOf((origin as { principal: Principal }).principal) : undefined));
    const ledgerDoc = await docs.get(LEDGER_DOC);
    // The stats index reads the audit log before the engine can run a batch, and follows
    // every batch from the line after Engine.open (no await between: no batch is missed).
    const late: { engine?: Engine } = {};
    const stats = await StatsIndex.open(store, { board: () => board.board(), ledger: () => late.engine?.ledger() ?? emptyLedger(), now });
    const engine = await Engine.open({
      store,
      audit,
      board,
      ledgerDoc,
      rules: { githubHost: config.githubHost },
      now,
      log,
      tickMs: config.tickMs,
      retentionMs: config.retentionMs,
      sweepMs: config.sweepMs,
      archiveEveryMs: config.archiveEveryMs,
    });
    late.engine = engine;
    const notifier = config.notify ? new Notifier({ ...config.notify, log, now }) : undefined;
    engine.onBatch((r) => {
      const facts = stats.ingest(r.events);
      notifier?.onBatch(r.events, facts, () => stats.gauges(), (id) => board.board().tasks[id]?.title);
    });
    if (notifier) cleanup.unshift(() => notifier.stop());
    cleanup.unshift(() => engine.stop());
    docs.onLoad((name, doc) => {
      if (name.startsWith(INBOX_PREFIX)) engine.attachInbox(name.slice(INBOX_PREFIX.length), doc);
    });
    for (const name of await docs.names()) if (name.startsWith(INBOX_PREFIX)) await docs.get(name);
    const publicProfiles = new PublicProfiles(engine.inboxes, ledgerDoc);
    cleanup.unshift(() => publicProfiles.close());

    const lastSeen = new Map<string, number>();
    const deps: ApiDeps = {
      engine,
      board,
      tokens,
      audit,
      inbox: (workerId) => docs.get(inboxDoc(workerId)),
      persisted: (name) => docs.whenPersisted(name),
      now,
      version: config.version ?? (await packageVersion()),
      startedAt: now(),
      lastSeen,
    };
    const port: RelayPort = {
      board: () => board.board(),
      ledger: () => engine.ledger(),
      upsertTasks: (tasks) => board.upsertTasks(tasks, now()),
      patchTask: (taskId, patch) => board.patchTask(taskId, patch),
      putRepo: (policy) => board.putRepo(policy, true),
      submitIntent: (intent) => engine.submit(intent),
      onBatch: (listener) => engine.onBatch((r) => listener(r)),
      kv: (ns) => store.kv(ns),
      log,
      now,
    };

    let shuttingDown = false;
    const guard = new AuthGuard(tokens, config.authFailureLimit ?? (config.rateLimit === false ? false : DEFAULT_AUTH_FAILURE_LIMIT), now);
    const router = new Router({ tokens, log, rateLimit: config.rateLimit, now, shuttingDown: () => shuttingDown, guard, bodyLimit: config.limits?.bodyBytes });
    const hub = new EventHub({ engine, board, profiles: publicProfiles, tokens, log, publicDashboard: config.publicDashboard ?? false, pingMs: config.ssePingMs, guard, maxClients: config.limits?.sseClients, maxPerCaller: config.limits?.ssePerToken, bufferBytes: config.limits?.sseBufferBytes });
    router.add(adminRoutes(deps));
    router.add(leaseRoutes(deps));
    router.add(explainRoutes(deps));
    router.add(backupRoutes({ store, log, now, version: deps.version }));
    router.add([hub.route()]);
    router.add(
      statsRoutes({
        index: stats,
        board: () => board.board(),
        ledger: () => engine.ledger(),
        now,
        publicDashboard: config.publicDashboard ?? false,
        names: () => Object.fromEntries(Object.entries(engine.inboxes.profiles).map(([id, p]) => [id, p.name])),
      }),
    );
    const features = config.features?.(port) ?? [];
    for (const f of features) if (f.routes) router.add(f.routes);

    // A request (headers and body) must arrive within requestTimeoutMs: a client trickling a
    // body cannot hold a socket for Node's default 5 minutes. Event streams are not affected
    // (their request is complete at once; only the answer is long).
    const requestTimeout = config.limits?.requestTimeoutMs ?? 30_000;
    const server: Server = createServer(
      { requestTimeout, headersTimeout: Math.min(requestTimeout, 15_000), connectionsCheckingInterval: Math.min(requestTimeout, 5_000) },
      (req, res) => void router.handle(req, res),
    );
    const sockets = new Set<Socket>();
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    const sync = attachSyncServer(server, {
      docs,
      tokens,
      log,
      guard,
      knownWorker: (workerId) => tokens.hasWorker(workerId),
      maxConnectionsPerToken: config.limits?.socketsPerToken,
      maxMessageBytes: config.limits?.socketMessageBytes,
      messageRate: config.limits?.socketMessages,
      onAwareness: (principal) => {
        if (principal.role === 'worker' && principal.workerId) lastSeen.set(principal.workerId, now());
      },
      onHeartbeat: ({ workerId, leases }) => engine.awarenessHeartbeat(workerId, leases),
    });
    const started: RelayFeature[] = [];
    for (const f of features) {
      await f.start?.();
      started.push(f);
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // A deep accept queue: hundreds of workers reconnecting while a batch runs must not
      // have their SYNs dropped (the kernel's retry waits 1 s, 3 s, 7 s...).
      server.listen({ port: config.port ?? 8787, host: config.host ?? '127.0.0.1', backlog: 2048 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    const actualPort = typeof addr === 'object' && addr ? addr.port : (config.port ?? 8787);
    const host = config.host ?? '127.0.0.1';
    const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;

    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        shuttingDown = true;
        const stopped = new Promise<void>((r) => server.close(() => r()));
        for (const f of started.reverse()) {
          try {
            await f.stop?.();
          } catch (e) {
            log.warn('feature failed to stop', { feature: f.name, error: String(e) });
          }
        }
        await engine.stop();
        notifier?.stop();
        hub.close();
        await sync.close();
        // Let answers already written reach their clients, then cut what is left.
        server.closeIdleConnections();
        const grace = new Promise<void>((r) => setTimeout(r, 1000).unref());
        await Promise.race([stopped, grace]);
        for (const s of sockets) s.destroy();
        await stopped;
        await docs.close();
        await store.close();
      })());

    return { url: `http://${urlHost}:${actualPort}`, port: actualPort, createdAdminToken: created, relay: port, tokens, engine, close };
  } catch (e) {
    for (const c of cleanup) {
      try {
        await c();
      } catch {
        // best effort: report the first error
      }
    }
    throw e;
  }
}
