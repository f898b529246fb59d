/**
 * Test harness for the relay's storage + sync layer (relay-A): a real http.Server with
 * attachSyncServer, a real LevelDB in a temp folder, the real TokenStore, and stock
 * y-websocket WebsocketProvider clients (ws polyfill, BroadcastChannel off so every byte goes
 * through the relay).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { TokenStore } from '../../server/auth/index.js';
import type { Principal } from '../../server/ports.js';
import { openStore, type Store } from '../../server/store/index.js';
import { attachSyncServer, type SyncServer } from '../../server/sync/server.js';
import { DocStore } from '../../server/sync/docstore.js';

import { waitFor } from './wait.js';

export { waitFor };

export interface Client {
  doc: Y.Doc;
  provider: WebsocketProvider;
  /** Close events the server sent (code, reason), in order. */
  closes: Array<{ code: number; reason: string }>;
  synced(): Promise<void>;
  destroy(): void;
}

export interface Harness {
  dir: string;
  store: Store;
  tokens: TokenStore;
  docs: DocStore;
  sync: SyncServer;
  server: http.Server;
  url: string;
  awarenessSeen: Array<{ principal: Principal; docName: string; state: Record<string, unknown> }>;
  connect(docName: string, token: string | undefined, opts?: { awareness?: Record<string, unknown> }): Client;
  /** Close clients, sync server, http server, DocStore and LevelDB (the folder stays). */
  stop(): Promise<void>;
}

export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'owp-sync-'));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** A real LevelDB at `<fresh temp folder>/db` (for beforeEach). */
export async function openTempStore(): Promise<{ dir: string; store: Store }> {
  const dir = await tempDir();
  return { dir, store: await openStore(join(dir, 'db')) };
}

/** Close a store from openTempStore and delete its folder (for afterEach). */
export async function closeTempStore(dir: string, store: Store): Promise<void> {
  await store.close();
  await removeDir(dir);
}

export async function startHarness(dir: string, opts: { compactEvery?: number; maxMessageBytes?: number; maxBufferedBytes?: number; pingIntervalMs?: number } = {}): Promise<Harness> {
  const store = await openStore(join(dir, 'db'));
  const tokens = await TokenStore.open(store);
  const docs = new DocStore(store, { compactEvery: opts.compactEvery });
  const server = http.createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  const awarenessSeen: Harness['awarenessSeen'] = [];
  const sync = attachSyncServer(server, {
    docs,
    tokens,
    maxMessageBytes: opts.maxMessageBytes,
    maxBufferedBytes: opts.maxBufferedBytes,
    pingIntervalMs: opts.pingIntervalMs,
    onAwareness: (principal, docName, state) => awarenessSeen.push({ principal, docName, state }),
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const url = `ws://127.0.0.1:${port}/yjs`;
  const clients = new Set<Client>();

  const connect: Harness['connect'] = (docName, token, copts = {}) => {
    const doc = new Y.Doc();
    const provider = new WebsocketProvider(url, docName, doc, {
      WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
      disableBc: true,
      params: token === undefined ? {} : { token },
      maxBackoffTime: 300,
      connect: false,
    });
    if (copts.awareness) provider.awareness.setLocalState(copts.awareness);
    else provider.awareness.setLocalState(null);
    const closes: Client['closes'] = [];
    provider.on('connection-close', (ev) => {
      if (ev) closes.push({ code: ev.code, reason: ev.reason });
    });
    provider.connect();
    const client: Client = {
      doc,
      provider,
      closes,
      synced: () => waitFor(() => provider.synced, 10_000, `${docName} to sync`).then(() => undefined),
      destroy: () => {
        provider.destroy();
        doc.destroy();
        clients.delete(client);
      },
    };
    clients.add(client);
    return client;
  };

  return {
    dir,
    store,
    tokens,
    docs,
    sync,
    server,
    url,
    awarenessSeen,
    connect,
    async stop() {
      for (const c of [...clients]) c.destroy();
      await sync.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await docs.close();
      await store.close();
    },
  };
}
