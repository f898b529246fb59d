/**
 * `owp worker run`: register, claim the best next task, write its brief, keep the lease
 * alive, run the contributor's tool, submit or fail, and claim the next.
 *
 * Invariants:
 * - While a lease is held it is heartbeated every TTL/4; if the relay cannot be reached the
 *   heartbeats go on with backoff, and a `lease-lost` answer ends the task (the tool is
 *   stopped, nothing is submitted under a stale fencing token).
 * - SIGINT/SIGTERM: stop the tool, release the held lease, then return 130/143. A claim
 *   granted while stopping is released too.
 * - The tool never receives OWP_TOKEN (see exec.ts).
 */
import { createInterface } from 'node:readline/promises';
import { RefusedError, formatDuration } from '../args.js';
import type { Context } from '../command.js';
import { claim, leaseAction, type ClaimAnswer } from '../commands/lease.js';
import { register, type RegisterFlags } from '../commands/workers.js';
import { taskPath } from '../client.js';
import { writeBrief } from './brief.js';
import { childEnv, prUrlFrom, runTool, type ToolRun } from './exec.js';
import type { Task, TaskRuntime, WorkerProfile } from '../../../shared/model.js';

export interface LoopOptions {
  workdir: string;
  exec?: string;
  once: boolean;
  pollMs: number;
  register: RegisterFlags;
}

interface Held {
  task: Task;
  fencingToken: number;
  expiresAt: number;
  ttlMs: number;
  heartbeats: number;
  relayDown: boolean;
  tool?: ToolRun;
  lost?: string;
  timer?: NodeJS.Timeout;
  onLost: () => void;
}

type TaskEnd = 'submitted' | 'failed' | 'lost' | 'released' | 'stopped';

export class WorkerLoop {
  private stopping?: NodeJS.Signals;
  private stopWaiters: (() => void)[] = [];
  private held?: Held;
  private statusTimer?: NodeJS.Timeout;
  private readonly tty: boolean;
  private readonly stdinTty: boolean;

  constructor(
    private readonly ctx: Context,
    private readonly opts: LoopOptions,
  ) {
    this.tty = ctx.out.tty;
    this.stdinTty = Boolean(process.stdin.isTTY);
  }

  async run(): Promise<number> {
    const onSignal = (sig: NodeJS.Signals): void => this.stop(sig);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    if (this.tty) this.statusTimer = setInterval(() => this.drawStatus(), 1000);
    try {
      return await this.loop();
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (this.statusTimer) clearInterval(this.statusTimer);
      this.clearStatus();
    }
  }

  private async loop(): Promise<number> {
    const workerId = await this.ctx.workerId();
    const profile = await this.ensureRegistered(workerId);
    this.log('registered', `worker ${profile.id}: skills ${profile.skills.join(',') || '-'}, capacity ${profile.capacity}, max concurrent ${profile.maxConcurrent}`, { worker: profile });
    let wait = this.opts.pollMs;
    for (;;) {
      if (this.stopping) return this.exitCode();
      let granted: ClaimAnswer;
      try {
        granted = await claim(this.ctx);
      } catch (e) {
        if (!(e instanceof RefusedError)) throw e;
        const retry = e.status === 409 || e.code === 'upstream-error' || e.code === 'shutting-down' || e.code === 'rate-limited';
        if (!retry) throw e;
        this.log('waiting', `no task for now (${e.code}: ${e.message}); next try in ${formatDuration(wait)}`, { code: e.code, retryInMs: wait });
        await this.sleepOrStop(wait);
        wait = Math.min(wait * 2, this.opts.pollMs * 8);
        continue;
      }
      wait = this.opts.pollMs;
      const end = await this.work(granted);
      if (this.stopping) return this.exitCode();
      if (this.opts.once) return end === 'submitted' ? 0 : 1;
    }
  }

  private async ensureRegistered(workerId: string): Promise<WorkerProfile> {
    const f = this.opts.register;
    if (f.skills) return register(this.ctx, f);
    const r = await this.ctx.client().get<{ workers: { profile?: WorkerProfile }[] }>('/api/workers');
    const mine = r.workers.find((w) => w.profile?.id === workerId)?.profile;
    if (mine && (f.name !== undefined || f.capacity !== undefined || f.maxConcurrent !== undefined))
      return register(this.ctx, { name: f.name ?? mine.name, skills: mine.skills, capacity: f.capacity ?? mine.capacity, maxConcurrent: f.maxConcurrent ?? mine.maxConcurrent });
    if (mine) return mine;
    throw new RefusedError('unknown-worker', `worker ${workerId} has no profile yet: pass --skills a,b (and --capacity, --max-concurrent) to register`);
  }

  /** One task, from grant to submit / fail / loss. */
  private async work(granted: ClaimAnswer): Promise<TaskEnd> {
    const { task, lease } = granted;
    const ttlMs = lease.ttlMs ?? Math.max(1000, lease.expiresAt - this.ctx.now());
    let lostResolve!: () => void;
    const lostP = new Promise<'lost'>((r) => (lostResolve = () => r('lost')));
    const held: Held = { task, fencingToken: lease.fencingToken, expiresAt: lease.expiresAt, ttlMs, heartbeats: 0, relayDown: false, onLost: lostResolve };
    this.held = held;
    const file = writeBrief(this.opts.workdir, task, lease);
    this.log('leased', `leased ${task.id} "${task.title}" (fencing token ${lease.fencingToken}, expires in ${formatDuration(lease.expiresAt - this.ctx.now())}); brief: ${file}`, {
      taskId: task.id,
      fencingToken: lease.fencingToken,
      expiresAt: lease.expiresAt,
      brief: file,
    });
    this.scheduleHeartbeat(held, Math.max(250, ttlMs / 4));
    let onStop!: () => void;
    const stopP = new Promise<'stopped'>((r) => this.stopWaiters.push((onStop = () => r('stopped'))));
    try {
      if (this.stopping) return await this.release(held);
      let outcome: { prUrl?: string; failReason?: string; complete?: boolean; release?: boolean; movedOn?: string } | 'lost' | 'stopped';
      if (this.opts.exec) outcome = await Promise.race([this.runExec(held, file), lostP, stopP]);
      else outcome = await Promise.race([this.waitManual(held, stopP, lostP), lostP, stopP]);
      this.stopHeartbeat(held);
      if (outcome === 'stopped' || this.stopping) {
        await this.killTool(held);
        return await this.release(held);
      }
      if (outcome === 'lost' || held.lost) {
        await this.killTool(held);
        this.log('lease-lost', `lease-lost: ${held.lost ?? 'the lease on ' + task.id + ' is no longer yours'}; nothing submitted`, { taskId: task.id, code: 'lease-lost' });
        return 'lost';
      }
      if (outcome.movedOn) return outcome.movedOn === 'pr_open' || outcome.movedOn === 'done' ? 'submitted' : 'released';
      if (outcome.release) return await this.release(held);
      if (outcome.complete) return await this.finish(held, 'complete', {});
      if (outcome.prUrl) return await this.finish(held, 'submit', { prUrl: outcome.prUrl });
      return await this.finish(held, 'fail', { reason: outcome.failReason ?? 'failed' });
    } finally {
      this.stopWaiters = this.stopWaiters.filter((w) => w !== onStop);
      this.stopHeartbeat(held);
      this.held = undefined;
      this.clearStatus();
    }
  }

  private async finish(held: Held, action: 'submit' | 'complete' | 'fail', extra: Record<string, unknown>): Promise<TaskEnd> {
    try {
      await leaseAction(this.ctx, action, held.task.id, extra, held.fencingToken);
      if (action === 'fail') {
        this.log('failed', `reported failure of ${held.task.id}: ${String(extra.reason)}`, { taskId: held.task.id, reason: extra.reason });
        return 'failed';
      }
      this.log(action === 'submit' ? 'submitted' : 'completed', action === 'submit' ? `submitted ${held.task.id}: ${String(extra.prUrl)}` : `completed ${held.task.id}`, { taskId: held.task.id, ...extra });
      return 'submitted';
    } catch (e) {
      if (!(e instanceof RefusedError)) throw e;
      this.log(e.code === 'lease-lost' ? 'lease-lost' : 'refused', `${e.code}: ${e.message}`, { taskId: held.task.id, code: e.code });
      return e.code === 'lease-lost' ? 'lost' : 'failed';
    }
  }

  private async release(held: Held): Promise<TaskEnd> {
    try {
      await leaseAction(this.ctx, 'release', held.task.id, {}, held.fencingToken);
      this.log('released', `released ${held.task.id}`, { taskId: held.task.id });
    } catch (e) {
      if (!(e instanceof RefusedError)) throw e;
      this.log('refused', `could not release ${held.task.id}: ${e.code}: ${e.message}`, { taskId: held.task.id, code: e.code });
    }
    return this.stopping ? 'stopped' : 'released';
  }

  private async runExec(held: Held, file: string): Promise<{ prUrl?: string; failReason?: string; release?: boolean }> {
    const env = childEnv(process.env, { OWP_TASK_FILE: file, OWP_TASK_ID: held.task.id, OWP_TASK_DIR: file.replace(/[/\\]TASK\.md$/, '') });
    const out = this.ctx.out.json ? process.stderr : process.stdout;
    held.tool = runTool(this.opts.exec!, {
      cwd: file.replace(/[/\\]TASK\.md$/, ''),
      env,
      stdinTty: this.stdinTty,
      onLine: (line) => {
        this.clearStatus();
        out.write(line + '\n');
      },
    });
    const r = await held.tool.done;
    held.tool = undefined;
    if (held.lost || this.stopping) return {};
    if (r.error) return { failReason: `the tool could not start: ${r.error}` };
    if (r.code !== 0) return { failReason: r.signal ? `the tool was killed by ${r.signal}` : `the tool exited with code ${r.code}` };
    const fromTool = prUrlFrom(r.lastLine);
    if (fromTool) return { prUrl: fromTool };
    if (this.stdinTty) {
      for (;;) {
        const url = await this.ask('The tool finished. Pull request URL (empty to give the task back): ');
        if (!url) return { release: true };
        if (/^https?:\/\/\S+$/.test(url)) return { prUrl: url };
        process.stderr.write(`"${url}" is not an http(s) URL.\n`);
      }
    }
    return { failReason: 'the tool exited 0 but printed no `PR: <url>` line' };
  }

  /** No --exec: the contributor works by hand. On a TTY we ask; otherwise we wait for `owp submit` etc. */
  private async waitManual(held: Held, stopP: Promise<'stopped'>, lostP: Promise<'lost'>): Promise<{ prUrl?: string; complete?: boolean; release?: boolean; movedOn?: string }> {
    if (this.stdinTty && !this.ctx.out.json) {
      const ans = await this.ask(`Working on ${held.task.id}. Enter the PR URL when done, "complete", or "release": `, stopP, lostP);
      if (!ans) return {};
      if (/^complete$/i.test(ans)) return { complete: true };
      if (/^https?:\/\/\S+$/.test(ans)) return { prUrl: ans };
      return { release: true };
    }
    for (;;) {
      await this.sleepOrStop(Math.min(this.opts.pollMs, Math.max(500, held.ttlMs / 4)));
      if (this.stopping || held.lost) return {};
      try {
        const r = await this.ctx.client().get<{ runtime?: TaskRuntime }>(taskPath(held.task.id));
        const rt = r.runtime;
        if (!rt || rt.state !== 'leased' || rt.fencingToken !== held.fencingToken) {
          this.log('moved-on', `${held.task.id} is now ${rt?.state ?? 'gone'}; claiming the next`, { taskId: held.task.id, state: rt?.state });
          this.stopHeartbeat(held);
          return { movedOn: rt?.state ?? 'gone' };
        }
      } catch (e) {
        if (!(e instanceof RefusedError)) throw e;
      }
    }
  }

  private asking = false;
  private async ask(question: string, ...cancel: Promise<unknown>[]): Promise<string | undefined> {
    this.clearStatus();
    this.asking = true;
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    const ac = new AbortController();
    for (const c of cancel) void c.then(() => ac.abort());
    try {
      return (await rl.question(question, { signal: ac.signal })).trim();
    } catch {
      return undefined;
    } finally {
      rl.close();
      this.asking = false;
    }
  }

  private scheduleHeartbeat(held: Held, delay: number, backoff = 1000): void {
    held.timer = setTimeout(async () => {
      if (held !== this.held || held.lost) return;
      try {
        const r = await leaseAction(this.ctx, 'heartbeat', held.task.id, {}, held.fencingToken);
        if (held !== this.held || held.timer === undefined) return;
        held.heartbeats++;
        held.relayDown = false;
        held.expiresAt = r.lease?.expiresAt ?? r.outcome?.expiresAt ?? this.ctx.now() + held.ttlMs;
        if (!this.tty) this.log('heartbeat', `heartbeat ${held.task.id}: lease expires in ${formatDuration(held.expiresAt - this.ctx.now())}`, { taskId: held.task.id, expiresAt: held.expiresAt });
        this.scheduleHeartbeat(held, Math.max(250, held.ttlMs / 4));
      } catch (e) {
        if (held !== this.held || held.timer === undefined) return;
        const code = e instanceof RefusedError ? e.code : 'internal';
        if (code === 'lease-lost') {
          held.lost = `the relay says the lease on ${held.task.id} (fencing token ${held.fencingToken}) is no longer yours`;
          held.onLost();
          return;
        }
        held.relayDown = code === 'upstream-error' || code === 'shutting-down';
        const lapsed = this.ctx.now() > held.expiresAt ? ' (the lease may have lapsed)' : '';
        this.log('heartbeat-failed', `heartbeat ${held.task.id} failed: ${code}: ${(e as Error).message}; retrying in ${formatDuration(backoff)}${lapsed}`, { taskId: held.task.id, code });
        this.scheduleHeartbeat(held, backoff, Math.min(backoff * 2, 30_000));
      }
    }, delay);
  }

  private stopHeartbeat(held: Held): void {
    if (held.timer) clearTimeout(held.timer);
    held.timer = undefined;
  }

  private async killTool(held: Held): Promise<void> {
    const tool = held.tool;
    if (!tool || tool.child.exitCode !== null) return;
    tool.kill('SIGTERM');
    const t = setTimeout(() => tool.kill('SIGKILL'), 5000);
    await tool.done;
    clearTimeout(t);
  }

  private stop(sig: NodeJS.Signals): void {
    if (this.stopping) return;
    this.stopping = sig;
    this.log('stopping', `${sig}: ${this.held ? `releasing ${this.held.task.id} before exiting` : 'exiting'}`, { signal: sig });
    for (const w of this.stopWaiters.splice(0)) w();
  }

  private exitCode(): number {
    return this.stopping === 'SIGTERM' ? 143 : 130;
  }

  /** Sleep, cut short by a stop signal; the timer never outlives the wait (it would keep the process up). */
  private sleepOrStop(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        const i = this.stopWaiters.indexOf(done);
        if (i >= 0) this.stopWaiters.splice(i, 1);
        resolve();
      };
      const timer = setTimeout(done, ms);
      if (this.stopping) done();
      else this.stopWaiters.push(done);
    });
  }

  private log(event: string, text: string, fields: Record<string, unknown> = {}): void {
    if (this.ctx.out.json) {
      process.stdout.write(JSON.stringify({ event, at: this.ctx.now(), ...fields }) + '\n');
      return;
    }
    this.clearStatus();
    process.stderr.write(`owp worker: ${text}\n`);
    this.drawStatus();
  }

  private statusShown = false;
  private clearStatus(): void {
    if (this.statusShown) process.stderr.write('\r\x1b[K');
    this.statusShown = false;
  }

  private drawStatus(): void {
    if (!this.tty || this.held?.tool || this.asking) return;
    const h = this.held;
    const text = h
      ? `[owp] ${h.task.id} · lease ${h.expiresAt > this.ctx.now() ? 'expires in ' + formatDuration(h.expiresAt - this.ctx.now()) : 'LAPSED'} · ${h.heartbeats} heartbeat(s)${h.relayDown ? ' · relay unreachable' : ''}`
      : '[owp] waiting for a task';
    const cols = (process.stderr.columns || 100) - 1;
    process.stderr.write(`\r\x1b[K${text.slice(0, cols)}`);
    this.statusShown = true;
  }
}

