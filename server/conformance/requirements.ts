/**
 * The checks behind the numbered requirements of docs/PROTOCOL.md (OWP-<AREA>-<n>). Each
 * runs against a live relay through ./client.ts and throws an Error saying what it saw.
 *
 * Invariants: a check uses only the run's own repo, tasks and tokens (./run.ts makes them);
 * checks run in this order and later ones may rely on the state earlier ones left.
 */
import { randomUUID } from 'node:crypto';
import { BOARD_DOC, CLOSE, inboxDoc, LEDGER_DOC, PROTOCOL_HEADER, PROTOCOL_VERSION } from '../../shared/protocol.js';
import { HealthSchema, HeartbeatAnswerSchema, IntentAnswerSchema, OutcomeSchema } from '../../shared/wire.js';
import { CHAN_1, CHAN_2, CHAN_3 } from './channel.js';
import { EventStream, until, within } from './client.js';
import { addition, closeOf, expectStatus, fail, leaseOf, refusal, shape, type Requirement } from './expect.js';
import { ERR_4, EVT_2, LEASE_7, LEASE_8, VER_3, VER_4, VER_5 } from './more-requirements.js';

export type { Requirement };

export const REQUIREMENTS: readonly Requirement[] = [
  {
    id: 'OWP-VER-1',
    level: 'MUST',
    title: '/healthz answers without a token, with the protocol version',
    async check(c) {
      const a = await c.http.call('GET', '/healthz');
      expectStatus(a, 200, 'GET /healthz');
      shape(HealthSchema, a.json, 'the /healthz answer');
    },
  },
  {
    id: 'OWP-VER-2',
    level: 'MUST',
    title: `every HTTP answer carries the ${PROTOCOL_HEADER} header`,
    async check(c) {
      for (const a of [await c.http.call('GET', '/healthz'), await c.http.call('GET', '/api/me'), await c.http.call('GET', '/api/me', c.viewer)]) {
        if (a.headers.get(PROTOCOL_HEADER) !== PROTOCOL_VERSION) fail(`${PROTOCOL_HEADER} is ${a.headers.get(PROTOCOL_HEADER) ?? 'missing'} on a ${a.status} answer`);
      }
    },
  },
  VER_3,
  VER_4,
  VER_5,
  {
    id: 'OWP-AUTH-1',
    level: 'MUST',
    title: 'a request without a token, or with an unknown one, is refused with 401 unauthorized',
    async check(c) {
      refusal(await c.http.call('GET', '/api/me'), 401, ['unauthorized'], 'no token');
      refusal(await c.http.call('GET', '/api/me', 'owp_not-a-token'), 401, ['unauthorized'], 'an unknown token');
    },
  },
  {
    id: 'OWP-AUTH-2',
    level: 'MUST',
    title: `a revoked token is refused with 401 token-revoked; its open socket closes with ${CLOSE.revoked} and its event stream ends`,
    async check(c) {
      const t = await c.token('viewer');
      const socket = c.sockets.connect(BOARD_DOC, t.token);
      await within(socket.synced, `${BOARD_DOC} to sync`);
      const stream = await EventStream.open(c.http.url, t.token);
      try {
        if ((await stream.next('the snapshot'))?.event !== 'snapshot') fail('the event stream did not start with a snapshot');
        expectStatus(await c.http.call('DELETE', `/api/tokens/${encodeURIComponent(t.id)}`, c.admin), 200, 'revoking a token');
        refusal(await c.http.call('GET', '/api/me', t.token), 401, ['token-revoked'], 'a revoked token');
        const closed = await within(socket.closed, 'the socket of the revoked token to close');
        if (closed.code !== CLOSE.revoked) fail(`the socket of the revoked token was closed with ${closed.code}, not ${CLOSE.revoked}`);
        for (let i = 0; i < 100; i++) if ((await stream.next('the event stream of the revoked token to end')) === undefined) return;
        fail('the event stream of the revoked token did not end');
      } finally {
        stream.close();
      }
    },
  },
  {
    id: 'OWP-AUTH-3',
    level: 'MUST',
    title: "a role may not call another role's route (403 not-authorized)",
    async check(c) {
      refusal(await c.http.call('POST', '/api/claim', c.viewer, {}), 403, ['not-authorized'], 'a viewer claiming');
      refusal(await c.http.call('POST', '/api/tokens', c.maintainer, { role: 'viewer' }), 403, ['not-authorized'], 'a maintainer creating a token');
    },
  },
  {
    id: 'OWP-AUTH-4',
    level: 'MUST',
    title: 'a worker acts only for its own worker id',
    async check(c) {
      refusal(await c.http.call('POST', '/api/claim', c.a.token, { taskId: c.taskIds[0], workerId: c.b.id }), 403, ['not-authorized'], 'worker a claiming as worker b');
    },
  },
  {
    id: 'OWP-ERR-1',
    level: 'MUST',
    title: 'malformed JSON is refused with 400 invalid-json and an error body',
    async check(c) {
      refusal(await c.http.call('POST', '/api/claim', c.a.token, undefined, '{"taskId":'), 400, ['invalid-json'], 'a cut-off body');
    },
  },
  {
    id: 'OWP-ERR-2',
    level: 'MUST',
    title: 'a field that fails validation is refused with 400 invalid-field (or invalid-intent) naming the field',
    async check(c) {
      const e = refusal(await c.http.call('POST', `/api/tasks/${encodeURIComponent(c.taskIds[0]!)}/heartbeat`, c.a.token, { fencingToken: 'one' }), 400, ['invalid-field', 'invalid-intent'], 'a text fencing token');
      if (e.error.field !== 'fencingToken') fail(`the refusal names field ${e.error.field ?? '(none)'}, not fencingToken`);
    },
  },
  {
    id: 'OWP-ERR-3',
    level: 'MUST',
    title: 'a path that names no endpoint is 404 not-found',
    async check(c) {
      refusal(await c.http.call('GET', '/api/no-such-endpoint', c.viewer), 404, ['not-found'], 'an unknown path');
    },
  },
  {
    id: 'OWP-ERR-5',
    level: 'MUST',
    title: 'an unknown body field is refused with 400 invalid-field naming it, never ignored',
    async check(c) {
      const e = refusal(await c.http.call('POST', '/api/claim', c.a.token, { taskId: c.taskIds[0], task_id: c.taskIds[0] }), 400, ['invalid-field'], 'a body with an unknown field');
      if (e.error.field !== 'task_id') fail(`the refusal names field ${e.error.field ?? '(none)'}, not task_id`);
    },
  },
  {
    id: 'OWP-LEASE-1',
    level: 'MUST',
    title: 'a granted claim returns the lease: fencing token >= 1 and an expiry in the future',
    async check(c) {
      const before = Date.now();
      const a = await c.http.call('POST', '/api/claim', c.a.token, { taskId: c.taskIds[0], intentId: randomUUID() });
      expectStatus(a, 200, 'claiming a queued task');
      const r = leaseOf(a);
      if (r.outcome.status !== 'granted' || !r.lease) fail(`the outcome is ${r.outcome.status}, not granted with a lease`);
      if (r.lease.workerId !== c.a.id || r.lease.taskId !== c.taskIds[0]) fail('the lease names another worker or task');
      if (r.lease.expiresAt <= before - 5_000) fail('the lease has already expired');
      c.fencing = r.lease.fencingToken;
    },
  },
  {
    id: 'OWP-LEASE-2',
    level: 'MUST',
    title: 'a task under lease is not granted to another worker (409 already-leased)',
    async check(c) {
      const a = await c.http.call('POST', '/api/claim', c.b.token, { taskId: c.taskIds[0], intentId: randomUUID() });
      const e = refusal(a, 409, ['already-leased'], 'worker b claiming the task a holds');
      if (e.outcome?.status !== 'rejected') fail('the refusal carries no rejected outcome');
    },
  },
  {
    id: 'OWP-LEASE-3',
    level: 'MUST',
    title: 'fencing: a heartbeat with the current token extends the lease; any other token is lease-lost',
    async check(c) {
      const path = `/api/tasks/${encodeURIComponent(c.taskIds[0]!)}/heartbeat`;
      const ok = await c.http.call('POST', path, c.a.token, { fencingToken: c.fencing });
      expectStatus(ok, 200, 'a heartbeat with the current token');
      shape(HeartbeatAnswerSchema, ok.json, 'the heartbeat answer');
      refusal(await c.http.call('POST', path, c.a.token, { fencingToken: c.fencing + 1 }), 409, ['lease-lost'], 'a heartbeat with a wrong token');
      refusal(await c.http.call('POST', path, c.b.token, { fencingToken: c.fencing }), 409, ['lease-lost'], "a heartbeat by a worker that does not hold the lease");
    },
  },
  {
    id: 'OWP-IDEM-1',
    level: 'MUST',
    title: 'the same intent id always gets the same outcome, never a second effect',
    async check(c) {
      const intentId = randomUUID();
      const first = await c.http.call('POST', '/api/claim', c.b.token, { taskId: c.taskIds[1], intentId });
      const again = await c.http.call('POST', '/api/claim', c.b.token, { taskId: c.taskIds[1], intentId });
      const o1 = shape(OutcomeSchema, (first.json as { outcome?: unknown })?.outcome, 'the first outcome');
      const o2 = shape(OutcomeSchema, (again.json as { outcome?: unknown })?.outcome, 'the repeated outcome');
      if (o1.status !== 'granted') fail(`the first claim was ${o1.status}: ${o1.code ?? ''}`);
      if (JSON.stringify(o1) !== JSON.stringify(o2) || first.status !== again.status) fail('the repeated intent got a different answer');
      c.fencingB = o1.fencingToken ?? 0;
      c.intentOfB = intentId;
    },
  },
  {
    id: 'OWP-IDEM-2',
    level: 'MUST',
    title: "an intent id another worker already used is refused 409 conflict, never answered with the other's outcome",
    async check(c) {
      const a = await c.http.call('POST', '/api/claim', c.c.token, { taskId: c.taskIds[1], intentId: c.intentOfB });
      const e = refusal(a, 409, ['conflict'], "worker c reusing worker b's intent id");
      if (e.outcome && e.outcome.workerId !== c.c.id) fail("the answer carries worker b's outcome");
    },
  },
  CHAN_1,
  CHAN_2,
  CHAN_3,
  {
    id: 'OWP-LEASE-4',
    level: 'MUST',
    title: 'a worker at its maxConcurrent leases is refused claim-next with max-concurrent',
    async check(c) {
      refusal(await c.http.call('POST', '/api/claim', c.b.token, { intentId: randomUUID() }), 409, ['max-concurrent'], 'claim-next by a worker at maxConcurrent');
    },
  },
  {
    id: 'OWP-LEASE-5',
    level: 'MUST',
    title: 'after a release the next grant has fencing token previous + 1, and the old token is lease-lost',
    async check(c) {
      const task = encodeURIComponent(c.taskIds[0]!);
      const rel = await c.http.call('POST', `/api/tasks/${task}/release`, c.a.token, { fencingToken: c.fencing, intentId: randomUUID() });
      expectStatus(rel, 200, 'a release with the current token');
      shape(IntentAnswerSchema, rel.json, 'the release answer');
      const again = await c.http.call('POST', '/api/claim', c.c.token, { taskId: c.taskIds[0], intentId: randomUUID() });
      expectStatus(again, 200, 'a claim of the released task by another worker');
      const lease = leaseOf(again).lease;
      if (lease?.fencingToken !== c.fencing + 1) fail(`the new fencing token is ${lease?.fencingToken}, not ${c.fencing + 1}`);
      refusal(await c.http.call('POST', `/api/tasks/${task}/complete`, c.a.token, { fencingToken: c.fencing, intentId: randomUUID() }), 409, ['lease-lost'], 'complete with the old token');
      c.fencingC = lease.fencingToken;
    },
  },
  {
    id: 'OWP-LEASE-6',
    level: 'MUST',
    title: 'submit with the current token moves the task to pr_open; complete moves it to done',
    async check(c) {
      const sub = await c.http.call('POST', `/api/tasks/${encodeURIComponent(c.taskIds[1]!)}/submit`, c.b.token, { fencingToken: c.fencingB, prUrl: `https://github.com/${c.repo}/pull/1`, intentId: randomUUID() });
      expectStatus(sub, 200, 'submit');
      if (shape(IntentAnswerSchema, sub.json, 'the submit answer').runtime?.state !== 'pr_open') fail('the task is not pr_open after submit');
      const done = await c.http.call('POST', `/api/tasks/${encodeURIComponent(c.taskIds[0]!)}/complete`, c.c.token, { fencingToken: c.fencingC, intentId: randomUUID() });
      expectStatus(done, 200, 'complete');
      if (shape(IntentAnswerSchema, done.json, 'the complete answer').runtime?.state !== 'done') fail('the task is not done after complete');
    },
  },
  LEASE_8,
  LEASE_7,
  {
    id: 'OWP-DOC-1',
    level: 'MUST',
    title: `a socket without a live token is closed with ${CLOSE.unauthorized}; an unknown document with ${CLOSE.unknownDoc}`,
    async check(c) {
      const noToken = await closeOf(c, BOARD_DOC, 'owp_not-a-token');
      if (noToken !== CLOSE.unauthorized) fail(`an unknown token was closed with ${noToken}`);
      const unknown = await closeOf(c, 'owp/no-such-doc', c.viewer);
      if (unknown !== CLOSE.unknownDoc) fail(`an unknown document was closed with ${unknown}`);
    },
  },
  {
    id: 'OWP-DOC-2',
    level: 'MUST',
    title: `a write to a document the role may not write is never applied and closes the socket with ${CLOSE.forbidden}`,
    async check(c) {
      const id = `${c.repo}#forged`;
      const viewerCode = await closeOf(c, BOARD_DOC, c.viewer, (d) => addition(d, 'tasks', id, { id, repo: c.repo, title: 'forged', createdAt: 1 }));
      if (viewerCode !== CLOSE.forbidden) fail(`a viewer's board write was closed with ${viewerCode}`);
      const ledgerCode = await closeOf(c, LEDGER_DOC, c.maintainer, (d) => addition(d, 'outcomes', id, { forged: true }));
      if (ledgerCode !== CLOSE.forbidden) fail(`a maintainer's ledger write was closed with ${ledgerCode}`);
      refusal(await c.http.call('GET', `/api/tasks/${encodeURIComponent(id)}`, c.viewer), 404, ['unknown-task'], 'the forged task');
    },
  },
  {
    id: 'OWP-DOC-3',
    level: 'MUST',
    title: `a worker may not open another worker's inbox (${CLOSE.forbidden})`,
    async check(c) {
      const code = await closeOf(c, inboxDoc(c.b.id), c.a.token);
      if (code !== CLOSE.forbidden) fail(`worker a opening b's inbox was closed with ${code}`);
    },
  },
  {
    id: 'OWP-DOC-4',
    level: 'MUST',
    title: `an intent appended to the worker's inbox gets exactly one outcome in ${LEDGER_DOC} outcomes`,
    async check(c) {
      const ledger = c.sockets.connect(LEDGER_DOC, c.viewer);
      await within(ledger.synced, `${LEDGER_DOC} to sync`);
      const inbox = c.sockets.connect(inboxDoc(c.a.id), c.a.token);
      await within(inbox.synced, 'the inbox to sync');
      const intentId = randomUUID();
      inbox.doc.on('update', (u: Uint8Array, origin: unknown) => {
        if (origin !== 'relay') inbox.sendUpdate(u);
      });
      inbox.doc.getArray('intents').push([{ kind: 'claim', id: intentId, workerId: c.a.id, taskId: c.taskIds[2] }]);
      const o = await until(() => ledger.doc.getMap('outcomes').get(intentId), `the outcome in ${LEDGER_DOC}`, 15_000);
      const outcome = shape(OutcomeSchema, o, 'the ledger outcome');
      if (outcome.status !== 'granted') fail(`the inbox claim was ${outcome.status} ${outcome.code ?? ''}`);
      ledger.close();
      inbox.close();
    },
  },
  {
    id: 'OWP-EVT-1',
    level: 'MUST',
    title: 'GET /api/events streams text/event-stream starting with a snapshot event',
    async check(c) {
      const ctl = new AbortController();
      const res = await fetch(`${c.http.url}/api/events`, { headers: { authorization: `Bearer ${c.viewer}` }, signal: ctl.signal });
      try {
        if (res.status !== 200 || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) fail(`GET /api/events answered ${res.status} ${res.headers.get('content-type')}`);
        const reader = res.body!.getReader();
        let text = '';
        // Read until the first event is whole (an `event:` line, then a blank line).
        while (!/^event: [^\n]*\n(?:[^\n]+\n)*\n/m.test(text)) {
          const { value, done } = await within(reader.read(), 'the first event');
          if (done) break;
          text += new TextDecoder().decode(value);
        }
        if (/^event: (\S+)$/m.exec(text)?.[1] !== 'snapshot') fail('the stream does not start with event: snapshot');
      } finally {
        ctl.abort();
      }
    },
  },
  EVT_2,
  // Last: it reads the codes of every refusal the run saw.
  ERR_4,
];
