/**
 * Outgoing notifications against a local HTTP receiver (real HTTP), from a real relay:
 * Slack-compatible JSON, HMAC signatures, retry with backoff after a 500, nothing sent
 * when off, and the pure message rules.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Notifier, signNotification } from '../../server/notify/index.js';
import { escapeSlack, messagesFor } from '../../server/notify/messages.js';
import { quietLogger, startTestRelay, waitFor, type TestRelay } from '../helpers/relay.js';

const SECRET = 'notify-secret-for-tests';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

let receiver: Server;
let url: string;
const received: Received[] = [];
/** Status codes to answer, one per request, then 200. */
const answers: number[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(answers.shift() ?? 200).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const addr = receiver.address();
  url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/hooks/secret-path`;
});

afterAll(async () => {
  await new Promise<void>((r) => receiver.close(() => r()));
});

const events = (kind: string) => received.filter((x) => x.headers['x-owp-event'] === kind);

describe('notifications from a relay', () => {
  let r: TestRelay;
  let maint: string;
  let worker: string;

  beforeAll(async () => {
    r = await startTestRelay({ notify: { url, secret: SECRET, backoffMs: 20 } });
    maint = await r.token('maintainer');
    worker = await r.token('worker', 'nw');
    await r.api(maint, 'PUT', '/api/repos/acme/notes', { repo: 'acme/notes', reviewBudget: 1, maxAttempts: 1 });
    await r.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id: 'acme/notes:a', repo: 'acme/notes', title: 'Fix <!channel> & more' }, { id: 'acme/notes:b', repo: 'acme/notes', title: 'B' }] });
    await r.api(worker, 'POST', '/api/workers/register', { skills: [], capacity: 10, maxConcurrent: 3 });
  });

  afterAll(async () => {
    await r?.close();
  });

  it('PR awaiting review, budget full and budget freed arrive signed, Slack-compatible, retried after a 500', async () => {
    answers.push(500);
    const claim = await r.api(worker, 'POST', '/api/claim', { taskId: 'acme/notes:a' });
    expect(claim.status).toBe(200);
    await r.api(worker, 'POST', `/api/tasks/${encodeURIComponent('acme/notes:a')}/submit`, { fencingToken: claim.body.outcome.fencingToken, prUrl: 'https://github.com/acme/notes/pull/7' });
    await waitFor(() => events('pr-awaiting-review').length > 0 && events('review-budget-full').length > 0, 20_000, 'notifications');
    const full = events('review-budget-full');
    // The first delivery got a 500 and was sent again with the same delivery id.
    expect(full.length).toBe(2);
    expect(full[0]!.headers['x-owp-delivery']).toBe(full[1]!.headers['x-owp-delivery']);
    const pr = events('pr-awaiting-review')[0]!;
    const body = JSON.parse(pr.body);
    expect(body.text).toContain('PR awaiting review: acme/notes:a "Fix &lt;!channel&gt; &amp; more" by nw https://github.com/acme/notes/pull/7');
    expect(body.owp).toMatchObject({ event: 'pr-awaiting-review', taskId: 'acme/notes:a', repo: 'acme/notes', workerId: 'nw' });
    const ts = pr.headers['x-owp-timestamp'] as string;
    expect(pr.headers['x-owp-signature-256']).toBe(signNotification(SECRET, ts, pr.body));
    expect(pr.headers['x-owp-signature-256']).not.toBe(signNotification('wrong', ts, pr.body));
    expect(JSON.parse(full[1]!.body).owp).toMatchObject({ repo: 'acme/notes', reviewBudget: 1, inUse: 1, full: true });

    await r.api(maint, 'POST', `/api/tasks/${encodeURIComponent('acme/notes:a')}/review`, { result: 'merged' });
    await waitFor(() => events('review-budget-freed').length > 0, 20_000, 'freed');
    expect(JSON.parse(events('review-budget-freed')[0]!.body).text).toBe('Review budget freed in acme/notes: 0 of 1 in use; claims resume.');
  });

  it('a task that runs out of attempts is reported stuck', async () => {
    const claim = await r.api(worker, 'POST', '/api/claim', { taskId: 'acme/notes:b' });
    expect(claim.status).toBe(200);
    await r.api(worker, 'POST', `/api/tasks/${encodeURIComponent('acme/notes:b')}/fail`, { fencingToken: claim.body.outcome.fencingToken, reason: 'cannot build' });
    await waitFor(() => events('task-stuck').length > 0, 20_000, 'stuck');
    expect(JSON.parse(events('task-stuck')[0]!.body).text).toMatch(/^Task stuck: acme\/notes:b "B": Stuck after 1 attempt\(s\); last: cannot build/);
  });
});

describe('the notifier', () => {
  it('is off without a URL: a relay without it sends nothing', async () => {
    const before = received.length;
    const r = await startTestRelay();
    const maint = await r.token('maintainer');
    await r.api(maint, 'PUT', '/api/repos/acme/quiet', { repo: 'acme/quiet', reviewBudget: 0 });
    await r.api(maint, 'POST', '/api/tasks', { createRepo: true, tasks: [{ id: 'acme/quiet:a', repo: 'acme/quiet', title: 'A' }] });
    await r.relay.engine.flush();
    await r.close();
    expect(received.length).toBe(before);
  });

  it('gives up after its attempts on 5xx, and at once on another 4xx, without blocking the caller', async () => {
    const n = new Notifier({ url, attempts: 3, backoffMs: 5, log: quietLogger, now: Date.now });
    const before = received.length;
    answers.push(503, 503, 503, 404);
    const gauges = () => ({ 'o/r': { prOpen: 1, leased: 0, reviewBudget: 1, inUse: 1, full: true } });
    const fact = { kind: 'pr' as const, at: 1, taskId: 'o/r:a', repo: 'o/r', points: 1, tier: 0 as const, workerId: 'w' };
    n.onBatch([], [fact], gauges, () => undefined);
    await n.idle();
    expect(received.length - before).toBe(4); // 3 tries of the PR message, 1 of the budget one (404)
    expect(n.stats).toMatchObject({ delivered: 0, failed: 2, retries: 2 });
    n.stop();
  });

  it('message rules: a budget crossing is told once each way; titles are escaped', () => {
    const full = new Set<string>();
    const g = (inUse: number) => ({ 'o/r': { prOpen: inUse, leased: 0, reviewBudget: 2, inUse, full: inUse >= 2 } });
    expect(messagesFor([], [], g(1), full, () => undefined)).toEqual([]);
    expect(messagesFor([], [], g(2), full, () => undefined).map((m) => m.event)).toEqual(['review-budget-full']);
    expect(messagesFor([], [], g(2), full, () => undefined)).toEqual([]);
    expect(messagesFor([], [], g(1), full, () => undefined).map((m) => m.event)).toEqual(['review-budget-freed']);
    expect(escapeSlack('<@U1> & <https://x|y>')).toBe('&lt;@U1&gt; &amp; &lt;https://x|y&gt;');
  });
});
