/**
 * The Open Work Protocol's vocabulary, defined once (docs/PROTOCOL.md): its version, the Yjs
 * document names, roles, WebSocket close codes, transaction origins, intent kinds and the
 * event-stream event names. The relay, the plugin, the CLI and the dashboard import these.
 *
 * Invariants: plain constants and types only (no Node built-ins, no imports: the plugin
 * bundles it for mobile); a published name or code never changes meaning.
 */

/** The protocol version this code speaks (`/healthz` `protocol`, header `OWP-Protocol`). */
export const PROTOCOL_VERSION = '0.1';
/** The HTTP header that names the protocol version: on every answer, and MAY be sent by a client. */
export const PROTOCOL_HEADER = 'OWP-Protocol';

/**
 * How a relay speaking `PROTOCOL_VERSION` meets a client's `OWP-Protocol` header
 * (docs/PROTOCOL.md, Versioning, OWP-VER-3): no header or the same major version is served;
 * a version of another major is `unsupported`; anything but MAJOR.MINOR is `malformed`.
 */
export function clientProtocol(header: string | undefined): 'ok' | 'unsupported' | 'malformed' {
  if (header === undefined) return 'ok';
  const m = /^(\d{1,6})\.(\d{1,6})$/.exec(header.trim());
  if (!m) return 'malformed';
  return Number(m[1]) === Number(PROTOCOL_VERSION.split('.')[0]) ? 'ok' : 'unsupported';
}

// ---- documents ----

/** Tasks and repo policies; admin and maintainers write it. */
export const BOARD_DOC = 'owp/board';
/** Leases, outcomes and worker runtime; only the relay writes it. */
export const LEDGER_DOC = 'owp/ledger';
/** `owp/inbox/<workerId>`: one worker's profile and intents. */
export const INBOX_PREFIX = 'owp/inbox/';
/** The URL path under which the relay serves the documents (`/yjs/<docName>`). */
export const YJS_PATH = '/yjs';

export function inboxDoc(workerId: string): string {
  return INBOX_PREFIX + workerId;
}

// ---- roles ----

export const ROLES = ['admin', 'maintainer', 'worker', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v);
}

// ---- WebSocket ----

/** y-websocket message types (the first varUint of every message). */
export const MESSAGE_SYNC = 0;
export const MESSAGE_AWARENESS = 1;
export const MESSAGE_AUTH = 2;
export const MESSAGE_QUERY_AWARENESS = 3;

/** Close codes of `/yjs/<docName>` sockets. 44xx: the relay refused; see the reason text. */
export const CLOSE = {
  malformed: 4400,
  unauthorized: 4401,
  forbidden: 4403,
  unknownDoc: 4404,
  /**
   * The document was re-created as a new generation (a rotation, docs/ROTATION.md) and this
   * copy is of an older one: drop the copy (and its cache), reconnect, resync from empty.
   */
  docReset: 4409,
  /**
   * The document was re-created as a new generation before this socket was sent any of it
   * (it was still waiting for its sync step 2): nothing to drop, reconnect and sync.
   */
  docRenewed: 1012,
  revoked: 4410,
  tooLarge: 4413,
  /** Too many sockets for one token, or too many refused tokens from one address. */
  tooMany: 4429,
  shuttingDown: 1001,
  internal: 1011,
  /** The socket fell too far behind (its unsent bytes passed the relay's bound): reconnect. */
  tooSlow: 1013,
} as const;
export type CloseCode = (typeof CLOSE)[keyof typeof CLOSE];

/** 44xx: the relay refused this socket for a reason a person must fix (or wait out). */
export function isRefusalCloseCode(code: number): boolean {
  return code >= 4400 && code < 4500;
}

/**
 * A socket's protocol check (OWP-VER-5): the version a client names on a WebSocket upgrade
 * (`OWP-Protocol` header, or `?protocol=` where a client cannot set headers) against this
 * relay's, as the close code and reason that refuse it; undefined when it is served (no
 * version named, or the same major).
 */
export function socketProtocolRefusal(version: string | undefined): { code: number; reason: string } | undefined {
  const verdict = clientProtocol(version);
  if (verdict === 'malformed') return { code: CLOSE.malformed, reason: `invalid-field: ${PROTOCOL_HEADER} must be a version such as ${PROTOCOL_VERSION} (MAJOR.MINOR)` };
  if (verdict === 'unsupported') return { code: CLOSE.malformed, reason: `unsupported-protocol: this relay speaks protocol ${PROTOCOL_VERSION}, not ${version!.trim().slice(0, 20)}` };
  return undefined;
}

/** The reason `CLOSE.docReset` carries (clients match the code, people read the reason). */
export function docResetReason(docName: string, generation: number): string {
  return `doc-reset: ${docName} was re-created from the relay's state (generation ${generation}); drop your local copy and reconnect`;
}

/** The reason `CLOSE.docRenewed` carries. */
export function docRenewedReason(docName: string, generation: number): string {
  return `doc-renewed: ${docName} was re-created (generation ${generation}) before this socket was sent any of it; reconnect`;
}

/** Close codes that mean "not now" rather than "never": a client retries after a pause. */
export const RETRY_LATER_CLOSE_CODES: readonly number[] = [CLOSE.tooMany];

// ---- Yjs transaction origins ----

export const ORIGIN = {
  /** Every in-process write of the relay (board, ledger, inbox profile). */
  relay: 'relay',
  /** Writes the Obsidian plugin makes (board edits, intents). */
  plugin: 'owp-plugin',
} as const;

// ---- intents ----

export const WORKER_INTENT_KINDS = ['claim', 'claim-next', 'heartbeat', 'release', 'submit', 'complete', 'fail'] as const;
export const MAINTAINER_INTENT_KINDS = ['review', 'requeue', 'cancel'] as const;
export const INTENT_KINDS = [...WORKER_INTENT_KINDS, ...MAINTAINER_INTENT_KINDS] as const;
export type IntentKindName = (typeof INTENT_KINDS)[number];

// ---- event stream (GET /api/events) ----

export const EVENT = {
  /** The first event of every stream: `{ board, ledger, recent, profiles }`. */
  snapshot: 'snapshot',
  ledger: 'ledger',
  board: 'board',
} as const;
export type DeltaEvent = typeof EVENT.ledger | typeof EVENT.board;
