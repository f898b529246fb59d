/**
 * The conformance checks of the intent channel (docs/PROTOCOL.md, OWP-CHAN-1..3): a bare
 * `ws` client, nothing of the reference relay's code. A relay that does not offer the channel
 * (the upgrade gets no 101) passes them: offering it is a MAY.
 *
 * Invariants: the checks change no task (a refused heartbeat, a heartbeat with the current
 * token, refused claims); every socket opened here is closed before the check returns.
 */
import { WebSocket } from 'ws';
import { INTENTS_PATH } from '../../shared/intent-channel.js';
import { CLOSE, PROTOCOL_HEADER, PROTOCOL_VERSION } from '../../shared/protocol.js';
import { within, type Answer } from './client.js';
import { fail, type Requirement } from './expect.js';
import type { RunContext } from './run.js';


interface Msg {
  type?: string;
  id?: unknown;
  status?: number;
  body?: { error?: { code?: string; message?: string; field?: string }; outcome?: Record<string, unknown> };
  protocol?: string;
  maxInFlight?: number;
  ops?: string[];
}

/** One channel socket: what it received, and whether the relay opened it at all. */
class Channel {
  readonly got: Msg[] = [];
  private readonly ws: WebSocket;
  readonly opened: Promise<'open' | 'not-offered'>;
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: (() => void)[] = [];

  constructor(url: string, token: string | undefined) {
    this.ws = new WebSocket(url.replace(/^http/, 'ws') + INTENTS_PATH, { headers: { [PROTOCOL_HEADER]: PROTOCOL_VERSION, ...(token ? { authorization: `Bearer ${token}` } : {}) } });
    this.opened = new Promise((resolve) => {
      this.ws.once('open', () => resolve('open'));
      this.ws.once('unexpected-response', (req) => {
        req.destroy();
        resolve('not-offered');
      });
      this.ws.once('error', () => resolve('not-offered'));
    });
    this.closed = new Promise((resolve) => this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.ws.on('error', () => undefined);
    this.ws.on('message', (d: Buffer) => {
      try {
        this.got.push(JSON.parse(d.toString('utf8')) as Msg);
      } catch {
        this.got.push({ type: 'not-json' });
      }
      for (const w of this.waiters.splice(0)) w();
    });
  }

  private next(match: (m: Msg) => boolean, what: string): Promise<Msg> {
    const find = () => this.got.find(match);
    return within(
      new Promise<Msg>((resolve) => {
        const look = () => {
          const m = find();
          if (m) resolve(m);
          else this.waiters.push(look);
        };
        look();
      }),
      what,
    );
  }

  hello(): Promise<Msg> {
    return this.next((m) => m.type === 'hello', 'the hello on /owp/intents');
  }

  ask(m: Record<string, unknown>): Promise<Msg> {
    this.ws.send(JSON.stringify(m));
    return this.next((a) => a.type === 'answer' && a.id === m.id, `the answer to message ${String(m.id)}`);
  }

  close(): void {
    this.ws.terminate();
  }
}

/** Open a channel for `token`; undefined when the relay does not offer one. */
async function open(c: RunContext, token: string): Promise<Channel | undefined> {
  const ch = new Channel(c.http.url, token);
  if ((await within(ch.opened, 'the /owp/intents upgrade')) === 'not-offered') return undefined;
  await ch.hello();
  return ch;
}

const sansIds = (b: unknown) => {
  const v = b as { outcome?: Record<string, unknown> } | undefined;
  return JSON.stringify(v?.outcome ? { ...v, outcome: { ...v.outcome, intentId: 0, batch: 0, at: 0 } } : v);
};

function same(ws: Msg, http: Answer, what: string): void {
  if (ws.status !== http.status || sansIds(ws.body) !== sansIds(http.json))
    fail(`${what}: the channel answered ${ws.status} ${JSON.stringify(ws.body).slice(0, 300)}, HTTP ${http.status} ${JSON.stringify(http.json).slice(0, 300)}`);
}

export const CHAN_1: Requirement = {
  id: 'OWP-CHAN-1',
  level: 'MUST',
  title: 'the intent channel, where offered, admits sockets as HTTP admits requests and says hello first',
  async check(c) {
    const none = new Channel(c.http.url, undefined);
    try {
      if ((await within(none.opened, 'the /owp/intents upgrade')) === 'not-offered') return;
      const closed = await within(none.closed, 'the relay to close a channel without a token');
      if (closed.code !== CLOSE.unauthorized) fail(`a channel without a token was closed with ${closed.code}, not ${CLOSE.unauthorized}`);
      if (none.got.length > 0) fail('a channel without a token received a message before it was closed');
    } finally {
      none.close();
    }
    const ch = await open(c, c.a.token);
    try {
      const hello = await ch!.hello();
      if (hello.protocol?.split('.')[0] !== PROTOCOL_VERSION.split('.')[0]) fail(`the hello names protocol ${hello.protocol}`);
      if (!(Number(hello.maxInFlight) >= 1)) fail(`the hello's maxInFlight is ${hello.maxInFlight}`);
      for (const op of ['claim', 'heartbeat', 'complete']) if (!hello.ops?.includes(op)) fail(`the hello's ops lack ${op}`);
    } finally {
      ch?.close();
    }
  },
};

export const CHAN_2: Requirement = {
  id: 'OWP-CHAN-2',
  level: 'MUST',
  title: 'each channel request gets the HTTP status and body the same request gets over HTTP',
  async check(c) {
    const ch = await open(c, c.a.token);
    if (!ch) return;
    try {
      const task = c.taskIds[0]!;
      const path = `/api/tasks/${encodeURIComponent(task)}/heartbeat`;
      const cases: [string, Record<string, unknown>, string, Record<string, unknown>][] = [
        ['a heartbeat with a wrong token', { op: 'heartbeat', task, body: { fencingToken: c.fencing + 1 } }, path, { fencingToken: c.fencing + 1 }],
        ['a claim with an unknown field', { op: 'claim', body: { task_id: task } }, '/api/claim', { task_id: task }],
      ];
      for (const [i, [what, msg, httpPath, body]] of cases.entries()) same(await ch.ask({ id: i + 1, ...msg }), await c.http.call('POST', httpPath, c.a.token, body), what);
      const ok = await ch.ask({ id: 10, op: 'heartbeat', task, body: { fencingToken: c.fencing } });
      if (ok.status !== 200 || ok.body?.outcome?.status !== 'applied') fail(`a heartbeat with the current token was answered ${ok.status} ${JSON.stringify(ok.body).slice(0, 200)}`);
      const extra = await ch.ask({ id: 11, op: 'heartbeat', task, body: { fencingToken: c.fencing }, extra: true });
      if (extra.status !== 400 || extra.body?.error?.code !== 'invalid-field' || extra.body.error.field !== 'extra') fail(`a message with an unknown field was answered ${extra.status} ${JSON.stringify(extra.body).slice(0, 200)}`);
    } finally {
      ch.close();
    }
  },
};

export const CHAN_3: Requirement = {
  id: 'OWP-CHAN-3',
  level: 'MUST',
  title: "answers go only to the socket that asked; another worker's intent id is refused conflict",
  async check(c) {
    const mine = await open(c, c.c.token);
    if (!mine) return;
    const other = await open(c, c.d.token);
    try {
      const a = await mine.ask({ id: 'reuse', op: 'claim', body: { taskId: c.taskIds[1], intentId: c.intentOfB } });
      if (a.status !== 409 || a.body?.error?.code !== 'conflict') fail(`reusing worker b's intent id was answered ${a.status} ${JSON.stringify(a.body).slice(0, 200)}`);
      if (a.body?.outcome && a.body.outcome.workerId !== c.c.id) fail("the answer carries worker b's outcome");
      const seen = other!.got.filter((m) => m.type !== 'hello');
      if (seen.length > 0) fail(`another worker's socket received ${JSON.stringify(seen[0]).slice(0, 200)}`);
    } finally {
      mine.close();
      other?.close();
    }
  },
};
