/**
 * The conformance suite's view of a relay: plain HTTP (fetch) and plain y-websocket sockets
 * (ws + y-protocols), nothing of the reference relay's code, so any relay can be checked.
 *
 * Invariants: every socket opened here is closed by `closeAll`; an HTTP call never throws
 * for a status (the caller checks it), only when the relay cannot be reached.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { WebSocket } from 'ws';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { MESSAGE_SYNC, PROTOCOL_HEADER, YJS_PATH } from '../../shared/protocol.js';

export interface Answer {
  status: number;
  headers: Headers;
  /** The parsed JSON body (undefined when not JSON). */
  json: Record<string, unknown> | undefined;
}

export class Http {
  /** Every answer of the run, in order (OWP-ERR-4 reads the error codes the relay used). */
  readonly answers: { what: string; answer: Answer }[] = [];

  constructor(readonly url: string) {}

  async call(method: string, path: string, token?: string, body?: unknown, raw?: string, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await fetch(this.url + path, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined || raw !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = undefined;
    }
    const answer = { status: res.status, headers: res.headers, json };
    this.answers.push({ what: `${method} ${path.split('?')[0]}`, answer });
    return answer;
  }
}

/** One Server-Sent Event. */
export interface StreamEvent {
  event: string;
  id?: string;
  data: string;
}

/** A `GET /api/events` stream read event by event (comments and `retry:` skipped). */
export class EventStream {
  private readonly ctl = new AbortController();
  private reader?: ReadableStreamDefaultReader<Uint8Array>;
  private buffer = '';
  private readonly decoder = new TextDecoder();
  status = 0;
  contentType = '';

  private constructor() {}

  static async open(url: string, token: string, lastEventId?: string): Promise<EventStream> {
    const s = new EventStream();
    const res = await fetch(`${url}/api/events`, {
      headers: { authorization: `Bearer ${token}`, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
      signal: s.ctl.signal,
    });
    s.status = res.status;
    s.contentType = res.headers.get('content-type') ?? '';
    s.reader = res.body?.getReader();
    return s;
  }

  /** The next event, or undefined when the stream ended. */
  async next(what = 'the next event'): Promise<StreamEvent | undefined> {
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const ev: StreamEvent = { event: 'message', data: '' };
        let fields = 0;
        for (const line of block.split('\n')) {
          const m = /^(event|id|data): ?(.*)$/.exec(line);
          if (!m) continue;
          fields++;
          if (m[1] === 'event') ev.event = m[2]!;
          else if (m[1] === 'id') ev.id = m[2]!;
          else ev.data += (ev.data ? '\n' : '') + m[2]!;
        }
        if (fields > 0 && (ev.data || ev.id)) return ev;
        continue;
      }
      if (!this.reader) return undefined;
      const { value, done } = await within(this.reader.read(), what);
      if (done) return undefined;
      this.buffer += this.decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
    }
  }

  close(): void {
    this.ctl.abort();
  }
}

/** A socket on one document, keeping a local copy of it in sync. */
export interface DocSocket {
  doc: Y.Doc;
  /** Resolves once the relay's state arrived (its sync step 2). */
  synced: Promise<void>;
  /** Resolves with the close code and reason when the socket closes. */
  closed: Promise<{ code: number; reason: string }>;
  /** The relay's `OWP-Protocol` on its 101 answer (undefined when absent or never upgraded). */
  version: Promise<string | undefined>;
  /** Send a Yjs update as a y-websocket update message. */
  sendUpdate(update: Uint8Array): void;
  close(): void;
}

const frame = (write: (e: encoding.Encoder) => void) => {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, MESSAGE_SYNC);
  write(e);
  return encoding.toUint8Array(e);
};

export class Sockets {
  private readonly open = new Set<WebSocket>();

  constructor(private readonly httpUrl: string) {}

  /** `version.header` / `version.query`: name a protocol version in the `OWP-Protocol` header / the `?protocol=` parameter. */
  connect(docName: string, token: string | undefined, version: { header?: string; query?: string } = {}): DocSocket {
    const base = this.httpUrl.replace(/^http/, 'ws');
    const query = new URLSearchParams({ ...(token ? { token } : {}), ...(version.query !== undefined ? { protocol: version.query } : {}) }).toString();
    const ws = new WebSocket(`${base}${YJS_PATH}/${docName}${query ? `?${query}` : ''}`, version.header !== undefined ? { headers: { [PROTOCOL_HEADER]: version.header } } : {});
    this.open.add(ws);
    const answered = new Promise<string | undefined>((resolve) => {
      ws.once('upgrade', (res) => resolve(res.headers[PROTOCOL_HEADER.toLowerCase()] as string | undefined));
      ws.once('close', () => resolve(undefined));
    });
    const doc = new Y.Doc();
    let markSynced!: () => void;
    const synced = new Promise<void>((r) => (markSynced = r));
    const closed = new Promise<{ code: number; reason: string }>((resolve) => {
      ws.on('close', (code, reason) => {
        this.open.delete(ws);
        resolve({ code, reason: reason.toString('utf8') });
      });
      ws.on('error', () => undefined);
    });
    const send = (msg: Uint8Array) => {
      if (ws.readyState === ws.OPEN) ws.send(msg);
    };
    ws.on('open', () => send(frame((e) => syncProtocol.writeSyncStep1(e, doc))));
    ws.on('message', (data: Buffer) => {
      const d = decoding.createDecoder(new Uint8Array(data));
      if (decoding.readVarUint(d) !== MESSAGE_SYNC) return;
      const reply = encoding.createEncoder();
      encoding.writeVarUint(reply, MESSAGE_SYNC);
      const type = syncProtocol.readSyncMessage(d, reply, doc, 'relay');
      if (encoding.length(reply) > 1) send(encoding.toUint8Array(reply));
      if (type === syncProtocol.messageYjsSyncStep2) markSynced();
    });
    return {
      doc,
      synced,
      closed,
      version: answered,
      sendUpdate: (update) => send(frame((e) => syncProtocol.writeUpdate(e, update))),
      close: () => ws.close(1000),
    };
  }

  closeAll(): void {
    for (const ws of this.open) ws.terminate();
    this.open.clear();
  }
}

/** Wait until `fn` is truthy (polling every 50 ms), or fail with `what` after `ms`. */
export async function until<T>(fn: () => T | Promise<T>, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resolve with `p`, or fail after `ms` saying what did not happen. */
export function within<T>(p: Promise<T>, what: string, ms = 10_000): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms).unref())]);
}
