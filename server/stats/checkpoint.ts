/**
 * The stats index's checkpoint: its facts and per-task memory as of one audit entry, kept
 * under `meta/stats-checkpoint`, so a start folds only the audit entries after it instead of
 * the whole retention window (issue 16: 100,000 lifecycles are several hundred thousand
 * entries to read, decode and fold).
 *
 * Invariants:
 * - Pure: encode/decode read only their arguments. decode(encode(s)) gives the same facts
 *   (every field, in order) and the same memory.
 * - Compact: strings (task ids, repos, workers) once in a table, each fact and memory record
 *   a run of numbers (one JSON array parses far faster than 100,000s of objects).
 * - A checkpoint names the audit entry it covers by seq AND hash: one that does not match the
 *   log (another data folder, a log restored from an older backup) is not used.
 * - decode refuses anything malformed (undefined + a reason): the caller folds from scratch.
 */
import type { RiskTier } from '../../shared/model.js';
import type { Fact, FactKind, TaskMemory } from '../../shared/stats/facts.js';

export const STATS_CHECKPOINT_KEY = 'meta/stats-checkpoint';
const VERSION = 1;
const KINDS: readonly FactKind[] = ['grant', 'expire', 'requeue', 'pr', 'merge', 'complete', 'closed-unmerged', 'cancel'];
const FACT_WIDTH = 8;
const MEMORY_WIDTH = 6;

/** What a checkpoint restores. */
export interface StatsState {
  /** The last audit entry folded in (0: none) and its hash. */
  seq: number;
  hash: string;
  retentionMs: number;
  facts: Fact[];
  memory: Map<string, TaskMemory>;
}

/** The stored form (JSON). */
export interface StatsCheckpoint {
  v: number;
  seq: number;
  hash: string;
  retentionMs: number;
  strings: string[];
  /** FACT_WIDTH numbers a fact: kind, at, task, repo, worker + 1 (0: none), points, tier, duration + 1 (0: none). */
  facts: number[];
  /** MEMORY_WIDTH a task: task, lastAt, granted (0/1), queuedAt, lastGrantAt, prAt (null: unknown). */
  memory: Array<number | null>;
}

export function encodeCheckpoint(s: StatsState): StatsCheckpoint {
  const strings: string[] = [];
  const ids = new Map<string, number>();
  const id = (v: string) => {
    let i = ids.get(v);
    if (i === undefined) {
      i = strings.length;
      strings.push(v);
      ids.set(v, i);
    }
    return i;
  };
  const facts: number[] = [];
  for (const f of s.facts) {
    facts.push(KINDS.indexOf(f.kind), f.at, id(f.taskId), id(f.repo), f.workerId === undefined ? 0 : id(f.workerId) + 1, f.points, f.tier, f.durationMs === undefined ? 0 : f.durationMs + 1);
  }
  const memory: Array<number | null> = [];
  for (const [taskId, m] of s.memory) memory.push(id(taskId), m.lastAt, m.granted ? 1 : 0, m.queuedAt ?? null, m.lastGrantAt ?? null, m.prAt ?? null);
  return { v: VERSION, seq: s.seq, hash: s.hash, retentionMs: s.retentionMs, strings, facts, memory };
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const optNum = (v: unknown): number | undefined | false => (v === null ? undefined : isNum(v) ? v : false);

/** The checkpoint's state, or why it cannot be used. */
export function decodeCheckpoint(value: unknown): { state: StatsState } | { error: string } {
  if (!value || typeof value !== 'object') return { error: 'not an object' };
  const c = value as Partial<StatsCheckpoint>;
  if (c.v !== VERSION) return { error: `version ${String(c.v)}, expected ${VERSION}` };
  if (!isNum(c.seq) || c.seq < 0 || typeof c.hash !== 'string' || !isNum(c.retentionMs)) return { error: 'bad position' };
  if (!Array.isArray(c.strings) || !Array.isArray(c.facts) || !Array.isArray(c.memory)) return { error: 'missing tables' };
  if (c.facts.length % FACT_WIDTH !== 0 || c.memory.length % MEMORY_WIDTH !== 0) return { error: 'truncated tables' };
  const strings = c.strings;
  const str = (i: unknown): string | undefined => (isNum(i) && typeof strings[i] === 'string' ? strings[i] : undefined);
  const facts: Fact[] = [];
  const F = c.facts;
  for (let i = 0; i < F.length; i += FACT_WIDTH) {
    const kind = KINDS[F[i] as number];
    const taskId = str(F[i + 2]);
    const repo = str(F[i + 3]);
    const w = F[i + 4];
    const workerId = w === 0 ? undefined : str((w as number) - 1);
    const [at, points, tier, d] = [F[i + 1], F[i + 5], F[i + 6], F[i + 7]];
    if (!kind || taskId === undefined || repo === undefined || (w !== 0 && workerId === undefined)) return { error: `fact ${i / FACT_WIDTH}: bad reference` };
    if (!isNum(at) || !isNum(points) || !isNum(d) || !(tier === 0 || tier === 1 || tier === 2 || tier === 3)) return { error: `fact ${i / FACT_WIDTH}: bad number` };
    const f: Fact = { kind, at, taskId, repo, points, tier: tier as RiskTier };
    if (workerId !== undefined) f.workerId = workerId;
    if (d > 0) f.durationMs = d - 1;
    facts.push(f);
  }
  const memory = new Map<string, TaskMemory>();
  const M = c.memory;
  for (let i = 0; i < M.length; i += MEMORY_WIDTH) {
    const taskId = str(M[i]);
    const [lastAt, granted] = [M[i + 1], M[i + 2]];
    const [queuedAt, lastGrantAt, prAt] = [optNum(M[i + 3]), optNum(M[i + 4]), optNum(M[i + 5])];
    if (taskId === undefined || !isNum(lastAt) || (granted !== 0 && granted !== 1) || queuedAt === false || lastGrantAt === false || prAt === false) return { error: `memory ${i / MEMORY_WIDTH}: bad record` };
    const m: TaskMemory = { granted: granted === 1, lastAt };
    if (queuedAt !== undefined) m.queuedAt = queuedAt;
    if (lastGrantAt !== undefined) m.lastGrantAt = lastGrantAt;
    if (prAt !== undefined) m.prAt = prAt;
    memory.set(taskId, m);
  }
  return { state: { seq: c.seq, hash: c.hash, retentionMs: c.retentionMs, facts, memory } };
}
