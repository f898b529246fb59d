/**
 * Conformance checks for version negotiation (OWP-VER-3, OWP-VER-5 on sockets), the published answer shapes
 * (OWP-VER-4), lease timing (OWP-LEASE-7, -8), event ids and resuming (OWP-EVT-2) and the
 * error vocabulary (OWP-ERR-4). ./requirements.ts puts them in the run's order.
 *
 * Invariants: as in ./requirements.ts; waits are for states the relay shows (a lease that
 * ended, an event that arrived), bounded, never fixed sleeps.
 */
import { randomUUID } from 'node:crypto';
import { API } from '../../shared/api-spec.js';
import { ERROR_CODES, httpStatusFor, type ErrorCode } from '../../shared/errors.js';
import { BOARD_DOC, CLOSE, PROTOCOL_HEADER, PROTOCOL_VERSION } from '../../shared/protocol.js';
import { HeartbeatAnswerSchema, TaskViewSchema } from '../../shared/wire.js';
import { EventStream, until, within, type StreamEvent } from './client.js';
import { expectStatus, fail, leaseOf, refusal, shape, type Requirement } from './expect.js';

const MAJOR = PROTOCOL_VERSION.split('.')[0]!;
/** How far a relay's expiry may sit from `time + ttlMs` (another relay may round or lag). */
const SLACK_MS = 1000;

export const VER_3: Requirement = {
  id: 'OWP-VER-3',
  level: 'MUST',
  title: `a request whose ${PROTOCOL_HEADER} header names the relay's major version is served; another major is 400 unsupported-protocol (/healthz always answers)`,
  async check(c) {
    const header = (v: string) => ({ [PROTOCOL_HEADER]: v });
    const newer = `${MAJOR}.999`;
    expectStatus(await c.http.call('GET', '/api/me', c.viewer, undefined, undefined, header(newer)), 200, `GET /api/me with ${PROTOCOL_HEADER}: ${newer}`);
    const other = `${Number(MAJOR) + 1}.0`;
    refusal(await c.http.call('GET', '/api/me', c.viewer, undefined, undefined, header(other)), 400, ['unsupported-protocol'], `GET /api/me with ${PROTOCOL_HEADER}: ${other}`);
    refusal(await c.http.call('POST', '/api/claim', c.a.token, {}, undefined, header(other)), 400, ['unsupported-protocol'], `POST /api/claim with ${PROTOCOL_HEADER}: ${other}`);
    expectStatus(await c.http.call('GET', '/healthz', undefined, undefined, undefined, header(other)), 200, `GET /healthz with ${PROTOCOL_HEADER}: ${other}`);
  },
};

export const VER_5: Requirement = {
  id: 'OWP-VER-5',
  level: 'MUST',
  title: `a socket naming the relay's major version (${PROTOCOL_HEADER} header or ?protocol=) is served, with ${PROTOCOL_HEADER} on the 101 answer; another major is closed ${CLOSE.malformed} unsupported-protocol`,
  async check(c) {
    const newer = `${MAJOR}.999`;
    for (const version of [{ header: newer }, { query: newer }]) {
      const s = c.sockets.connect(BOARD_DOC, c.viewer, version);
      const how = version.header ? `the ${PROTOCOL_HEADER} header` : '?protocol=';
      const answered = await within(s.version, `the 101 answer of a socket naming ${newer} in ${how}`);
      if (answered !== PROTOCOL_VERSION) fail(`the 101 answer's ${PROTOCOL_HEADER} is ${answered ?? 'missing'}, not ${PROTOCOL_VERSION}`);
      await within(s.synced, `a socket naming ${newer} in ${how} to sync`);
      s.close();
    }
    const other = `${Number(MAJOR) + 1}.0`;
    for (const version of [{ header: other }, { query: other }]) {
      const closed = await within(c.sockets.connect(BOARD_DOC, c.viewer, version).closed, `the relay to close a socket naming ${other}`);
      if (closed.code !== CLOSE.malformed || !closed.reason.startsWith('unsupported-protocol')) {
        fail(`a socket naming ${other} (${version.header ? 'header' : '?protocol='}) was closed ${closed.code} "${closed.reason}"`);
      }
    }
  },
};

export const VER_4: Requirement = {
  id: 'OWP-VER-4',
  level: 'MUST',
  title: 'every read route answers the shape docs/schemas/openapi.json publishes for it (extra fields allowed)',
  async check(c) {
    const task = encodeURIComponent(c.taskIds[0]!);
    const reads: [keyof typeof API, string, string][] = [
      ['health', '/healthz', ''],
      ['me', '/api/me', c.viewer],
      ['workers', '/api/workers', c.viewer],
      ['tasks', `/api/tasks?repo=${encodeURIComponent(c.repo)}`, c.viewer],
      ['task', `/api/tasks/${task}`, c.viewer],
      ['repos', '/api/repos', c.viewer],
      ['audit', `/api/audit?task=${task}`, c.viewer],
      ['listTokens', '/api/tokens', c.admin],
    ];
    for (const [name, path, token] of reads) {
      const a = await c.http.call('GET', path, token || undefined);
      expectStatus(a, 200, `GET ${path}`);
      shape(API[name].answer, a.json, `the answer of GET ${path}`);
    }
  },
};

export const LEASE_8: Requirement = {
  id: 'OWP-LEASE-8',
  level: 'MUST',
  title: "a lease carries the repo's ttlMs and expires at grantedAt + ttlMs; a heartbeat moves expiresAt to its time + ttlMs",
  async check(c) {
    const task = c.taskIds[3]!;
    const claim = await c.http.call('POST', '/api/claim', c.d.token, { taskId: task, intentId: randomUUID() });
    expectStatus(claim, 200, 'worker d claiming a queued task');
    const lease = leaseOf(claim).lease ?? fail('the granted claim carries no lease');
    if (lease.ttlMs !== c.repoTtlMs) fail(`the lease's ttlMs is ${lease.ttlMs}, not the repo policy's leaseTtlMs ${c.repoTtlMs}`);
    if (Math.abs(lease.expiresAt - (lease.grantedAt + lease.ttlMs)) > SLACK_MS) fail(`expiresAt ${lease.expiresAt} is not grantedAt ${lease.grantedAt} + ttlMs ${lease.ttlMs}`);
    const hb = await c.http.call('POST', `/api/tasks/${encodeURIComponent(task)}/heartbeat`, c.d.token, { fencingToken: lease.fencingToken });
    expectStatus(hb, 200, 'a heartbeat with the current token');
    const beat = shape(HeartbeatAnswerSchema, hb.json, 'the heartbeat answer');
    const moved = beat.lease ?? fail('the heartbeat answer carries no lease');
    if (Math.abs(moved.expiresAt - (beat.outcome.at + moved.ttlMs)) > SLACK_MS) fail(`after the heartbeat at ${beat.outcome.at}, expiresAt is ${moved.expiresAt}, not that + ttlMs ${moved.ttlMs}`);
    if (moved.expiresAt < lease.expiresAt) fail('the heartbeat moved expiresAt back');
  },
};

export const LEASE_7: Requirement = {
  id: 'OWP-LEASE-7',
  level: 'MUST',
  title: 'a lease not heartbeated by expiresAt ends: the task is queued again and the old token is lease-lost',
  async check(c) {
    const path = `/api/tasks/${encodeURIComponent(c.ttlTaskId)}`;
    const claim = await c.http.call('POST', '/api/claim', c.d.token, { taskId: c.ttlTaskId, intentId: randomUUID() });
    expectStatus(claim, 200, 'worker d claiming the task of the repo with 1 s leases');
    const lease = leaseOf(claim).lease ?? fail('the granted claim carries no lease');
    // No heartbeat: wait (bounded) for the relay to show the lease has ended.
    const ended = await until(
      async () => {
        const a = await c.http.call('GET', path, c.viewer);
        const v = shape(TaskViewSchema, a.json, `GET ${path}`);
        return v.runtime && v.runtime.state !== 'leased' ? v.runtime : undefined;
      },
      'the 1 s lease to expire',
      30_000,
    );
    const view = ended ?? fail('the lease did not end');
    if (view.state !== 'queued') fail(`after its lease expired the task is ${view.state}, not queued`);
    if (view.lease) fail('the expired lease is still on the task');
    refusal(await c.http.call('POST', `${path}/heartbeat`, c.d.token, { fencingToken: lease.fencingToken }), 409, ['lease-lost'], 'a heartbeat after the lease expired');
  },
};

/** `epoch-seq` ids compare by number; other ids only need to differ. */
function after(id: string | undefined, than: string | undefined): boolean {
  if (!id || !than) return false;
  const a = /^(\d+)-(\d+)$/.exec(id);
  const b = /^(\d+)-(\d+)$/.exec(than);
  if (a && b) return Number(a[1]) > Number(b[1]) || (a[1] === b[1] && Number(a[2]) > Number(b[2]));
  return id !== than;
}

export const EVT_2: Requirement = {
  id: 'OWP-EVT-2',
  level: 'SHOULD',
  title: 'event ids grow, and Last-Event-ID resumes after that event (or starts with a fresh snapshot)',
  async check(c) {
    const first = await EventStream.open(c.http.url, c.viewer);
    let board: StreamEvent | undefined;
    let snapshot: StreamEvent | undefined;
    try {
      snapshot = await first.next('the snapshot');
      if (snapshot?.event !== 'snapshot' || !snapshot.id) fail(`the stream starts with ${snapshot?.event ?? 'nothing'} ${snapshot?.id ? '' : '(no id)'}`);
      expectStatus(await c.http.call('PATCH', `/api/repos/${c.repo}`, c.maintainer, { reviewBudget: 11 }), 200, 'changing the run repo policy');
      for (let i = 0; i < 1000 && board === undefined; i++) {
        const ev = (await first.next('a board event after a policy change')) ?? fail('the stream ended');
        if (!after(ev.id, snapshot.id)) fail(`event ${ev.event} has id ${ev.id ?? '(none)'}, not after the snapshot's ${snapshot.id}`);
        if (ev.event === 'board') board = ev;
      }
    } finally {
      first.close();
    }
    const again = await EventStream.open(c.http.url, c.viewer, snapshot.id);
    try {
      const ev = (await again.next('the first event after Last-Event-ID')) ?? fail('the resumed stream ended');
      if (ev.event === 'snapshot') return; // a fresh snapshot is allowed
      if (!after(ev.id, snapshot.id)) fail(`resuming after ${snapshot.id} replayed ${ev.id ?? '(no id)'} first`);
      let seen = ev;
      for (let i = 0; i < 1000 && seen.id !== board!.id; i++) seen = (await again.next('the replayed board event')) ?? fail('the resumed stream ended');
      if (seen.data !== board!.data) fail('the replayed board event differs from the one first sent');
    } finally {
      again.close();
    }
  },
};

export const ERR_4: Requirement = {
  id: 'OWP-ERR-4',
  level: 'MUST',
  title: 'every refusal of the run used a code of the specification, with the status of its code',
  async check(c) {
    let refusals = 0;
    for (const { what, answer } of c.http.answers) {
      const code = (answer.json?.error as { code?: unknown } | undefined)?.code;
      if (answer.status < 400 || code === undefined) continue;
      refusals++;
      if (typeof code !== 'string' || !Object.hasOwn(ERROR_CODES, code)) fail(`${what} answered code ${JSON.stringify(code)}, which the specification does not define`);
      if (httpStatusFor(code as ErrorCode) !== answer.status) fail(`${what} answered ${code} with status ${answer.status}, not ${httpStatusFor(code as ErrorCode)}`);
    }
    if (refusals < 10) fail(`only ${refusals} refusals were seen; the earlier checks did not run`);
  },
};
