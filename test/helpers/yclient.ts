/**
 * A stock y-websocket client for tests (real WebSocket, BroadcastChannel off so two
 * clients in one process cannot bypass the relay).
 */
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';
import { waitFor } from './relay.js';

export interface YClient {
  doc: Y.Doc;
  provider: WebsocketProvider;
  destroy(): void;
}

export async function connectDoc(wsUrl: string, docName: string, token: string, timeoutMs = 10_000): Promise<YClient> {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(wsUrl, docName, doc, {
    WebSocketPolyfill: WebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    params: { token },
  });
  await waitFor(() => provider.synced, timeoutMs, `sync of ${docName}`);
  return {
    doc,
    provider,
    destroy() {
      provider.destroy();
      doc.destroy();
    },
  };
}
