/**
 * StatsIndex: the audit log folded into facts (shared/stats/facts.ts), kept up to date
 * batch by batch, so the success figures and credits are computed from memory, never by
 * rescanning the log per request.
 *
 * Invariants:
 * - Built once at start from the audit entries of the last `retentionMs` (read backwards
 *   from the newest, so start-up cost follows the window, not the whole history), then fed
 *   every batch's events by the engine (`ingest`), in audit order. Open it before the
 *   engine can run a batch and subscribe right after, or events are missed or doubled.
 * - Facts older than the retention window are dropped; a query further back is refused.
 * - A task's repo, points and tier are looked up when its event is folded: the board, else
 *   the archive (finished tasks moved out), else the ledger's runtime or the task id.
 */
import { DEFAULTS, type AuditEvent, type Board, type Ledger, type RiskTier } from '../../shared/model.js';
import { foldEvent, repoOfTaskId, sliceStart, type Fact, type TaskInfo, type TaskMemory } from '../../shared/stats/facts.js';
import type { ReviewGauge } from '../../shared/stats/figures.js';
import { AUDIT_PREFIX, type AuditEntry } from '../audit/index.js';
import { ARCHIVE_PREFIX } from '../engine/plan.js';
import { prefixRange, type Store } from '../store/index.js';

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

export class StatsIndex {
  private facts: Fact[] = [];
  private readonly memory = new Map<string, TaskMemory>();
  private readonly archived = new Map<string, TaskInfo>();
  private readonly listeners = new Set<(facts: Fact[]) => void>();

  private constructor(
    private readonly src: StatsSources,
    readonly retentionMs: number,
  ) {}

  /** Read the window's audit entries (newest first, stopping at the retention cutoff) and fold them. */
  static async open(store: Store, src: StatsSources, retentionMs = STATS_RETENTION_MS): Promise<StatsIndex> {
    const index = new StatsIndex(src, retentionMs);
    const cutoff = src.now() - retentionMs;
    const entries: AuditEntry[] = [];
    for await (const [, e] of store.iterate<AuditEntry>(prefixRange(AUDIT_PREFIX, { reverse: true }))) {
      if (!e || typeof e !== 'object') continue;
      if (e.at < cutoff) break;
      entries.push(e);
    }
    entries.reverse();
    const board = src.board();
    for (const e of entries) {
      if (!e.taskId || e.taskId in board.tasks || index.archived.has(e.taskId)) continue;
      const a = await store.get<ArchivedTask>(ARCHIVE_PREFIX + e.taskId);
      if (a) index.archived.set(e.taskId, infoFrom(a.task, a.runtime?.repo ?? repoOfTaskId(e.taskId)));
    }
    index.ingest(entries);
    return index;
  }

  private info = (taskId: string): TaskInfo => {
    const task = Object.hasOwn(this.src.board().tasks, taskId) ? this.src.board().tasks[taskId] : undefined;
    if (task) return infoFrom(task, task.repo);
    const archived = this.archived.get(taskId);
    if (archived) return archived;
    const rt = Object.hasOwn(this.src.ledger().tasks, taskId) ? this.src.ledger().tasks[taskId] : undefined;
    return infoFrom(undefined, rt?.repo ?? repoOfTaskId(taskId));
  };

  /** Fold a batch's events (in audit order); returns the facts they made. */
  ingest(events: readonly AuditEvent[]): Fact[] {
    const added: Fact[] = [];
    for (const e of events) {
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
    if (this.memory.size > 4096) {
      for (const [id, m] of this.memory) if (m.lastAt < cutoff) this.memory.delete(id);
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
