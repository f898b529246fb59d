/**
 * One conformance run against a relay: make two repo policies, five tasks and tokens of its
 * own (names carry a fresh run id), run every requirement of ./requirements.ts in order, then
 * clean up: cancel the run's tasks, delete its repo policies and revoke its tokens. Only the
 * admin token is needed.
 *
 * Invariants: a failing requirement never stops the run (each is reported); cleanup runs
 * even when setup or a check failed; the run touches no task or token it did not make.
 */
import { randomUUID } from 'node:crypto';
import { Http, Sockets } from './client.js';
import { REQUIREMENTS, type Requirement } from './requirements.js';

export interface Worker {
  id: string;
  token: string;
  tokenId: string;
}

export interface RunContext {
  http: Http;
  sockets: Sockets;
  admin: string;
  maintainer: string;
  viewer: string;
  /** a and d: maxConcurrent 2; b and c: maxConcurrent 1. */
  a: Worker;
  b: Worker;
  c: Worker;
  d: Worker;
  repo: string;
  /** The run's repo's leaseTtlMs (long: no lease of it expires during a run). */
  repoTtlMs: number;
  /** Tasks of `repo`: 0-2 for the lease checks, 3 for OWP-LEASE-8. */
  taskIds: string[];
  /** A second repo whose leases last 1 s (OWP-LEASE-7), and its one task. */
  ttlRepo: string;
  ttlTaskId: string;
  /** Fencing tokens the checks hand on to later checks. */
  fencing: number;
  fencingB: number;
  fencingC: number;
  /** An intent id worker b used (OWP-IDEM-2 reuses it as worker c). */
  intentOfB: string;
  /** Make a token (revoked at cleanup). */
  token(role: string, workerId?: string): Promise<{ id: string; token: string }>;
}

export interface RequirementResult {
  id: string;
  level: Requirement['level'];
  title: string;
  ok: boolean;
  detail?: string;
  ms: number;
}

export interface ConformanceReport {
  url: string;
  protocol: string | null;
  relayVersion: string | null;
  passed: number;
  failed: number;
  results: RequirementResult[];
  /** Problems while setting up or cleaning up (not requirements). */
  notes: string[];
}

/** What a run made, for cleanup (filled as it is made, so a failed setup is cleaned up too). */
interface Made {
  tokens: string[];
  tasks: string[];
  repos: string[];
  maintainer?: string;
}

async function setup(http: Http, sockets: Sockets, admin: string, made: Made): Promise<RunContext> {
  const { tokens: madeTokens, tasks: madeTasks, repos } = made;
  const run = randomUUID().slice(0, 8);
  const token = async (role: string, workerId?: string) => {
    const a = await http.call('POST', '/api/tokens', admin, { role, ...(workerId ? { workerId } : {}), name: `owp conformance ${run}` });
    const b = a.json as { id?: string; token?: string } | undefined;
    if (a.status !== 201 || !b?.id || !b.token) throw new Error(`could not create a ${role} token (POST /api/tokens answered ${a.status}); is the token an admin token?`);
    madeTokens.push(b.id);
    return { id: b.id, token: b.token };
  };
  const worker = async (name: string, maxConcurrent: number): Promise<Worker> => {
    const id = `conformance-${run}-${name}`;
    const t = await token('worker', id);
    const r = await http.call('POST', '/api/workers/register', t.token, { name: id, skills: [], capacity: 10, maxConcurrent });
    if (r.status !== 200) throw new Error(`could not register worker ${id} (${r.status})`);
    return { id, token: t.token, tokenId: t.id };
  };
  const repo = `owp-conformance/run-${run}`;
  const ttlRepo = `${repo}-ttl`;
  const repoTtlMs = 3_600_000;
  const maintainer = (await token('maintainer')).token;
  made.maintainer = maintainer;
  const viewer = (await token('viewer')).token;
  for (const [name, leaseTtlMs] of [[repo, repoTtlMs], [ttlRepo, 1000]] as const) {
    const put = await http.call('PUT', `/api/repos/${name}`, maintainer, { reviewBudget: 10, allowedTiers: [0], cooldownMs: 0, leaseTtlMs });
    if (put.status !== 200) throw new Error(`could not create repo policy ${name} (${put.status})`);
    repos.push(name);
  }
  const taskIds = [1, 2, 3, 4].map((n) => `${repo}#${n}`);
  const ttlTaskId = `${ttlRepo}#1`;
  const tasks = [...taskIds.map((id, i) => ({ id, repo, title: `conformance task ${i + 1}`, tier: 0, points: 1 })), { id: ttlTaskId, repo: ttlRepo, title: 'conformance task (1 s leases)', tier: 0, points: 1 }];
  const imp = await http.call('POST', '/api/tasks', maintainer, { tasks });
  if (imp.status !== 200) throw new Error(`could not add the run's tasks (${imp.status})`);
  madeTasks.push(...tasks.map((t) => t.id));
  return {
    http,
    sockets,
    admin,
    maintainer,
    viewer,
    a: await worker('a', 2),
    b: await worker('b', 1),
    c: await worker('c', 1),
    d: await worker('d', 2),
    repo,
    repoTtlMs,
    taskIds,
    ttlRepo,
    ttlTaskId,
    fencing: 0,
    fencingB: 0,
    fencingC: 0,
    intentOfB: '',
    token,
  };
}

async function cleanup(http: Http, admin: string, made: Made, notes: string[]): Promise<void> {
  if (made.maintainer) {
    for (const id of made.tasks) {
      const a = await http.call('POST', `/api/tasks/${encodeURIComponent(id)}/cancel`, made.maintainer, { reason: 'owp conformance run finished' }).catch(() => undefined);
      if (a && a.status !== 200 && a.status !== 409) notes.push(`could not cancel ${id} (${a.status})`);
    }
  }
  for (const name of made.repos) {
    const a = await http.call('DELETE', `/api/repos/${name}`, admin).catch(() => undefined);
    if (!a || (a.status !== 200 && a.status !== 404)) notes.push(`could not delete repo policy ${name} (${a ? `${a.status} ${String((a.json?.error as { code?: string } | undefined)?.code ?? '')}` : 'no answer'})`);
  }
  for (const id of made.tokens) {
    const a = await http.call('DELETE', `/api/tokens/${encodeURIComponent(id)}`, admin).catch(() => undefined);
    if (!a || (a.status !== 200 && a.status !== 409)) notes.push(`could not revoke token ${id}`);
  }
}

export async function runConformance(opts: { url: string; adminToken: string; only?: readonly string[] }): Promise<ConformanceReport> {
  const url = opts.url.replace(/\/+$/, '');
  const http = new Http(url);
  const sockets = new Sockets(url);
  const health = await http.call('GET', '/healthz');
  const h = (health.json ?? {}) as { protocol?: unknown; version?: unknown };
  const report: ConformanceReport = {
    url,
    protocol: typeof h.protocol === 'string' ? h.protocol : null,
    relayVersion: typeof h.version === 'string' ? h.version : null,
    passed: 0,
    failed: 0,
    results: [],
    notes: [],
  };
  const made: Made = { tokens: [], tasks: [], repos: [] };
  let ctx: RunContext | undefined;
  try {
    ctx = await setup(http, sockets, opts.adminToken, made);
  } catch (err) {
    report.notes.push(`setup failed: ${(err as Error).message}`);
  }
  for (const r of REQUIREMENTS) {
    if (opts.only && !opts.only.includes(r.id)) continue;
    const start = Date.now();
    let detail: string | undefined;
    if (!ctx) detail = 'not run: setup failed';
    else {
      try {
        await r.check(ctx);
      } catch (err) {
        detail = (err as Error).message;
      }
    }
    report.results.push({ id: r.id, level: r.level, title: r.title, ok: detail === undefined, ...(detail ? { detail } : {}), ms: Date.now() - start });
  }
  sockets.closeAll();
  await cleanup(http, opts.adminToken, made, report.notes);
  report.passed = report.results.filter((r) => r.ok).length;
  report.failed = report.results.length - report.passed;
  return report;
}
