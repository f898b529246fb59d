/**
 * Error messages that name untrusted input (issue 14, item 10): whatever a request carries
 * (very long ids, newlines, ANSI escapes, bidirectional overrides, a value that looks like a
 * token), the relay's answer is bounded, holds no control character and never echoes a
 * token. Over real HTTP and a real socket against a real relay; the helpers themselves
 * (shared/errors.ts) by property with a fixed seed; the CLI's printing of a refusal.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MAX_MESSAGE_LENGTH, OwpError, quote, safeText, untrusted } from '../../../shared/errors.js';
import { Output } from '../../../server/cli/output.js';
import { fcOptions } from '../../helpers/fc.js';
import { startTestRelay, TEST_ADMIN_TOKEN, type TestRelay } from '../../helpers/relay.js';

const TOKEN = 'owp_Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbA';
const GH_TOKEN = 'ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789';
const ANSI = '\u001b[31mred\u001b[0m';
const HOSTILE = [`a\nb\r\nInjected: line`, ANSI, `x${'y'.repeat(10_000)}`, TOKEN, `Bearer ${GH_TOKEN}`, 'evil\u202etxt.exe', 'c1\u009bcsi', 'nul\u0000byte'];
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/**
 * Every message of an error answer (its own, an attached outcome's) and its field are safe:
 * bounded, no control character, no token. (Data fields, such as an outcome's own taskId, are
 * the caller's validated input, JSON-escaped.)
 */
function expectSafe(body: unknown, what = ''): void {
  const strings: string[] = [];
  const walk = (v: unknown) => {
    if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (typeof x === 'string' && (k === 'message' || k === 'field' || k === 'code')) strings.push(x);
        else walk(x);
      }
    }
  };
  walk(body);
  expect(strings.length).toBeGreaterThan(0);
  for (const s of strings) {
    expect(s.length, what).toBeLessThanOrEqual(MAX_MESSAGE_LENGTH);
    expect(s, what).not.toMatch(UNSAFE);
    expect(s, what).not.toContain(TOKEN.slice(4, 20));
    expect(s, what).not.toContain(GH_TOKEN.slice(4, 20));
  }
}

async function call(r: TestRelay, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(r.url + path, {
    method,
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text), text };
}

describe('error messages with hostile input', () => {
  let r: TestRelay;
  beforeAll(async () => {
    r = await startTestRelay();
    expect((await call(r, 'PUT', '/api/repos/hostile/repo', { reviewBudget: 2 })).status).toBe(200);
  });
  afterAll(async () => {
    await r?.close();
  });

  for (const [i, bad] of HOSTILE.entries()) {
    it(`answers a hostile value safely everywhere it is named (#${i}: ${JSON.stringify(bad.slice(0, 16))})`, async () => {
      const enc = encodeURIComponent(bad);
      const answers = [
        await call(r, 'GET', `/api/tasks/${enc}`),
        await call(r, 'GET', `/api/tasks/${enc}/explain`),
        await call(r, 'GET', `/no/such/${enc}`),
        await call(r, 'GET', `/api/tasks/${enc}/a/b/c`),
        await call(r, 'GET', `/api/repos/${enc}/x`),
        await call(r, 'DELETE', `/api/repos/${enc}/x`),
        await call(r, 'PUT', '/api/repos/hostile/repo', { repo: bad, reviewBudget: 2 }),
        await call(r, 'POST', '/api/tasks', { tasks: [{ [bad]: 1 }] }),
        await call(r, 'POST', '/api/claim', { taskId: bad, intentId: 'i-1', workerId: bad }),
        await call(r, 'GET', `/api/stats?since=${enc}`),
        await call(r, 'GET', `/api/stats?${enc}=1`),
        await call(r, 'GET', `/api/stats?repo=${enc}`),
      ];
      if (!/[\u0000-\u001f\u007f-\u00ff\u2028-\u206f]/.test(bad) && bad.length < 8000) answers.push(await call(r, 'GET', '/api/me', undefined, { 'OWP-Protocol': bad }));
      for (const [n, a] of answers.entries()) {
        expect(a.status, `answer ${n}: ${a.text.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
        expect(a.status).toBeLessThan(500);
        expectSafe(a.body, `answer ${n}`);
      }
    });
  }

  it('names a long id by its start, cut with …, and a short one whole', async () => {
    const long = await call(r, 'GET', `/api/tasks/${'z'.repeat(5000)}`);
    expect(long.body.error.message).toBe(`No task ${'z'.repeat(199)}…; list tasks with GET /api/tasks.`);
    const ansi = await call(r, 'GET', `/api/tasks/${encodeURIComponent(`o/r#1${ANSI}`)}`);
    expect(ansi.body.error.message).toBe('No task o/r#1\uFFFD[31mred\uFFFD[0m; list tasks with GET /api/tasks.');
    const token = await call(r, 'GET', `/api/stats?since=${TOKEN}`);
    expect(token.body.error.message).toContain('got "owp_…(redacted)"');
  });

  it('closes a socket asking for a hostile document name with a safe reason', async () => {
    for (const bad of [`${ANSI}\n${'d'.repeat(500)}`, TOKEN]) {
      const reason = await new Promise<string>((resolve, reject) => {
        const ws = new WebSocket(`${r.wsUrl}/${encodeURIComponent(bad)}?token=${TEST_ADMIN_TOKEN}`);
        ws.once('close', (_code, why) => resolve(why.toString('utf8')));
        ws.once('error', reject);
      });
      expect(reason).toMatch(/^not-found: /);
      expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
      expect(reason).not.toMatch(UNSAFE);
      expect(reason).not.toContain(TOKEN.slice(4, 20));
    }
  });
});

describe('the CLI prints a refusal it got from a relay', () => {
  it('without control characters (line feeds kept) or tokens', () => {
    let err = '';
    const out = new Output(false, { stdout: { write: () => true } as never, stderr: { write: (t: string) => ((err += t), true) } as never });
    out.refused(`bad\u001b[2Jcode`, `first line\nsecond ${ANSI} ${TOKEN}\u202e`);
    expect(err).toBe(`owp: bad\uFFFD[2Jcode: first line\nsecond \uFFFD[31mred\uFFFD[0m owp_…(redacted)\uFFFD\n`);
  });
});

describe('safeText, quote and untrusted (shared/errors.ts)', () => {
  it('bound, clean and redact any text; OwpError messages always pass through them', () => {
    const piece = fc.oneof(fc.string({ unit: 'binary', maxLength: 50 }), fc.constantFrom(TOKEN, GH_TOKEN, ANSI, '\n', '\u202e', '\u009b', `Bearer ${TOKEN.slice(4)}`));
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 80 }), fc.integer({ min: 2, max: 300 }), (parts, max) => {
        const text = parts.join('');
        // An OwpError keeps line feeds (messages listing one problem per line), nothing else.
        expect(new OwpError('invalid-field', text).message.replace(/\n/g, '')).not.toMatch(UNSAFE);
        for (const s of [safeText(text, max), untrusted(text, max), quote(text, max).slice(1, -1), new OwpError('invalid-field', text, text).field!]) {
          expect(s).not.toMatch(UNSAFE);
          expect(s).not.toContain(TOKEN.slice(4, 20));
          expect(s).not.toContain(GH_TOKEN.slice(4, 20));
        }
        expect(safeText(text, max).length).toBeLessThanOrEqual(max);
        expect(new OwpError('internal', text).message.length).toBeLessThanOrEqual(MAX_MESSAGE_LENGTH);
        // Plain text comes through unchanged.
        const plain = text.replace(/[^A-Za-z0-9 .,/#]/g, '');
        if (plain.length <= max && !/(owp|ghp)_|Bearer/i.test(plain)) expect(safeText(plain, max)).toBe(plain);
      }),
      fcOptions(300),
    );
  });

  it('keeps metric names, quotes values and shows objects as their kind', () => {
    expect(safeText('owp_claim_latency_seconds rose')).toBe('owp_claim_latency_seconds rose');
    expect(quote('say "hi"')).toBe('"say \\"hi\\""');
    expect(quote({ a: 1 })).toBe('(an object)');
    expect(untrusted([1])).toBe('(an array)');
    expect(untrusted(42)).toBe('42');
  });
});
