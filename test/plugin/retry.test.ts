/**
 * A 4429 close ("not now": too many sockets for this token, or a braked address) is
 * temporary: the plugin's client pauses and retries, it does not stop for good as it does
 * on the other 44xx codes. Real relay, real y-websocket providers, real sockets.
 */
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';
import { newMachine } from '../helpers/plugin-vault.js';
import { configurePlatform } from '../../plugin/sync/platform.js';
import { PoolClient, RETRY_FIRST_MS } from '../../plugin/sync/client.js';

const g = globalThis as unknown as { window?: unknown };
if (g.window === undefined) g.window = globalThis;

let r: TestRelay | undefined;
let client: PoolClient | undefined;
afterEach(async () => {
  await client?.destroy();
  client = undefined;
  await r?.close();
  r = undefined;
  configurePlatform();
});

describe('plugin client and close code 4429', () => {
  it('pauses and retries after 4429, connects once a slot is free, and never reports a fatal stop', async () => {
    r = await startTestRelay({ limits: { socketsPerToken: 3 } });
    const token = await r.token('worker', 'w1');
    newMachine();
    configurePlatform({ WebSocket, disableBc: true, now: () => Date.now() });

    // Hold one of the token's three slots, so the client's third socket is refused with 4429.
    const blocker = new WebSocket(`${r.wsUrl}/owp/board?token=${encodeURIComponent(token)}`);
    await new Promise<void>((resolve, reject) => {
      blocker.once('open', () => resolve());
      blocker.once('error', reject);
    });

    const fatal: number[] = [];
    client = new PoolClient({ relayUrl: r.url, token, vaultId: 'v1', role: 'worker', workerId: 'w1', onFatal: (code) => fatal.push(code) });
    await client.start();
    await waitFor(() => client!.retryDelayMs > 0, 15_000, 'a 4429 and a retry planned');
    expect(client.retryDelayMs).toBe(RETRY_FIRST_MS);
    expect(client.status).not.toBe('stopped');

    blocker.close();
    await waitFor(() => client!.status === 'connected', 30_000, 'connected after the retry');
    expect(client.retryDelayMs).toBe(0);
    expect(fatal).toEqual([]);
  });
});
