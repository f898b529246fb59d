/**
 * Several relays on one PostgreSQL database (issue 15, item 6): the figures docs/SCALING.md
 * gives, measured on three relay processes started as `npm start` starts them
 * (bench/harness.ts) over a private PostgreSQL 15 (test/helpers/postgres.ts) run durable:
 * fsync, synchronous commit and full-page writes on.
 *
 * 1. Claim latency, one claim at a time (each released again, untimed): through the arbiter,
 *    and through a follower (forwarded through the database), alternating.
 * 2. Fan-out: from the arbiter's answer to a claim until a client of a follower sees it
 *    (an SSE `ledger` event naming the task); and a Yjs update written by a client of one
 *    relay until a client of another relay has it.
 * 3. One arbiter's throughput: W workers loop "claim-next, complete", all through the
 *    arbiter, then spread over the three relays; cycles/s over the middle 90% of completions.
 * 4. Failover: kill -9 of the arbiter until another relay says it arbitrates, and until a
 *    claim sent through a surviving follower right after the kill is answered.
 *
 * `node --import tsx bench/ha.ts [--quick]` prints Markdown (machine and load beside each
 * figure). Needs a built dist/ (`npm run build:server`) and PostgreSQL 15 binaries.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir, totalmem, type as osType } from 'node:os';
import { join } from 'node:path';
import { startPostgres, type TestPostgres } from '../test/helpers/postgres.js';
import { connectDoc } from '../test/helpers/yclient.js';
import { ADMIN, BENCH_LIMITS, call, pct, REPOS, seedPool, setup, startRelay, TASKS } from './harness.js';

const quick = process.argv.includes('--quick');
const LEASE_MS = 2500;
const LATENCY_CLAIMS = quick ? 20 : 200;
const FANOUT_SAMPLES = quick ? 10 : 100;
const WORKERS = quick ? 8 : 64;
const THROUGHPUT_S = quick ? 3 : 15;
const KILLS = quick ? 1 : 3;

type Relay = { id: string; url: string; pid: number; stop(): Promise<void> };
const load = () => loadavg().map((l) => l.toFixed(1)).join(' / ');
const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

async function until<T>(fn: () => Promise<T | undefined | false>, what: string, limitMs = 60_000): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A claim as a worker sends one: its own intent id, sent again with the same id on `upstream-error` (no arbiter answered in time). */
async function claim(url: string, token: string, body: Record<string, unknown> = {}): Promise<{ status: number; body: any }> {
  const intentId = randomUUID();
  for (let i = 0; ; i++) {
    const c = await call(url, token, 'POST', '/api/claim', { ...body, intentId });
    if (c.body?.error?.code !== 'upstream-error' || i === 4) return c;
    console.error(`bench: ${url} answered upstream-error; sending intent ${intentId} again`);
  }
}

const role = async (r: Relay) => (await call(r.url, ADMIN, 'GET', '/api/cluster')).body as { relayId: string; role: string; epoch: number; arbiter: string | null };

/** The arbiter and followers now, once every relay agrees who arbitrates. */
async function roles(relays: Relay[]): Promise<{ arbiter: Relay; followers: Relay[]; epoch: number }> {
  const rs = await until(async () => {
    const all = await Promise.all(relays.map(role));
    const arbiters = all.filter((r) => r.role === 'arbiter');
    return arbiters.length === 1 && all.every((r) => r.arbiter === arbiters[0]!.relayId && r.epoch === arbiters[0]!.epoch) ? all : undefined;
  }, 'every relay agreeing on one arbiter');
  const i = rs.findIndex((r) => r.role === 'arbiter');
  return { arbiter: relays[i]!, followers: relays.filter((_, j) => j !== i), epoch: rs[i]!.epoch };
}

/**
 * Run a measuring phase between two checks of the election: a phase during which the arbiter
 * changed (a lease lost on an overloaded machine) measured something else, so it runs again
 * (at most three times); the rows say how many phases were discarded.
 */
async function stable(relays: Relay[], what: string, phase: (arbiter: Relay, followers: Relay[]) => Promise<string[]>): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    const before = await roles(relays);
    const rows = await phase(before.arbiter, before.followers);
    const after = await roles(relays);
    // The note goes into the last cell, so the row stays a table row.
    const noted = (note: string) => rows.map((r) => r.replace(/ \|$/, ` (${note}) |`));
    if (after.epoch === before.epoch) return attempt === 1 ? rows : noted(`${attempt - 1} earlier attempt(s) discarded: the arbiter changed`);
    console.error(`bench: ${what}: the arbiter changed during the phase (epoch ${before.epoch} -> ${after.epoch}); measuring again`);
    if (attempt === 3) return noted('the arbiter changed during all three attempts');
  }
}

/** Server-Sent Events from `url`, each event's raw data passed to `onData` as it arrives. */
async function sse(url: string, token: string, onData: (data: string) => void): Promise<() => void> {
  const ac = new AbortController();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
  if (res.status !== 200 || !res.body) throw new Error(`bench: SSE answered ${res.status}`);
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true as const }));
      if (done) return;
      buf += dec.decode(value, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        onData(buf.slice(0, i));
        buf = buf.slice(i + 2);
      }
    }
  })();
  return () => ac.abort();
}

interface Stats {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}
const stats = (xs: number[]): Stats => {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), max: s[s.length - 1] ?? NaN };
};
const statRow = (what: string, s: Stats, loadText: string) => `| ${what} | ${s.n} | ${ms(s.p50)} | ${ms(s.p90)} | ${ms(s.p99)} | ${ms(s.max)} | ${loadText} |`;

/** 1. One claim at a time, through the arbiter and through a follower, alternating. */
async function claimLatency(arbiter: Relay, follower: Relay, token: string): Promise<string[]> {
  const before = load();
  const times: Record<'arbiter' | 'follower', number[]> = { arbiter: [], follower: [] };
  for (let i = 0; i < LATENCY_CLAIMS * 2; i++) {
    const which = i % 2 ? 'follower' : 'arbiter';
    const via = which === 'arbiter' ? arbiter : follower;
    const t = performance.now();
    const c = await claim(via.url, token);
    const took = performance.now() - t;
    if (c.body?.outcome?.status !== 'granted') throw new Error(`bench: claim refused: ${JSON.stringify(c.body)}`);
    times[which].push(took);
    await call(via.url, token, 'POST', `/api/tasks/${encodeURIComponent(c.body.outcome.taskId)}/release`, { fencingToken: c.body.outcome.fencingToken });
  }
  const l = `${before} -> ${load()}`;
  return [statRow('claim through the arbiter', stats(times.arbiter), l), statRow('claim through a follower', stats(times.follower), l)];
}

/** 2. A committed claim reaching an SSE client of a follower; a Yjs update reaching a client of another relay. */
async function fanout(arbiter: Relay, follower: Relay, token: string, workerId: string): Promise<string[]> {
  const before = load();
  const viewer = (await call(arbiter.url, ADMIN, 'POST', '/api/tokens', { role: 'viewer' })).body.token as string;
  await until(async () => (await call(follower.url, viewer, 'GET', '/api/me')).status === 200, 'the viewer token on the follower');
  // Each sample claims a task by id (so the event can be recognised), after the stream's snapshot.
  let expected: string | undefined;
  let arrived: ((at: number) => void) | undefined;
  let snapshot: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (snapshot = resolve));
  const stop = await sse(`${follower.url}/api/events`, viewer, (block) => {
    if (block.includes('event: snapshot')) snapshot();
    else if (expected && block.includes(JSON.stringify(expected))) arrived?.(performance.now());
  });
  const sseMs: number[] = [];
  try {
    await ready;
    for (let i = 0; i < FANOUT_SAMPLES; i++) {
      const n = TASKS - i;
      const taskId = `bench/pool${n % REPOS}#${n}`;
      const seen = new Promise<number>((resolve) => (arrived = resolve));
      expected = taskId;
      const c = await claim(arbiter.url, token, { taskId });
      const answered = performance.now();
      if (c.body?.outcome?.status !== 'granted') throw new Error(`bench: claim of ${taskId} refused: ${JSON.stringify(c.body)}`);
      // An event that came before the answer counts as 0: the client of the other relay was not later.
      sseMs.push(Math.max(0, (await seen) - answered));
      expected = undefined;
      await call(arbiter.url, token, 'POST', `/api/tasks/${encodeURIComponent(taskId)}/release`, { fencingToken: c.body.outcome.fencingToken });
    }
  } finally {
    stop();
  }
  const ws = (r: Relay) => r.url.replace(/^http/, 'ws') + '/yjs';
  const writer = await connectDoc(ws(arbiter), `owp/inbox/${workerId}`, token);
  const reader = await connectDoc(ws(follower), `owp/inbox/${workerId}`, ADMIN);
  const docMs: number[] = [];
  try {
    for (let i = 0; i < FANOUT_SAMPLES; i++) {
      const key = `k${i}`;
      const seen = new Promise<number>((resolve) => {
        const on = () => {
          if (reader.doc.getMap('bench').has(key)) {
            reader.doc.off('update', on);
            resolve(performance.now());
          }
        };
        reader.doc.on('update', on);
      });
      const t = performance.now();
      writer.doc.getMap('bench').set(key, i);
      docMs.push((await seen) - t);
    }
  } finally {
    writer.destroy();
    reader.destroy();
  }
  const l = `${before} -> ${load()}`;
  return [statRow('a claim committed by the arbiter, to an SSE client of a follower', stats(sseMs), l), statRow('a Yjs update by a client of one relay, to a client of another', stats(docMs), l)];
}

/** 3. W workers loop claim-next + complete for a while; cycles/s over the middle 90% of completions. */
async function throughput(relays: Relay[], tokens: string[], label: string): Promise<string> {
  const before = load();
  const done: number[] = [];
  const claimMs: number[] = [];
  const end = Date.now() + THROUGHPUT_S * 1000;
  await Promise.all(
    tokens.map(async (token, i) => {
      const via = relays[i % relays.length]!;
      while (Date.now() < end) {
        const t = performance.now();
        const c = await claim(via.url, token);
        if (c.body?.outcome?.status !== 'granted') continue;
        claimMs.push(performance.now() - t);
        const f = await call(via.url, token, 'POST', `/api/tasks/${encodeURIComponent(c.body.outcome.taskId)}/complete`, { fencingToken: c.body.outcome.fencingToken });
        if (f.status === 200) done.push(performance.now());
      }
    }),
  );
  done.sort((a, b) => a - b);
  const lo = Math.floor(done.length * 0.05);
  const hi = Math.max(lo + 1, Math.ceil(done.length * 0.95) - 1);
  const rate = ((hi - lo) / (done[hi]! - done[lo]!)) * 1000;
  const s = stats(claimMs);
  return `| ${label} | ${tokens.length} | ${done.length} | ${rate.toFixed(0)} | ${ms(s.p50)} | ${ms(s.p99)} | ${before} -> ${load()} |`;
}

/** 4. kill -9 the arbiter: until another relay arbitrates, and until a claim through a survivor is answered. */
async function failover(relays: Relay[], token: string, restart: (id: string) => Promise<Relay>): Promise<string[]> {
  const rows: string[] = [];
  for (let k = 0; k < KILLS; k++) {
    const before = load();
    const { arbiter, followers: survivors } = await roles(relays);
    const killedAt = performance.now();
    process.kill(arbiter.pid, 'SIGKILL');
    const first = (async () => {
      const c = await claim(survivors[0]!.url, token);
      const at = performance.now();
      if (c.body?.outcome?.status === 'granted') await call(survivors[0]!.url, token, 'POST', `/api/tasks/${encodeURIComponent(c.body.outcome.taskId)}/release`, { fencingToken: c.body.outcome.fencingToken });
      return { at, status: c.body?.outcome?.status ?? c.body?.error?.code };
    })();
    const elected = await until(async () => {
      for (const r of survivors) if ((await role(r)).role === 'arbiter') return performance.now();
      return undefined;
    }, 'another arbiter');
    const answered = await first;
    rows.push(`| ${k + 1} | ${ms(elected - killedAt)} | ${ms(answered.at - killedAt)} (${answered.status}) | ${before} -> ${load()} |`);
    // The killed relay comes back as a follower; every relay agrees on the arbiter before the next kill.
    relays.splice(relays.indexOf(arbiter), 1, await restart(arbiter.id));
    await roles(relays);
  }
  return rows;
}

async function main(): Promise<void> {
  const c = cpus();
  console.log(`Measured ${new Date().toISOString()} on ${c.length} x ${c[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${osType()} ${release()}, Node ${process.version}; three relays and PostgreSQL 15 (durable) on this one machine; election lease ${LEASE_MS} ms.\n`);
  const dirs: string[] = [];
  const procs: Relay[] = [];
  let pg: TestPostgres | undefined;
  try {
    pg = await startPostgres({ durable: true });
    const url = await pg.database();
    const start = async (id: string): Promise<Relay> => {
      const dir = await mkdtemp(join(tmpdir(), `owp-bench-ha-${id}-`));
      dirs.push(dir);
      const r = await startRelay(dir, { ...BENCH_LIMITS, OWP_DATABASE_URL: url, OWP_RELAY_ID: id, OWP_ELECTION_LEASE: `${LEASE_MS}ms` });
      const relay = { id, ...r };
      procs.push(relay);
      return relay;
    };
    const relays: Relay[] = [];
    for (const id of ['r1', 'r2', 'r3']) relays.push(await start(id));
    const { arbiter } = await roles(relays);
    const { tokens } = await seedPool(arbiter.url, WORKERS + 1);
    const [solo, ...loadTokens] = tokens as [string, ...string[]];
    for (const r of relays) await until(async () => (await setup(r.url, solo, 'GET', '/api/me')).status === 200, 'tokens on every relay');

    console.log('| what | samples | p50 ms | p90 ms | p99 ms | max ms | load average (1/5/15 min) |\n|---|---:|---:|---:|---:|---:|---|');
    for (const row of await stable(relays, 'claim latency', (a, f) => claimLatency(a, f[0]!, solo))) console.log(row);
    for (const row of await stable(relays, 'fan-out', (a, f) => fanout(a, f[0]!, solo, 'bw0'))) console.log(row);

    console.log('\n| load sent to | workers | cycles | cycles/s | claim p50 ms | claim p99 ms | load average |\n|---|---:|---:|---:|---:|---:|---|');
    for (const row of await stable(relays, 'throughput', async (a) => [await throughput([a], loadTokens, 'the arbiter only')])) console.log(row);
    for (const row of await stable(relays, 'throughput', async () => [await throughput(relays, loadTokens, 'all three relays (round robin per worker)')])) console.log(row);

    console.log('\n| kill | to another arbiter, ms | to a claim answered through a survivor, ms | load average |\n|---:|---:|---:|---|');
    for (const row of await failover(relays, solo, start)) console.log(row);
  } finally {
    for (const p of procs) await p.stop().catch(() => undefined);
    await pg?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  }
}

await main();
