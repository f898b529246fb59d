/**
 * `owp worker run`: register, claim the best next task, prepare its workspace, keep the lease
 * alive, run the contributor's tool, push and open the PR (deliver.ts), submit, and claim
 * the next while the PR awaits review.
 *
 * Invariants:
 * - While a lease is held it is heartbeated every TTL/4; if the relay cannot be reached the
 *   heartbeats go on with backoff, and a `lease-lost` answer ends the task (the tool is
 *   stopped, nothing is submitted under a stale fencing token).
 * - Own work first: a task of ours sent back with changes requested (leased, with a PR) is
 *   picked up before any claim, in the same worktree and branch; with --resume, so is a
 *   lease a stopped run kept.
 * - SIGINT/SIGTERM: stop the tool and keep the lease (`owp worker run --resume` continues it
 *   within its TTL), then return 130/143. Nothing is released behind the contributor's back.
 * - After --max-failures tool failures in a row the loop stops with the tool's last stderr
 *   lines; a failure's recorded reason is bounded and redacted (redact.ts).
 * - The tool never receives OWP_TOKEN (see exec.ts).
 */
import { createInterface } from 'node:readline/promises';
import { RefusedError, formatDuration } from '../args.js';
import type { Context } from '../command.js';
import { claim, leaseAction } from '../commands/lease.js';
import { startHeartbeat, stopHeartbeat, type Held } from './lease-keeper.js';
import { register, type RegisterFlags } from '../commands/workers.js';
import { taskPath } from '../client.js';
import { writeBrief } from './brief.js';
import { runToolTask, type DeliverOptions, type TaskGrant, type ToolOutcome } from './deliver.js';
import { redact, tail } from './redact.js';
import { markSubmitted } from './workspace.js';
import { findOwnWork, policyCloneUrl, type Grant } from './own-work.js';
import type { TaskRuntime, WorkerProfile } from '../../../shared/model.js';

export interface LoopOptions {
  workdir: string;
  /** With a tool (--exec or --tool); absent: the contributor works by hand. */
  tool?: Omit<DeliverOptions, 'stdinTty' | 'workdir'>;
  once: boolean;
  pollMs: number;
  register: RegisterFlags;
  maxFailures: number;
  resume: boolean;
}



type TaskEnd = 'submitted' | 'failed' | 'tool-failed' | 'lost' | 'released' | 'stopped' | 'halted';

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
    this.resumeOffered = opts.resume;
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

  private failures = 0;
  private lastStderr = '';
  private resumeOffered: boolean;

  private async loop(): Promise<number> {
    const workerId = await this.ctx.workerId();
    const profile = await this.ensureRegistered(workerId);
    this.log('registered', `worker ${profile.id}: skills ${profile.skills.join(',') || '-'}, capacity ${profile.capacity}, max concurrent ${profile.maxConcurrent}, max open PRs ${profile.maxOpenPrs ?? 3}`, { worker: profile });
    let wait = this.opts.pollMs;
    for (;;) {
      if (this.stopping) return this.exitCode();
      let granted: Grant | undefined = await this.ownWork(workerId);
      if (!granted) {
        try {
          granted = { ...(await claim(this.ctx)), why: 'claimed' };
        } catch (e) {
          if (!(e instanceof RefusedError)) throw e;
          const retry = e.status === 409 || e.code === 'upstream-error' || e.code === 'shutting-down' || e.code === 'starting' || e.code === 'rate-limited';
          if (!retry) throw e;
          this.log('waiting', `no task for now (${e.code}: ${e.message}); next try in ${formatDuration(wait)}`, { code: e.code, retryInMs: wait });
          await this.sleepOrStop(wait);
          wait = Math.min(wait * 2, this.opts.pollMs * 8);
          continue;
        }
      }
      wait = this.opts.pollMs;
      const end = await this.work(granted);
      if (this.stopping) return this.exitCode();
      if (end === 'halted') return 1;
      if (end === 'tool-failed' && this.failures >= this.opts.maxFailures) {
        const lines = tail(redact(this.lastStderr), 15, 3000);
        this.log('stopped', `stopping after ${this.failures} tool failure(s) in a row (--max-failures ${this.opts.maxFailures}); fix the tool or --exec and run again.${lines ? `\nThe tool's last stderr lines:\n${lines}` : ' The tool wrote nothing to stderr.'}`, { code: 'max-failures', failures: this.failures, stderr: lines });
        return 1;
      }
      if (this.opts.once) return end === 'submitted' ? 0 : 1;
    }
  }

  /** A lease of ours to continue first (see own-work.ts); --resume is offered once. */
  private async ownWork(workerId: string): Promise<Grant | undefined> {
    const resume = this.resumeOffered;
    this.resumeOffered = false;
    if (!this.opts.tool && !resume) return undefined;
    const g = await findOwnWork(this.ctx, workerId, { resume, changesRequested: !!this.opts.tool });
    if (!g && resume) this.log('resume', 'no kept lease to resume (it may have expired); claiming a new task', {});
    return g;
  }

  private async ensureRegistered(workerId: string): Promise<WorkerProfile> {
    const f = this.opts.register;
    if (f.skills) return register(this.ctx, f);
    const r = await this.ctx.client().get<{ workers: { profile?: WorkerProfile }[] }>('/api/workers');
    const mine = r.workers.find((w) => w.profile?.id === workerId)?.profile;
    if (mine && (f.name !== undefined || f.capacity !== undefined || f.maxConcurrent !== undefined || f.maxOpenPrs !== undefined))
      return register(this.ctx, {
        name: f.name ?? mine.name,
        skills: mine.skills,
        capacity: f.capacity ?? mine.capacity,
        maxConcurrent: f.maxConcurrent ?? mine.maxConcurrent,
        maxOpenPrs: f.maxOpenPrs ?? mine.maxOpenPrs,
      });
    if (mine) return mine;
    throw new RefusedError('unknown-worker', `worker ${workerId} has no profile yet: pass --skills a,b (and --capacity, --max-concurrent) to register`);
  }

  /** One task, from grant to submit / fail / loss. */
  private async work(granted: Grant): Promise<TaskEnd> {
    const { task, lease } = granted;
    const ttlMs = lease.ttlMs ?? Math.max(1000, lease.expiresAt - this.ctx.now());
    let lostResolve!: () => void;
    const lostP = new Promise<'lost'>((r) => (lostResolve = () => r('lost')));
    const held: Held = { task, fencingToken: lease.fencingToken, expiresAt: lease.expiresAt, ttlMs, heartbeats: 0, relayDown: false, onLost: lostResolve };
    this.held = held;
    const verb = granted.why === 'claimed' ? 'leased' : granted.why === 'resumed' ? 'resuming' : 'changes requested on';
    this.log(granted.why === 'claimed' ? 'leased' : granted.why, `${verb} ${task.id} "${task.title}" (fencing token ${lease.fencingToken}, expires in ${formatDuration(lease.expiresAt - this.ctx.now())})`, {
      taskId: task.id,
      fencingToken: lease.fencingToken,
      expiresAt: lease.expiresAt,
      ...(granted.prUrl ? { prUrl: granted.prUrl } : {}),
    });
    startHeartbeat(this.ctx, held, { current: () => held === this.held, quiet: this.tty, log: (e, t, f) => this.log(e, t, f) });
    let onStop!: () => void;
    const stopP = new Promise<'stopped'>((r) => this.stopWaiters.push((onStop = () => r('stopped'))));
    try {
      if (this.stopping) return this.keep(held);
      let outcome: { prUrl?: string; failReason?: string; toolFailed?: boolean; complete?: boolean; release?: string; halt?: string; movedOn?: string } | 'lost' | 'stopped';
      if (this.opts.tool) outcome = await Promise.race([this.runTool(held, granted), lostP, stopP]);
      else {
        const file = writeBrief(this.opts.workdir, task, lease);
        this.log('brief', `brief: ${file}`, { taskId: task.id, brief: file });
        outcome = await Promise.race([this.waitManual(held, stopP, lostP), lostP, stopP]);
      }
      if (outcome === 'stopped' || this.stopping) {
        stopHeartbeat(held);
        await this.killTool(held);
        return this.keep(held);
      }
      if (outcome === 'lost' || held.lost) {
        stopHeartbeat(held);
        await this.killTool(held);
        this.log('lease-lost', `lease-lost: ${held.lost ?? 'the lease on ' + task.id + ' is no longer yours'}; nothing submitted`, { taskId: task.id, code: 'lease-lost' });
        return 'lost';
      }
      stopHeartbeat(held);
      if (outcome.movedOn) return outcome.movedOn === 'pr_open' || outcome.movedOn === 'done' ? 'submitted' : 'released';
      if (outcome.halt) {
        this.log('halted', `${task.id}: ${outcome.halt}. The lease is kept (expires in ${formatDuration(held.expiresAt - this.ctx.now())}); fix this, then \`owp worker run --resume\` pushes and opens the PR without running the tool again.`, { taskId: task.id, reason: outcome.halt });
        return 'halted';
      }
      if (outcome.release) {
        this.log('giving-back', `${task.id}: ${outcome.release}; giving it back`, { taskId: task.id, reason: outcome.release });
        return await this.release(held);
      }
      if (outcome.complete) return await this.finish(held, 'complete', {});
      if (outcome.prUrl) {
        const end = await this.finish(held, 'submit', { prUrl: outcome.prUrl });
        if (end === 'submitted') {
          this.failures = 0;
          if (this.opts.tool?.workspace) markSubmitted(this.opts.workdir, task.id, outcome.prUrl);
        }
        return end;
      }
      const end = await this.finish(held, 'fail', { reason: (outcome.failReason ?? 'failed').slice(0, 2000) });
      return outcome.toolFailed && end === 'failed' ? 'tool-failed' : end;
    } finally {
      this.stopWaiters = this.stopWaiters.filter((w) => w !== onStop);
      stopHeartbeat(held);
      this.held = undefined;
      this.clearStatus();
    }
  }

  /** Stopped by a signal: the lease stays ours (it expires after its TTL unless resumed). */
  private keep(held: Held): TaskEnd {
    this.log('kept', `kept the lease on ${held.task.id} (expires in ${formatDuration(held.expiresAt - this.ctx.now())}); \`owp worker run --resume\` continues it`, { taskId: held.task.id, expiresAt: held.expiresAt });
    return 'stopped';
  }

  /** The tool's turn (deliver.ts), mapped to what the loop does next. */
  private async runTool(held: Held, granted: Grant): Promise<{ prUrl?: string; failReason?: string; toolFailed?: boolean; release?: string; halt?: string }> {
    const opts = this.opts.tool!;
    const out = this.ctx.out.json ? process.stderr : process.stdout;
    const grant: TaskGrant = {
      task: held.task,
      fencingToken: held.fencingToken,
      expiresAt: held.expiresAt,
      continueWork: granted.why !== 'claimed',
      ...(granted.prUrl ? { prUrl: granted.prUrl } : {}),
      ...(granted.note ? { note: granted.note } : {}),
      policyCloneUrl: opts.workspace ? await policyCloneUrl(this.ctx, held.task.repo) : undefined,
    };
    const r: ToolOutcome = await runToolTask(grant, { ...opts, workdir: this.opts.workdir, stdinTty: this.stdinTty }, {
      started: (tool) => (held.tool = tool),
      line: (line) => {
        this.clearStatus();
        out.write(line + '\n');
      },
      log: (event, text, fields) => this.log(event, text, fields),
      cancelled: () => !!(held.lost || this.stopping),
    });
    held.tool = undefined;
    switch (r.kind) {
      case 'submit':
        return { prUrl: r.prUrl };
      case 'fail':
        if (r.toolFailed) {
          this.failures++;
          this.lastStderr = r.stderr ?? '';
        }
        return { failReason: r.reason, toolFailed: r.toolFailed };
      case 'release':
        return { release: r.why };
      case 'halt':
        return { halt: r.why };
      case 'ask':
        for (;;) {
          const url = await this.ask('The tool finished. Pull request URL (empty to give the task back): ');
          if (!url) return { release: 'no pull request given' };
          if (/^https?:\/\/\S+$/.test(url)) return { prUrl: url };
          process.stderr.write(`"${url}" is not an http(s) URL.\n`);
        }
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

  /** No --exec: the contributor works by hand. On a TTY we ask; otherwise we wait for `owp submit` etc. */
  private async waitManual(held: Held, stopP: Promise<'stopped'>, lostP: Promise<'lost'>): Promise<{ prUrl?: string; complete?: boolean; release?: string; movedOn?: string }> {
    if (this.stdinTty && !this.ctx.out.json) {
      const ans = await this.ask(`Working on ${held.task.id}. Enter the PR URL when done, "complete", or "release": `, stopP, lostP);
      if (!ans) return {};
      if (/^complete$/i.test(ans)) return { complete: true };
      if (/^https?:\/\/\S+$/.test(ans)) return { prUrl: ans };
      return { release: 'you chose release' };
    }
    for (;;) {
      await this.sleepOrStop(Math.min(this.opts.pollMs, Math.max(500, held.ttlMs / 4)));
      if (this.stopping || held.lost) return {};
      try {
        const r = await this.ctx.client().get<{ runtime?: TaskRuntime }>(taskPath(held.task.id));
        const rt = r.runtime;
        if (!rt || rt.state !== 'leased' || rt.fencingToken !== held.fencingToken) {
          this.log('moved-on', `${held.task.id} is now ${rt?.state ?? 'gone'}; claiming the next`, { taskId: held.task.id, state: rt?.state });
          stopHeartbeat(held);
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
    this.log('stopping', `${sig}: ${this.held ? `stopping work on ${this.held.task.id}, keeping its lease` : 'exiting'}`, { signal: sig });
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

