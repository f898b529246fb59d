/**
 * Several relays on one PostgreSQL database (docs/SCALING.md): the parts one relay needs and
 * how they are wired to its engine.
 *
 * - Election (./postgres-lead.ts) picks one arbiter; its engine runs the scheduler and writes
 *   through the fence, so a deposed arbiter's batch is refused and writes nothing.
 * - Followers' engines forward intents through the database (./postgres-intents.ts) and follow
 *   the store: after each committed batch the arbiter sends a `batch` note, and a follower
 *   reads the ledger entries that batch changed (./postgres-ledger-log.ts, by sequence
 *   number) and the audit events since (server/engine/follow.ts), so HTTP reads, event
 *   streams and statistics are served on every relay.
 * - Documents and their rotation: ./postgres-docs.ts. Tokens: a relay that wrote one sends `tokens`; the others
 *   read the table again. After a lost listening connection every follower re-reads all three.
 * - Role changes run one at a time, in order: arbiter = engine.activate() then the desk opens;
 *   follower = the desk closes, then engine.deactivate() (queued intents are forwarded).
 */
import type { Engine } from '../engine/engine.js';
import type { LedgerFeed } from '../engine/follow.js';
import { storedOutcome } from '../engine/outcomes.js';
import type { TokenStore } from '../auth/index.js';
import type { Logger, Route } from '../ports.js';
import type { Intent, Outcome } from '../../shared/model.js';
import type { DocFanout } from '../sync/docstore.js';
import { PgBus } from './postgres-bus.js';
import { ensureDocGenTable, postgresDocFanout } from './postgres-docs.js';
import { ensureIntentTable, Forwarder, IntentDesk, openIntentPool } from './postgres-intents.js';
import { Election, fencedBackend, openElectionPool, type LeaderState } from './postgres-lead.js';
import { ensureLedgerLog, logLedgerKeys, readLedgerChanges } from './postgres-ledger-log.js';
import { openPostgresBackend, STARTUP_LOCK, type PostgresBackend } from './postgres.js';
import { createStore, decodeJson, type Store } from './store.js';

export interface ClusterOptions {
  url: string;
  relayId: string;
  /** Election lease (default 2500 ms: another relay arbitrates within 5 s of a crash). */
  leaseMs?: number;
  /** How long a follower waits for the arbiter's answer (default 30 s). */
  forwardTimeoutMs?: number;
  log: Logger;
}

export interface Cluster {
  readonly relayId: string;
  /** Reads and the relay's own writes (documents, tokens). */
  readonly store: Store;
  /** The arbiter's writes (ledger, audit): every batch passes the election's fence. */
  readonly fencedStore: Store;
  readonly docs: DocFanout;
  /** Where this relay's engine, while it follows, reads only the ledger entries the arbiter changed. */
  readonly ledgerFeed: LedgerFeed;
  /** Reads of the ledger while following: whole (start, role change, far behind) and changed entries only. */
  followStats(): { wholeReads: number; changeReads: number; entriesRead: number; fanoutConnections: number };
  /** Follower's path for intents (the engine's `forward`). */
  forward(intent: Intent, ephemeral: boolean): Promise<Outcome>;
  /** Run `fn` holding the startup lock. */
  serialised<T>(fn: () => Promise<T>): Promise<T>;
  /** Wire the engine and tokens, then start electing. */
  start(engine: Engine, tokens: TokenStore): Promise<void>;
  role(): LeaderState;
  /** Stop electing (an arbiter gives its lease up at once, so another relay takes over). */
  resign(): Promise<void>;
  close(): Promise<void>;
}

export async function openCluster(opts: ClusterOptions): Promise<Cluster> {
  const backend: PostgresBackend = await openPostgresBackend(opts.url);
  const offs: (() => void)[] = [];
  let bus: PgBus | undefined;
  try {
    bus = await PgBus.open(opts.url, { log: opts.log, name: `owp-fanout-${opts.relayId}`.slice(0, 63) });
    await ensureIntentTable(backend.pool);
    await ensureLedgerLog(backend.pool);
    await ensureDocGenTable(backend.pool);
  } catch (err) {
    await bus?.close();
    await backend.close();
    throw err;
  }
  const theBus = bus;
  const store = createStore(backend);
  let election: Election | undefined;
  let desk: IntentDesk | undefined;
  const fenced = () => (election ? fencedBackend(backend, election, logLedgerKeys) : undefined);
  const follow = { wholeReads: 0, changeReads: 0, entriesRead: 0 };
  const ledgerFeed: LedgerFeed = {
    async read(since) {
      const r = await readLedgerChanges(backend.pool, since);
      if (!r.entries) {
        follow.wholeReads += 1;
        return { cursor: r.cursor };
      }
      follow.changeReads += 1;
      follow.entriesRead += r.entries.length;
      return { cursor: r.cursor, entries: r.entries.map(([k, v]): [string, unknown] => [k, v === undefined ? undefined : decodeJson(k, v)]) };
    },
  };
  const fencedStore = createStore({
    kind: 'postgres-fenced',
    get: (k) => backend.get(k),
    iterate: (r) => backend.iterate(r),
    batch: (ops) => {
      const f = fenced();
      return f ? f.batch(ops) : Promise.reject(new Error('this relay is not the arbiter'));
    },
    close: async () => undefined,
  });
  const intentPool = openIntentPool(opts.url);
  const electionPool = openElectionPool(opts.url);
  const forwarder = new Forwarder(intentPool, theBus, {
    relayId: opts.relayId,
    timeoutMs: opts.forwardTimeoutMs,
    log: opts.log,
    storedOutcome: (id) => storedOutcome(store, id),
  });
  const docs = postgresDocFanout(backend, theBus, () => (election?.current().role === 'arbiter' ? election.check : undefined));
  let roles: Promise<void> = Promise.resolve();
  let wired: Engine | undefined;
  let resigned = false;
  const resign = async () => {
    resigned = true;
    for (const off of offs) off();
    desk?.close();
    await election?.stop();
    await roles;
  };

  return {
    relayId: opts.relayId,
    store,
    fencedStore,
    docs,
    ledgerFeed,
    followStats: () => ({ ...follow, fanoutConnections: theBus.connections }),
    async forward(intent, ephemeral) {
      const o = await forwarder.forward(intent, ephemeral);
      // Read your writes: the client's next read on this relay shows the batch that answered it.
      if (!ephemeral && wired && !wired.isActive() && typeof o.batch === 'number' && wired.ledger().batch < o.batch) await wired.follow().catch(() => undefined);
      return o;
    },
    async serialised(fn) {
      const client = await backend.pool.connect();
      try {
        await client.query('SELECT pg_advisory_lock($1)', [STARTUP_LOCK]);
        return await fn();
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [STARTUP_LOCK]).catch(() => undefined);
        client.release();
      }
    },
    async start(engine, tokens) {
      wired = engine;
      const d = new IntentDesk(intentPool, theBus, {
        log: opts.log,
        submit: (intent, ephemeral) =>
          ephemeral && intent.kind === 'heartbeat' ? engine.heartbeat(intent.workerId, intent.taskId, intent.fencingToken) : engine.submit(intent),
      });
      desk = d;
      const publish = (t: string, extra: Record<string, unknown> = {}) =>
        theBus.publish({ t, ...extra }, backend.pool).catch((err) => opts.log.warn('could not send a fan-out note', { type: t, err: String(err) }));
      offs.push(
        engine.onBatch((r) => {
          if (engine.isActive()) void publish('batch', { b: r.batch });
        }),
        tokens.onWrite(() => void publish('tokens')),
        theBus.on((m) => {
          if (m.t === 'batch') void engine.follow().catch((err) => opts.log.warn('could not follow the arbiter', { err: String(err) }));
          if (m.t === 'tokens') void tokens.reload().catch((err) => opts.log.warn('could not read tokens again', { err: String(err) }));
        }),
        theBus.onResync(() => {
          void engine.follow().catch(() => undefined);
          void tokens.reload().catch(() => undefined);
        }),
      );
      const onChange = (state: LeaderState) => {
        roles = roles
          .then(async () => {
            if (state.role === 'arbiter') {
              opts.log.info('this relay arbitrates now', { relayId: opts.relayId, epoch: state.epoch });
              await engine.activate();
              d.start();
              void publish('batch', { b: engine.ledger().batch });
            } else {
              d.stop();
              await engine.deactivate();
              if (!resigned) await engine.follow();
            }
          })
          .catch((err) => opts.log.error('role change failed', { role: state.role, err: String(err) }));
      };
      election = await Election.open(electionPool, { relayId: opts.relayId, leaseMs: opts.leaseMs, onChange, log: opts.log });
    },
    role: () => election?.current() ?? { role: 'follower', epoch: 0 },
    resign,
    async close() {
      await resign();
      forwarder.close();
      await intentPool.end().catch(() => undefined);
      await electionPool.end().catch(() => undefined);
      await theBus.close();
      await backend.close();
    },
  };
}

/** `GET /api/cluster`: this relay's id and role and the arbiter's epoch (no secrets; for load balancers and tests). */
export function clusterRoute(cluster: Cluster): Route {
  return {
    method: 'GET',
    path: '/api/cluster',
    auth: 'none',
    handler(ctx) {
      const { role, epoch, holder } = cluster.role();
      ctx.send(200, { relayId: cluster.relayId, role, epoch, arbiter: holder ?? null, follow: cluster.followStats() });
    },
  };
}
