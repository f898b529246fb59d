/** RelayConfig: what startRelay (./relay.ts) is started with. server/main.ts builds it from server/config. */
import type { Logger, RelayFeature, RelayPort } from './ports.js';
import type { RateLimitOptions } from './ratelimit/index.js';
import type { Durability, Store } from './store/index.js';
import type { RotationPolicy } from './sync/rotation.js';

export interface RelayConfig {
  dataDir: string;
  /** Opens the store to run on instead of LevelDB or PostgreSQL, once dataDir exists (the relay inside Obsidian opens its file store); the relay closes it. */
  openStore?: () => Promise<Store>;
  /** The version /healthz reports (default: package.json's; the relay inside Obsidian passes the plugin's). */
  version?: string;
  /** postgres://... (OWP_DATABASE_URL): persist in PostgreSQL instead of LevelDB under dataDir (docs/STORAGE.md). */
  databaseUrl?: string;
  /**
   * With databaseUrl: this relay's id among several on one database (OWP_RELAY_ID). They elect
   * one arbiter; the others serve clients and forward intents (docs/SCALING.md). Without it,
   * one relay per database.
   */
  relayId?: string;
  /** Election lease with several relays (default 2500 ms: failover within 5 s). */
  electionLeaseMs?: number;
  /** OWP_DURABILITY: `fsync` (default) syncs every write before anyone is answered; `os` leaves it to the OS (docs/RELIABILITY.md). */
  durability?: Durability;
  host?: string;
  /** 0 = any free port. Default 8787. */
  port?: number;
  /** OWP_ADMIN_TOKEN: an additional admin token, live while it is set (TokenStore.syncEnvAdmin). */
  adminToken?: string;
  /** `owp serve --reset-admin`: once listening, revoke every admin token and create one (createdAdminToken). */
  resetAdmin?: boolean;
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
    /** Idle kept-alive HTTP connections close after this (default 65 s; server/http/starting.ts). */
    keepAliveMs?: number;
    bodyBytes?: number;
    socketMessageBytes?: number;
    jsonDepth?: number;
    /** Intents one intent-channel socket may have in flight (default 64; server/intents-ws). */
    intentsInFlight?: number;
  };
  /** Sweeper period for lease expiry (default 250 ms). */
  sweepMs?: number;
  /** How often finished tasks are checked for archiving (default 60 s). */
  archiveEveryMs?: number;
  /** At most this many finished tasks are archived per engine batch (default server/engine/plan.ts ARCHIVE_SLICE). */
  archiveSlice?: number;
  /** When `owp/board` and `owp/ledger` are re-created (server/sync/rotation.ts; default DEFAULT_ROTATION, false: never). */
  rotation?: RotationPolicy | false;
  /** SSE keep-alive comment period (default 15 s). */
  ssePingMs?: number;
  /** The GitHub host submitted pull request links must be on (default github.com; see githubHostFrom). */
  githubHost?: string;
  /** Outgoing webhook notifications (server/notify): off unless given. `backoffMs` for tests. */
  notify?: { url: string; secret?: string; backoffMs?: number };
  /** GET /metrics: `public` (OWP_METRICS_PUBLIC) needs no token; `token` (OWP_METRICS_TOKEN) may read it; admin tokens always may. */
  metrics?: { public?: boolean; token?: string };
  /** OWP_TRUST_PROXY: reverse proxies whose X-Forwarded-For gives the client address (a hop count, or addresses and ranges); default: trust nothing. */
  trustProxy?: string;
  /** Called once the port is bound, before the store is opened: until startRelay resolves, the relay answers 503 `starting`. */
  onListening?: (url: string) => void;
}
