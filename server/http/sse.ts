/**
 * `GET /api/events`: Server-Sent Events of the board and the ledger.
 *
 * Invariants:
 * - A stream starts with `event: snapshot` (`{ board, ledger, recent, profiles }`), then `ledger` and `board`
 *   deltas in the order they happened, each with a growing `id: <epoch>-<seq>`.
 * - `Last-Event-ID` (header, or `?lastEventId=`) from this relay process and still in the
 *   replay buffer resumes exactly after that event; anything else gets a fresh snapshot.
 * - Token by bearer header or `?token=`; with `publicDashboard` no token is needed. A
 *   revoked token's streams are closed at once.
 * - Buffered deltas hold the batch's own objects (never mutated after the batch) and are
 *   serialised once, when first sent.
 * - A client that does not read (over MAX_BUFFERED bytes pending) is dropped, never
 *   allowed to grow the relay's memory.
 * - Bounded: at most `maxClients` streams (default 1000) and `maxPerCaller` (default 32) per
 *   token (per address without one); past that 429 `rate-limited`. The replay buffer holds
 *   at most `bufferSize` (default 1000) deltas and `bufferBytes` (default 64 MiB) of rendered
 *   text; board deltas (human-paced, up to a request body each) are rendered when published so
 *   they count at once. Older deltas are dropped first; a resume from a dropped id gets a
 *   fresh snapshot. Refused tokens are braked per address by
 *   the relay's AuthGuard, like every other route.
 */
import type { ServerResponse } from 'node:http';
import { EVENT } from '../../shared/protocol.js';
import { AuthGuard, DEFAULT_AUTH_FAILURE_LIMIT } from '../auth/guard.js';
import { tokenFromRequest, type TokenStore } from '../auth/index.js';
import { socketAddress, type AddressOf } from './client-address.js';
import type { BoardDelta, BoardView } from '../engine/board.js';
import type { Engine } from '../engine/engine.js';
import type { PublicProfiles } from '../engine/public-profiles.js';
import type { Logger, Route } from '../ports.js';
import { refusal, RetryLater } from './router.js';

const MAX_BUFFERED = 8 * 1024 * 1024;

interface Client {
  res: ServerResponse;
  tokenId?: string;
  /** Token id, or address for an anonymous (public dashboard) stream. */
  caller: string;
}

interface Buffered {
  seq: number;
  event: string;
  data: unknown;
  /** Serialised on first use: with nobody listening, a batch costs no JSON. */
  text?: string;
}


export interface EventHubOptions {
  engine: Engine;
  board: BoardView;
  /** The public worker projection (engine/public-profiles.ts): in the snapshot, and as `ledger` deltas `{ batch, profiles }`. */
  profiles?: Pick<PublicProfiles, 'all' | 'onChange'>;
  tokens: TokenStore;
  log: Logger;
  publicDashboard: boolean;
  pingMs?: number;
  bufferSize?: number;
  /** Rendered bytes the replay buffer may hold (default 64 MiB). */
  bufferBytes?: number;
  maxClients?: number;
  maxPerCaller?: number;
  /** The relay's shared brake on refused tokens; default: one of its own. */
  guard?: AuthGuard;
  /** The client's address for the brake and the per-caller cap (default: the socket's). */
  addressOf?: AddressOf;
}

export class EventHub {
  private readonly epoch = Date.now().toString(36);
  private seq = 0;
  private readonly buffer: Buffered[] = [];
  /** Characters of rendered text held by `buffer`. */
  private bufferedChars = 0;
  private readonly clients = new Set<Client>();
  private readonly ping: NodeJS.Timeout;
  private readonly offs: (() => void)[] = [];
  private readonly perCaller = new Map<string, number>();
  private readonly guard: AuthGuard;

  constructor(private readonly o: EventHubOptions) {
    this.guard = o.guard ?? new AuthGuard(o.tokens, DEFAULT_AUTH_FAILURE_LIMIT);
    this.offs.push(
      o.engine.onBatch((br, diff) => {
        const data: Record<string, unknown> = { batch: br.batch };
        if (Object.keys(diff.tasks).length) data.tasks = diff.tasks;
        if (Object.keys(diff.workers).length) data.workers = diff.workers;
        if (Object.keys(diff.outcomes).length) data.outcomes = diff.outcomes;
        if (br.events.length) data.events = br.events;
        if (Object.keys(data).length > 1) this.publish(EVENT.ledger, data);
      }),
    );
    this.offs.push(o.board.onChange((d: BoardDelta) => this.publish(EVENT.board, d)));
    if (o.profiles) this.offs.push(o.profiles.onChange((profiles) => this.publish(EVENT.ledger, { batch: o.engine.ledger().batch, profiles })));
    this.offs.push(
      o.tokens.onRevoke((tokenId) => {
        for (const c of [...this.clients]) if (c.tokenId === tokenId) this.drop(c);
      }),
    );
    this.ping = setInterval(() => {
      for (const c of [...this.clients]) this.write(c, ': ping\n\n');
    }, o.pingMs ?? 15_000);
    this.ping.unref?.();
  }

  get size(): number {
    return this.clients.size;
  }

  private id(seq: number): string {
    return `${this.epoch}-${seq}`;
  }

  private render(b: Buffered): string {
    if (b.text === undefined) {
      b.text = `id: ${this.id(b.seq)}\nevent: ${b.event}\ndata: ${JSON.stringify(b.data)}\n\n`;
      if (this.buffer.includes(b)) this.bufferedChars += b.text.length;
    }
    return b.text;
  }

  private trim(): void {
    const maxChars = this.o.bufferBytes ?? 64 * 1024 * 1024;
    while (this.buffer.length > (this.o.bufferSize ?? 1000) || (this.bufferedChars > maxChars && this.buffer.length > 0)) {
      const gone = this.buffer.shift()!;
      if (gone.text !== undefined) this.bufferedChars -= gone.text.length;
    }
  }

  private publish(event: string, data: unknown): void {
    this.seq += 1;
    const b: Buffered = { seq: this.seq, event, data };
    this.buffer.push(b);
    if (event === EVENT.board) this.render(b);
    this.trim();
    if (this.clients.size === 0) return;
    const text = this.render(b);
    for (const c of [...this.clients]) this.write(c, text);
  }

  private write(c: Client, text: string): void {
    if (c.res.writableLength > MAX_BUFFERED) {
      this.drop(c);
      return;
    }
    c.res.write(text);
  }

  private drop(c: Client): void {
    this.forget(c);
    c.res.end();
  }

  private forget(c: Client): void {
    if (!this.clients.delete(c)) return;
    const n = (this.perCaller.get(c.caller) ?? 1) - 1;
    if (n > 0) this.perCaller.set(c.caller, n);
    else this.perCaller.delete(c.caller);
  }

  private snapshot(): string {
    return `id: ${this.id(this.seq)}\nevent: ${EVENT.snapshot}\ndata: ${JSON.stringify({ board: this.o.board.board(), ledger: this.o.engine.visibleLedger(), recent: this.o.engine.recent(), profiles: this.o.profiles?.all() ?? {} })}\n\n`;
  }

  route(): Route {
    return {
      method: 'GET',
      path: '/api/events',
      auth: 'none',
      handler: (ctx) => {
        const token = tokenFromRequest(ctx.req);
        let tokenId: string | undefined;
        if (token !== undefined || !this.o.publicDashboard) {
          const check = this.guard.check(token, (this.o.addressOf ?? socketAddress)(ctx.req));
          if (!check.ok) throw refusal(check);
          tokenId = check.principal.tokenId;
        }
        const caller = tokenId !== undefined ? `t:${tokenId}` : `a:${(this.o.addressOf ?? socketAddress)(ctx.req) ?? '?'}`;
        if (this.clients.size >= (this.o.maxClients ?? 1000)) {
          throw new RetryLater('The relay has as many event streams open as it allows; retry in a minute, or close other dashboards.', 60);
        }
        if ((this.perCaller.get(caller) ?? 0) >= (this.o.maxPerCaller ?? 32)) {
          throw new RetryLater('This token has too many event streams open; close other tabs or dashboards that use it, then retry.', 10);
        }
        const res = ctx.res;
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          connection: 'keep-alive',
          'x-accel-buffering': 'no',
        });
        res.flushHeaders();
        const c: Client = { res, tokenId, caller };
        const last = (ctx.req.headers['last-event-id'] as string | undefined) ?? ctx.url.searchParams.get('lastEventId') ?? undefined;
        let resumed = false;
        if (last) {
          const m = /^([0-9a-z]+)-(\d+)$/.exec(last);
          const seq = m && m[1] === this.epoch ? Number(m[2]) : NaN;
          const oldest = this.buffer.length ? this.buffer[0].seq : this.seq + 1;
          if (Number.isFinite(seq) && seq <= this.seq && seq >= oldest - 1) {
            res.write('retry: 2000\n\n');
            for (const b of this.buffer) if (b.seq > seq) res.write(this.render(b));
            this.trim();
            resumed = true;
          }
        }
        if (!resumed) res.write('retry: 2000\n\n' + this.snapshot());
        this.clients.add(c);
        this.perCaller.set(caller, (this.perCaller.get(caller) ?? 0) + 1);
        ctx.req.on('close', () => this.forget(c));
      },
    };
  }

  close(): void {
    clearInterval(this.ping);
    for (const off of this.offs) off();
    for (const c of [...this.clients]) this.drop(c);
  }
}
