/**
 * StatsIndex: the audit log folded into facts (shared/stats/facts.ts), kept up to date
 * batch by batch, so the success figures and credits are computed from memory, never by
 * rescanning the log per request.
 *
 * Invariants:
 * - Opened once, as of the audit head (or of entry `until`: ./lazy.ts opens it after the
 *   relay serves, as of the entry the engine started from): from its checkpoint (./checkpoint.ts) plus the
 *   entries after it, or, without a usable one (logged), from the entries of the last
 *   `retentionMs` read newest first down to the cutoff. Either gives the same facts and memory
 *   (test/maintainer/stats-checkpoint.test.ts). Then fed every batch's events by the engine
 *   (`ingest`), in audit order, with the audit entry the batch ended at. Open it before the
 *   engine can run a batch and subscribe right after, or events are missed or doubled.
 * - Facts older than the retention window are dropped; a query further back is refused.
 * - A task's repo, points and tier are looked up when its event is folded: the board, else
 *   the archive (finished tasks moved out), else the ledger's runtime or the task id.
 */
import { DEFAULTS, type AuditEvent, type Board, type Ledger, type RiskTier } from '../../shared/model.js';
import { foldEvent, repoOfTaskId, sliceStart, type Fact, type TaskInfo, type TaskMemory } from '../../shared/stats/facts.js';
import type { ReviewGauge } from '../../shared/stats/figures.js';
import { AUDIT_PREFIX, GENESIS_HASH, auditKey, type AuditEntry } from '../audit/index.js';
import { ARCHIVE_PREFIX } from '../engine/plan.js';
import type { Logger } from '../ports.js';
import { prefixRange, type KeyRange, type Store } from '../store/index.js';
import { STATS_CHECKPOINT_KEY, decodeCheckpoint, encodeCheckpoint, unpackCheckpoint, type StatsCheckpoint, type StatsState } from './checkpoint.js';

export const DAY_MS = 24 * 60 * 60 * 1000;
/** How far back the figures reach (and the oldest `since` a query may ask for). */
export const STATS_RETENTION_MS = 30 * DAY_MS;

export interface StatsSources {
  board(): Board;
  ledger(): Ledger;
  now(): number;
}

interface ArchivedTask {
  task?: { repo?: string; points?: number; tier?: number; createdAt?: number } | null;
  runtime?: { repo?: string };
}

function infoFrom(t: { repo?: string; points?: number; tier?: number; createdAt?: number } | null | undefined, fallbackRepo: string): TaskInfo {
  const tier = t?.tier;
  return {
    repo: typeof t?.repo === 'string' ? t.repo : fallbackRepo,
    points: typeof t?.points === 'number' ? t.points : 1,
    tier: (tier === 0 || tier === 1 || tier === 2 || tier === 3 ? tier : DEFAULTS.tier) as RiskTier,
    ...(typeof t?.createdAt === 'number' ? { createdAt: t.createdAt } : {}),
  };
}

/** The checkpoint, if there is one that fits this log and window; a missing one is silent, an unusable one is logged. */
async function readCheckpoint(store: Store, retentionMs: number, log?: Logger, until?: number): Promise<StatsState | undefined> {
  const unusable = (reason: string) => {
    log?.warn('stats checkpoint not used: folding the audit window from scratch', { reason });
    return undefined;
  };
  let value: unknown;
  try {
    const bytes = await store.getBinary(STATS_CHECKPOINT_KEY);
    if (bytes === undefined) return undefined;
    value = unpackCheckpoint(bytes);
  } catch (e) {
    return unusable(`unreadable: ${String(e)}`);
  }
  if (value === undefined) return unusable('packed tables of the wrong length');
  const decoded = decodeCheckpoint(value);
  if ('error' in decoded) return unusable(decoded.error);
  const s = decoded.state;
  if (s.retentionMs !== retentionMs) return unusable(`its window is ${s.retentionMs} ms, this index's ${retentionMs} ms`);
  if (until !== undefined && s.seq > until) return unusable(`it covers audit entry ${s.seq}, past the ${until} this index is read up to`);
  if (s.seq > 0) {
    const at = await store.get<AuditEntry>(auditKey(s.seq)).catch(() => undefined);
    if (at?.hash !== s.hash) return unusable(`audit entry ${s.seq} is not the one it covers`);
  } else if (s.hash !== GENESIS_HASH) return unusable('bad position');
  return s;
}

/** The audit log's range, up to entry `until` (inclusive) when given. */
function auditRange(opts: { gte?: string; reverse?: boolean }, until?: number): KeyRange {
  const { lt, ...range } = prefixRange(AUDIT_PREFIX, opts);
  return until === undefined ? { ...range, lt } : { ...range, lte: auditKey(until) };
}

/** The audit entries after `seq` (up to `until`), oldest first. */
async function entriesAfter(store: Store, seq: number, until?: number): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for await (const [, e] of store.iterate<AuditEntry>(auditRange({ gte: auditKey(seq + 1) }, until))) if (e && typeof e === 'object') out.push(e);
  return out;
}

/** The entries at or after `cutoff` (read newest first, oldest returned first) and the newest entry's position. */
async function windowEntries(store: Store, cutoff: number, until?: number): Promise<{ entries: AuditEntry[]; head: { seq: number; hash: string } }> {
  const entries: AuditEntry[] = [];
  let head = { seq: 0, hash: GENESIS_HASH };
  for await (const [, e] of store.iterate<AuditEntry>(auditRange({ reverse: true }, until))) {
    if (!e || typeof e !== 'object') continue;
    if (head.seq === 0) head = { seq: e.seq, hash: e.hash };
    if (e.at < cutoff) break;
    entries.push(e);
  }
  return { entries: entries.reverse(), head };
}

/** What StatsIndex.read gives StatsIndex.open. */
export interface StatsRead {
  retentionMs: number;
  restored?: StatsState;
  position: { seq: number; hash: string };
  entries: AuditEntry[];
}

export class StatsIndex {
  private facts: Fact[] = [];
  private readonly memory = new Map<string, TaskMemory>();
  /** At most the oldest `lastAt` in `memory`: prune walks it only once the cutoff passed this. */
  private oldestAt = -Infinity;
  private readonly archived = new Map<string, TaskInfo>();
  private readonly listeners = new Set<(facts: Fact[]) => void>();
  /** The seq of the checkpoint this index was restored from (undefined: folded from the audit log). */
  restoredSeq: number | undefined;
  /** The last audit entry folded in. */
  private position: { seq: number; hash: string } | undefined = { seq: 0, hash: GENESIS_HASH };

  private constructor(
    private readonly src: StatsSources,
    readonly retentionMs: number,
  ) {}

  /**
   * What a start reads (no board needed, so it may run beside other start work): the
   * checkpoint and the entries after it, or (no checkpoint, or one that does not fit the log)
   * the window's entries read newest first down to the retention cutoff. `until`: read the
   * log up to that entry only (the one the engine started from: later batches are ingested).
   */
  static async read(store: Store, opts: { now: () => number; retentionMs?: number; log?: Logger; until?: number }): Promise<StatsRead> {
    const retentionMs = opts.retentionMs ?? STATS_RETENTION_MS;
    const restored = await readCheckpoint(store, retentionMs, opts.log, opts.until);
    if (restored) return { retentionMs, restored, position: { seq: restored.seq, hash: restored.hash }, entries: await entriesAfter(store, restored.seq, opts.until) };
    const window = await windowEntries(store, opts.now() - retentionMs, opts.until);
    return { retentionMs, position: window.head, entries: window.entries };
  }

  /** The index as of the audit log's head: `read` (or what it gave, `opts.read`) folded. */
  static async open(store: Store, src: StatsSources, opts: { retentionMs?: number; log?: Logger; read?: Promise<StatsRead>; until?: number } = {}): Promise<StatsIndex> {
    const started = performance.now();
    const { retentionMs, restored, position, entries } = await (opts.read ?? StatsIndex.read(store, { now: src.now, retentionMs: opts.retentionMs, log: opts.log, until: opts.until }));
    const index = new StatsIndex(src, retentionMs);
    index.position = position;
    if (restored) {
      index.facts = restored.facts;
      for (const [id, m] of restored.memory) index.memory.set(id, m);
      index.restoredSeq = restored.seq;
    }
    const board = src.board();
    for (const e of entries) {
      if (!e.taskId || e.taskId in board.tasks || index.archived.has(e.taskId)) continue;
      const a = await store.get<ArchivedTask>(ARCHIVE_PREFIX + e.taskId);
      if (a) index.archived.set(e.taskId, infoFrom(a.task, a.runtime?.repo ?? repoOfTaskId(e.taskId)));
    }
    const last = entries.at(-1);
    index.ingest(entries, last ? { seq: last.seq, hash: last.hash } : index.position);
    opts.log?.info('stats index loaded', { from: restored ? 'checkpoint' : 'audit', seq: index.position?.seq, folded: entries.length, ms: Math.round(performance.now() - started) });
    return index;
  }

  /**
   * The checkpoint of what is folded so far (server/stats/checkpoint.ts), or undefined when
   * the index cannot say which audit entry that is (a batch ingested without its position).
   */
  checkpoint(): StatsCheckpoint | undefined {
    if (!this.position) return undefined;
    return encodeCheckpoint({ ...this.position, retentionMs: this.retentionMs, facts: this.facts, memory: this.memory });
  }

  /** The audit seq the index has folded up to (undefined: unknown, no checkpoint is written). */
  folded(): number | undefined {
    return this.position?.seq;
  }

  private info = (taskId: string): TaskInfo => {
    const task = Object.hasOwn(this.src.board().tasks, taskId) ? this.src.board().tasks[taskId] : undefined;
    if (task) return infoFrom(task, task.repo);
    const archived = this.archived.get(taskId);
    if (archived) return archived;
    const rt = Object.hasOwn(this.src.ledger().tasks, taskId) ? this.src.ledger().tasks[taskId] : undefined;
    return infoFrom(undefined, rt?.repo ?? repoOfTaskId(taskId));
  };

  /**
   * Fold a batch's events (in audit order); returns the facts they made. `upTo`: the audit
   * entry of its last event (the head once the batch is committed); without it the index no
   * longer knows its position and writes no checkpoint.
   */
  ingest(events: readonly AuditEvent[], upTo?: { seq: number; hash: string }): Fact[] {
    if (events.length > 0 || upTo) this.position = upTo;
    const added: Fact[] = [];
    for (const e of events) {
      if (e.at < this.oldestAt) this.oldestAt = e.at;
      const f = foldEvent(e, this.memory, this.info);
      if (f) added.push(f);
    }
    if (added.length > 0) {
      // One push per fact: a spread of the start-up fold (a month of audit, 100,000s of
      // facts) overflowed the call stack and the relay could not start.
      for (const f of added) this.facts.push(f);
      for (const l of this.listeners) l(added);
    }
    this.prune();
    return added;
  }

  /** Called with the facts of every ingested batch (the trust ladder and notifications listen). */
  onFacts(listener: (facts: Fact[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private prune(): void {
    const cutoff = this.src.now() - this.retentionMs;
    const start = sliceStart(this.facts, cutoff);
    // Drop in chunks (not per fact) so a steady stream does not shift the array each batch.
    if (start > 1024 || (start > 0 && start * 2 > this.facts.length)) this.facts = this.facts.slice(start);
    // A walk of the whole memory per batch (40,000 queued tasks: 40,000 entries) was a third
    // of what the relay allocated per claim+complete cycle (docs/BENCHMARKS.md "Session 7").
    if (this.memory.size > 4096 && this.oldestAt < cutoff) {
      let oldest = Infinity;
      for (const [id, m] of this.memory) {
        if (m.lastAt < cutoff) this.memory.delete(id);
        else if (m.lastAt < oldest) oldest = m.lastAt;
      }
      this.oldestAt = oldest;
    }
  }

  /** When the task's current PR was submitted, if the index saw it (within the retention window). */
  prOpenedAt(taskId: string): number | undefined {
    return this.memory.get(taskId)?.prAt;
  }

  /** The facts with `at >= since` (a fresh array). */
  since(since: number): Fact[] {
    return this.facts.slice(sliceStart(this.facts, since));
  }

  /** The review gauge of every repo with a policy or a live task, from the ledger now. */
  gauges(): Record<string, ReviewGauge> {
    const board = this.src.board();
    const out: Record<string, ReviewGauge> = {};
    const gauge = (repo: string): ReviewGauge => {
      if (!Object.hasOwn(out, repo)) {
        const budget = Object.hasOwn(board.repos, repo) ? board.repos[repo]!.reviewBudget : DEFAULTS.reviewBudget;
        out[repo] = { prOpen: 0, leased: 0, reviewBudget: budget, inUse: 0, full: false };
      }
      return out[repo]!;
    };
    for (const repo of Object.keys(board.repos)) gauge(repo);
    const tasks = this.src.ledger().tasks;
    for (const id in tasks) {
      const rt = tasks[id]!;
      if (rt.state === 'pr_open') gauge(rt.repo).prOpen += 1;
      else if (rt.state === 'leased') gauge(rt.repo).leased += 1;
    }
    for (const g of Object.values(out)) {
      g.inUse = g.prOpen + g.leased;
      g.full = g.inUse >= g.reviewBudget;
    }
    return out;
  }
}
