/**
 * startRelay: wires store, tokens, audit, documents, sync server, engine, HTTP API, SSE
 * and feature modules into one running relay.
 *
 * Invariants:
 * - Start order: port bound (every request answered 503 `starting`: ./http/starting.ts) ->
 *   LevelDB -> tokens -> audit -> documents -> engine (ledger loaded from LevelDB, ledger doc
 *   made to match) -> features -> sockets -> admin token -> the router serves -> the stats
 *   index opens (./stats/lazy.ts; its three routes wait for it; several relays: before the engine). Nothing is
 *   served before the ledger is loaded, so /healthz answering 200 means ready; /readyz turns
 *   503 the moment close() starts (/healthz stays 200: liveness). A start that fails after
 *   binding closes what it opened, the port included.
 * - Close order: stop accepting -> features stop -> engine finishes the tick in flight and
 *   the intents queued -> stats checkpoint written (./stats/saver.ts) -> SSE and sockets closed (1001) -> documents flushed and compacted
 *   -> key segments with many deletes compacted (./store/store.ts) -> LevelDB closed. close() is idempotent.
 * - Feature modules see only RelayPort (server/ports.ts).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { BOARD_DOC, INBOX_PREFIX, LEDGER_DOC, inboxDoc } from '../shared/protocol.js';
import { emptyLedger } from '../shared/model.js';
import { openAuditLog } from './audit/index.js';
import { AuthGuard, DEFAULT_AUTH_FAILURE_LIMIT } from './auth/guard.js';
import { openTokenStore, type TokenStore } from './auth/index.js';
import { resetAdminsAudited } from './auth/reset-admin.js';
import { BoardView } from './engine/board.js';
import { Engine } from './engine/engine.js';
import { loadLedger } from './engine/follow.js';
import { PublicProfiles } from './engine/public-profiles.js';
import { adminRoutes } from './http/api-admin.js';
import { backupRoutes } from './backup/index.js';
import { leaseRoutes } from './http/api-leases.js';
import { intentChannel } from './intents-ws/index.js';
import { INTENTS_PATH } from '../shared/intent-channel.js';
import { explainRoutes } from './http/api-explain.js';
import { actorOf, type ApiDeps } from './http/deps.js';
import { Router } from './http/router.js';
import { createLogger } from './log/index.js';
import { folderBytes, observabilityRoutes, RelayMetrics, type Phase } from './metrics/index.js';
import { clientAddress, parseTrustProxy } from './http/client-address.js';
import { EventHub } from './http/sse.js';
import { listen, startingHandler, startPhases, urlHostOf } from './http/starting.js';
import type { Principal, RelayFeature, RelayPort } from './ports.js';
import { Notifier } from './notify/index.js';
import { StatsIndex } from './stats/index.js';
import { statsRoutes } from './stats/routes.js';
import { StatsLoader } from './stats/lazy.js';
import { TaskCounts } from './stats/task-counts.js';
import { checkpointSaver, type CheckpointSaver } from './stats/saver.js';
import { openRelayStore } from './store/index.js';
import type { Cluster } from './store/postgres-cluster.js';
import { attachSyncServer, DocStore } from './sync/index.js';
import { DEFAULT_ROTATION } from './sync/rotation.js';
import type { RelayConfig } from './relay-config.js';

export type { RelayConfig } from './relay-config.js';

/** An archive sweep that removed this many tasks and outcomes has the board and ledger checked for rotation at its end. */
const SWEEP_ROTATION_CHECK = 2_000;
/**
 * Key segments with this many deletes are compacted (LevelDB tombstones: ./store/store.ts)
 * after such a sweep, and at a clean stop with a tenth of it: a start scans `doc/` and
 * `ledger/`, and a scan walks every tombstone (after 100,000 lifecycles, 100 inbox documents
 * took 436 ms to read one by one, 8 ms once compacted).
 */
const COMPACT_DELETES = 10_000;

export interface RunningRelay {
  url: string;
  port: number;
  createdAdminToken?: string;
  relay: RelayPort;
  tokens: TokenStore;
  engine: Engine;
  /** The documents (tests force a compaction or rotation with it). */
  docs: DocStore;
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
  const addressOf = clientAddress(parseTrustProxy(config.trustProxy));
  // The port is bound first: a port in use fails before anything is opened, and until the
  // relay serves every request is answered 503 `starting` (./http/starting.ts).
  let serve = startingHandler({ log, addressOf });
  const { server, sockets } = await listen(config, (req, res) => serve(req, res));
  const addr = server.address();
  const actualPort = typeof addr === 'object' && addr ? addr.port : (config.port ?? 8787);
  const url = `http://${urlHostOf(config.host ?? '127.0.0.1')}:${actualPort}`;
  config.onListening?.(url);
  const metrics = new RelayMetrics();
  let phase: Phase = 'starting';
  const { took, ready } = startPhases();
  const cleanup: (() => Promise<void> | void)[] = [
    () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      return closed;
    },
  ];
  try {
    // Loaded only when used: a bundle without `pg` (the relay inside Obsidian) never evaluates it.
    const ha = config.databaseUrl && config.relayId ? await import('./store/postgres-cluster.js') : undefined;
    const cluster: Cluster | undefined = ha ? await ha.openCluster({ url: config.databaseUrl!, relayId: config.relayId!, leaseMs: config.electionLeaseMs, log }) : undefined;
    const store = cluster ? cluster.store : config.openStore ? await config.openStore() : await openRelayStore(config);
    cleanup.unshift(() => (cluster ? cluster.close() : store.close()));
    const openTokens = async () => {
      const t = await openTokenStore(store, { now });
      await t.syncEnvAdmin(config.adminToken);
      return t;
    };
    // Relays starting together on one database: one at a time.
    const tokens = cluster ? await cluster.serialised(openTokens) : await openTokens();
    // With several relays, ledger and audit writes pass the arbiter's fence.
    const engineStore = cluster?.fencedStore ?? store;
    const audit = await openAuditLog(engineStore);
    took('store, tokens, audit');
    const docs: DocStore = new DocStore(store, {
      log,
      fanout: cluster?.docs,
      // Another relay opened a worker's inbox: watch it here too (the arbiter reads its intents).
      onRemoteDoc: (name) => void (name.startsWith(INBOX_PREFIX) ? docs.get(name).catch(() => undefined) : undefined),
    });
    cleanup.unshift(() => docs.close());
    // The ledger's read needs nothing loaded: it starts at once, its I/O beside the documents' decoding (one relay per store only).
    const late: { engine?: Engine } = {};
    const early = cluster ? undefined : { ledger: loadLedger(engineStore) };
    early?.ledger.catch(() => undefined); // awaited below; its failure surfaces there
    const [boardDoc, ledgerDoc] = await Promise.all([docs.get(BOARD_DOC), docs.get(LEDGER_DOC)]);
    // A maintainer's board edit over sync is audited under their name (the peer is the origin).
    const board = new BoardView(boardDoc, (origin) => (origin instanceof Object && 'principal' in origin ? actorOf((origin as { principal: Principal }).principal) : undefined));
    took('documents');
    // The stats index is read up to the audit entry the engine starts from and follows every
    // batch from the line after Engine.open (no await between: none is missed). One relay per
    // store opens it once serving (./stats/lazy.ts: its requests wait); several, before the engine.
    const stats = new StatsLoader(log);
    const statsAt = audit.head().seq;
    const openStats = () => StatsIndex.open(store, { board: () => board.board(), ledger: () => late.engine?.ledger() ?? emptyLedger(), now }, { log, until: statsAt });
    if (cluster) await stats.load(openStats);
    took('stats');
    const engine = await Engine.open({
      store: engineStore,
      ledger: early?.ledger,
      forward: cluster ? (intent, ephemeral) => cluster.forward(intent, ephemeral) : undefined,
      ledgerFeed: cluster?.ledgerFeed,
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
      archiveSlice: config.archiveSlice,
      // A large sweep leaves the documents mostly garbage: check them for rotation now.
      onSweepDone: (removed) => {
        if (removed < SWEEP_ROTATION_CHECK) return;
        void Promise.all([BOARD_DOC, LEDGER_DOC].map((name) => docs.compact(name)))
          .then(() => store.compactDeleted?.(COMPACT_DELETES))
          .catch((e: unknown) => log.warn('store compaction failed', { error: String(e) }));
      },
      observer: metrics.engineObserver(),
    });
    late.engine = engine;
    took('engine');
    const notifier = config.notify ? new Notifier({ ...config.notify, log, now }) : undefined;
    let checkpoints: CheckpointSaver | undefined;
    engine.onBatch((r) => {
      // The arbiter's batch is committed: its audit position is its own last entry, not the head,
      // which a pipelined batch's write may already have moved on (a follower's is not tracked).
      const active = engine.isActive();
      stats.ingest(r.events, active ? r.audit : undefined, (facts, index) => {
        checkpoints?.afterBatch();
        // Webhooks are sent by the arbiter only (followers see the same batches).
        if (active) notifier?.onBatch(r.events, facts, () => index.gauges(), (id) => board.board().tasks[id]?.title);
      });
    });
    if (notifier) cleanup.unshift(() => notifier.stop());
    cleanup.unshift(() => engine.stop());
    docs.onLoad((name, doc) => {
      if (name.startsWith(INBOX_PREFIX)) engine.attachInbox(name.slice(INBOX_PREFIX.length), doc);
    });
    await Promise.all((await docs.names()).filter((name) => name.startsWith(INBOX_PREFIX)).map((name) => docs.get(name)));
    await cluster?.start(engine, tokens);
    took('inboxes');
    const publicProfiles = new PublicProfiles(engine.inboxes, ledgerDoc);
    cleanup.unshift(() => publicProfiles.close());
    // A rotated document (docs/ROTATION.md): every holder re-points in the same tick.
    docs.onRotate((name, doc) => {
      if (name === LEDGER_DOC) {
        engine.useLedgerDoc(doc);
        publicProfiles.useDoc(doc);
      } else if (name === BOARD_DOC) board.useDoc(doc);
    });
    if (config.rotation !== false) docs.enableRotation(config.rotation ?? DEFAULT_ROTATION);

    const lastSeen = new Map<string, number>();
    // /api/status's counts follow the batches; a change of role replaces the ledger: counted afresh.
    const taskCounts = new TaskCounts();
    let countedAsArbiter = engine.isActive();
    const counts = () => {
      if (engine.isActive() !== countedAsArbiter) {
        countedAsArbiter = engine.isActive();
        taskCounts.reset();
      }
      return taskCounts;
    };
    // engine.ledger() would pin the record, and a pinned record is never recycled: the next batch would copy every task.
    engine.onBatch((r) => counts().apply(r.tasks, engine.tasksRecord()));
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
      taskCounts: { of: (tasks) => counts().of(tasks) },
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
      metrics: metrics.port(),
    };

    let shuttingDown = false;
    const guard = new AuthGuard(tokens, config.authFailureLimit ?? (config.rateLimit === false ? false : DEFAULT_AUTH_FAILURE_LIMIT), now);
    const router = new Router({ tokens, log, rateLimit: config.rateLimit, now, shuttingDown: () => shuttingDown, guard, bodyLimit: config.limits?.bodyBytes, jsonDepth: config.limits?.jsonDepth, addressOf, onAnswered: (m, route, status) => metrics.request(m, route, status) });
    const hub = new EventHub({ engine, board, profiles: publicProfiles, tokens, log, publicDashboard: config.publicDashboard ?? false, pingMs: config.ssePingMs, guard, addressOf, maxClients: config.limits?.sseClients, maxPerCaller: config.limits?.ssePerToken, bufferBytes: config.limits?.sseBufferBytes });
    router.add(adminRoutes(deps));
    const lease = leaseRoutes(deps);
    router.add(lease);
    router.add(explainRoutes(deps));
    router.add(observabilityRoutes({ metrics, guard, addressOf, phase: () => phase, metricsPublic: config.metrics?.public, metricsToken: config.metrics?.token }));
    router.add(backupRoutes({ store, log, now, version: deps.version }));
    router.add([hub.route()]);
    if (ha && cluster) router.add([ha.clusterRoute(cluster)]);
    router.add(
      statsRoutes({
        index: () => stats.loaded(),
        board: () => board.board(),
        ledger: () => engine.ledger(),
        now,
        publicDashboard: config.publicDashboard ?? false,
        names: () => Object.fromEntries(Object.entries(engine.inboxes.profiles).map(([id, p]) => [id, p.name])),
      }),
    );
    const features = config.features?.(port) ?? [];
    for (const f of features) if (f.routes) router.add(f.routes);

    const started: RelayFeature[] = [];
    cleanup.unshift(async () => {
      for (const f of [...started].reverse()) await f.stop?.();
    });
    for (const f of features) {
      await f.start?.();
      started.push(f);
    }
    // Claims and lease actions over one WebSocket, several in flight: the same routes, auth and budget as HTTP.
    const intents = intentChannel({
      routes: lease,
      tokens,
      guard,
      limiter: router.limiter,
      addressOf,
      log,
      shuttingDown: () => shuttingDown,
      maxMessageBytes: config.limits?.bodyBytes,
      jsonDepth: config.limits?.jsonDepth,
      maxSocketsPerToken: config.limits?.socketsPerToken,
      maxInFlight: config.limits?.intentsInFlight,
      onAnswered: (route, status) => metrics.request('WS', route, status),
    });
    const unRevokeIntents = tokens.onRevoke((tokenId) => void intents.closeTokenSockets(tokenId));
    const sync = attachSyncServer(server, {
      upgrades: { [INTENTS_PATH]: (req, socket, head) => intents.upgrade(req, socket, head) },
      docs,
      tokens,
      log,
      guard,
      addressOf,
      onRefused: (code) => metrics.socketRefusals.inc({ code }),
      knownWorker: (workerId) => tokens.hasWorker(workerId),
      maxConnectionsPerToken: config.limits?.socketsPerToken,
      maxMessageBytes: config.limits?.socketMessageBytes,
      messageRate: config.limits?.socketMessages,
      onAwareness: (principal) => {
        if (principal.role === 'worker' && principal.workerId) lastSeen.set(principal.workerId, now());
      },
      onHeartbeat: ({ workerId, leases }) => engine.awarenessHeartbeat(workerId, leases),
    });
    metrics.watch({
      ledger: () => engine.ledger(),
      board: () => board.board(),
      sockets: () => sync.connectionCount() + intents.count(),
      streams: () => hub.size,
      dbSizeBytes: () => (store.backend.sizeBytes ? store.backend.sizeBytes() : folderBytes(config.dataDir)),
    });
    cleanup.unshift(() => sync.close(), () => intents.close());
    // Only now, listening and loaded, does a first start create (or --reset-admin replace) the
    // admin token: a start that fails leaves no token that was never shown.
    const firstAdmin = async () => {
      await tokens.reload();
      if (!config.resetAdmin) return tokens.ensureFirstAdmin();
      return { created: (await resetAdminsAudited({ tokens, audit, sameStore: engineStore === store, batch: () => engine.ledger().batch, now, log })).created };
    };
    const { created } = cluster ? await cluster.serialised(firstAdmin) : await firstAdmin();
    serve = (req, res) => void router.handle(req, res);
    phase = 'serving';
    took('routes');
    log.info('relay ready', ready());
    stats.onLoaded((index) => {
      checkpoints = checkpointSaver(index, store, { log, now });
      checkpoints.afterStart();
    });
    void stats.load(openStats).catch(() => undefined); // logged by the loader; its routes answer `internal`

    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        shuttingDown = true;
        phase = 'stopping';
        const stopped = new Promise<void>((r) => server.close(() => r()));
        for (const f of started.reverse()) {
          try {
            await f.stop?.();
          } catch (e) {
            log.warn('feature failed to stop', { feature: f.name, error: String(e) });
          }
        }
        await engine.stop();
        await stats.settled();
        await checkpoints?.close();
        // Give the lease up at once: another relay arbitrates without waiting for it to lapse.
        await cluster?.resign();
        notifier?.stop();
        hub.close();
        unRevokeIntents();
        await Promise.all([sync.close(), intents.close()]);
        // Let answers already written reach their clients, then cut what is left.
        server.closeIdleConnections();
        const grace = new Promise<void>((r) => setTimeout(r, 1000).unref());
        await Promise.race([stopped, grace]);
        for (const s of sockets) s.destroy();
        await stopped;
        await docs.close();
        // The tombstones the documents' compactions and the archive left: the next start scans past none.
        await store.compactDeleted?.(COMPACT_DELETES / 10).catch((e: unknown) => log.warn('store compaction failed', { error: String(e) }));
        await (cluster ? cluster.close() : store.close());
      })());

    return { url, port: actualPort, createdAdminToken: created, relay: port, tokens, engine, docs, close };
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

