/**
 * The client side of the intent channel (`/owp/intents`, docs/PROTOCOL.md "Intent channel"):
 * one WebSocket, requests pipelined and matched to their answers by message id.
 *
 * Invariants:
 * - Never more than the hello's `maxInFlight` requests in flight: more wait here, in order,
 *   so the relay's cap is never what says no.
 * - `connect` resolves only after the relay's hello, whose protocol major must be ours
 *   (else ChannelUnavailable, and the caller uses HTTP); it sends `OWP-Protocol`.
 * - A socket that closes fails every request still waiting with ChannelDropped: the caller
 *   may resend it (over HTTP or a new socket) under the same intentId, which is safe.
 * - The token goes only in the Authorization header of the upgrade, never in the URL.
 */
import { WebSocket } from 'ws';
import { INTENTS_PATH, type IntentAnswer, type IntentHello, type IntentOp, type MessageId } from '../../shared/intent-channel.js';
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from '../../shared/protocol.js';

/** The relay did not open the channel (not offered, refused, unreachable). */
export class ChannelUnavailable extends Error {
  constructor(
    message: string,
    /** The relay's close code, when it refused with one (4401, 4429, ...). */
    readonly closeCode?: number,
  ) {
    super(message);
  }
}

/** The socket closed before this request was answered; its outcome is unknown here. */
export class ChannelDropped extends Error {}

interface Pending {
  resolve(a: IntentAnswer): void;
  reject(e: Error): void;
}

export class IntentSocket {
  private nextId = 1;
  private readonly pending = new Map<MessageId, Pending>();
  private readonly waiting: (() => void)[] = [];
  private closedWith?: string;

  private constructor(
    private readonly ws: WebSocket,
    readonly hello: IntentHello,
  ) {
    ws.on('message', (data: Buffer) => this.onAnswer(data));
    ws.on('close', (code, reason) => this.dropAll(`the intent channel closed (${code}${reason.length ? `: ${reason.toString()}` : ''})`));
  }

  /** Open the channel of the relay at `url` (http(s)://...): resolves after its hello. */
  static connect(url: string, token: string, timeoutMs = 10_000): Promise<IntentSocket> {
    const wsUrl = url.replace(/^http/i, 'ws').replace(/\/+$/, '') + INTENTS_PATH;
    return new Promise<IntentSocket>((resolve, reject) => {
      const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${token}`, [PROTOCOL_HEADER]: PROTOCOL_VERSION }, handshakeTimeout: timeoutMs });
      const fail = (e: ChannelUnavailable) => {
        clearTimeout(timer);
        ws.removeAllListeners();
        ws.on('error', () => undefined);
        ws.terminate();
        reject(e);
      };
      const timer = setTimeout(() => fail(new ChannelUnavailable(`no hello from ${wsUrl} within ${timeoutMs} ms`)), timeoutMs);
      ws.on('unexpected-response', (_req, res) => fail(new ChannelUnavailable(`the relay answered ${res.statusCode} to ${INTENTS_PATH}: it does not offer the intent channel`)));
      ws.on('error', (e) => fail(new ChannelUnavailable(`cannot open ${wsUrl}: ${e.message}`)));
      ws.on('close', (code, reason) => fail(new ChannelUnavailable(`the relay closed ${INTENTS_PATH} (${code}${reason.length ? `: ${reason.toString()}` : ''})`, code)));
      ws.once('message', (data: Buffer) => {
        let hello: IntentHello | undefined;
        try {
          hello = JSON.parse(data.toString('utf8')) as IntentHello;
        } catch {
          hello = undefined;
        }
        if (hello?.type !== 'hello' || typeof hello.protocol !== 'string' || !(hello.maxInFlight >= 1))
          return fail(new ChannelUnavailable(`the relay's first message on ${INTENTS_PATH} is not a hello`));
        if (hello.protocol.split('.')[0] !== PROTOCOL_VERSION.split('.')[0])
          return fail(new ChannelUnavailable(`the relay speaks protocol ${hello.protocol} on ${INTENTS_PATH}, this client ${PROTOCOL_VERSION}`));
        clearTimeout(timer);
        ws.removeAllListeners();
        ws.on('error', () => undefined);
        resolve(new IntentSocket(ws, hello));
      });
    });
  }

  get open(): boolean {
    return this.closedWith === undefined && this.ws.readyState === WebSocket.OPEN;
  }

  /** Requests sent and not yet answered. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Send one request (the HTTP body of the op's route); resolves with the relay's answer. */
  async request(op: IntentOp, task: string | undefined, body: Record<string, unknown>): Promise<IntentAnswer> {
    while (this.pending.size >= this.hello.maxInFlight && this.open) await new Promise<void>((r) => this.waiting.push(r));
    if (!this.open) throw new ChannelDropped(this.closedWith ?? 'the intent channel is closed');
    const id = this.nextId++;
    return new Promise<IntentAnswer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, op, ...(task !== undefined ? { task } : {}), body }), (err) => {
        if (err) this.settle(id)?.reject(new ChannelDropped(`sending on the intent channel failed: ${err.message}`));
      });
    });
  }

  close(): void {
    this.dropAll('the intent channel was closed by this client');
    this.ws.close(1000);
  }

  private settle(id: MessageId): Pending | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    this.waiting.shift()?.();
    return p;
  }

  private onAnswer(data: Buffer): void {
    let a: IntentAnswer;
    try {
      a = JSON.parse(data.toString('utf8')) as IntentAnswer;
    } catch {
      return;
    }
    if (a?.type !== 'answer') return;
    if (a.id === null) {
      // A message the relay could not read: only a bug of this client sends one. Fail them all.
      for (const id of [...this.pending.keys()]) this.settle(id)?.resolve(a);
      return;
    }
    this.settle(a.id)?.resolve(a);
  }

  private dropAll(why: string): void {
    this.closedWith ??= why;
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(new ChannelDropped(why));
    for (const w of this.waiting.splice(0)) w();
  }
}
