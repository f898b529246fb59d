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
 *   a run of numbers. Stored packed (`packCheckpoint`): a small JSON header with the string
 *   table, then the numbers as raw float64s, read without parsing (100,000 lifecycles are
 *   200,000 facts: 9 MB of JSON took 0.3-0.6 s to parse at start on a loaded machine).
 *   A checkpoint stored as JSON (written before the packed form) is still read.
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

/** The stored bytes: u32 (LE) header length, the JSON header (all but the tables), the tables as float64s (null: NaN). */
export function packCheckpoint(c: StatsCheckpoint): Uint8Array {
  const header = Buffer.from(JSON.stringify({ v: c.v, seq: c.seq, hash: c.hash, retentionMs: c.retentionMs, strings: c.strings, facts: c.facts.length, memory: c.memory.length }));
  const start = Math.ceil((4 + header.length) / 8) * 8;
  const out = new Uint8Array(start + 8 * (c.facts.length + c.memory.length));
  new DataView(out.buffer).setUint32(0, header.length, true);
  out.set(header, 4);
  const nums = new Float64Array(out.buffer, start);
  nums.set(c.facts);
  for (let i = 0; i < c.memory.length; i++) nums[c.facts.length + i] = c.memory[i] ?? NaN;
  return out;
}

/** What stored checkpoint bytes hold (packed, or JSON as written before), for decodeCheckpoint; undefined: not a checkpoint. */
export function unpackCheckpoint(bytes: Uint8Array): unknown {
  const length = bytes.length >= 4 ? new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(0, true) : Infinity;
  if (!(4 + length <= bytes.length && bytes[4] === 0x7b)) return JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
  const start = Math.ceil((4 + length) / 8) * 8;
  const header = JSON.parse(Buffer.from(bytes.subarray(4, 4 + length)).toString('utf8')) as Record<string, unknown>;
  const [nf, nm] = [header.facts, header.memory];
  if (!isNum(nf) || !isNum(nm) || bytes.length !== start + 8 * (nf + nm)) return undefined;
  // A copy: the float64 view needs an aligned buffer of its own.
  const nums = new Float64Array(new Uint8Array(bytes.subarray(start)).buffer);
  const memory = Array.from(nums.subarray(nf), (v) => (Number.isNaN(v) ? null : v));
  return { ...header, facts: nums.subarray(0, nf), memory };
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

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

const optNum = (v: unknown): number | undefined | false => (v === null ? undefined : isNum(v) ? v : false);

/** The checkpoint's state, or why it cannot be used. */
export function decodeCheckpoint(value: unknown): { state: StatsState } | { error: string } {
  if (!value || typeof value !== 'object') return { error: 'not an object' };
  const c = value as Partial<StatsCheckpoint>;
  if (c.v !== VERSION) return { error: `version ${String(c.v)}, expected ${VERSION}` };
  if (!isNum(c.seq) || c.seq < 0 || typeof c.hash !== 'string' || !isNum(c.retentionMs)) return { error: 'bad position' };
  const table = (t: unknown) => Array.isArray(t) || t instanceof Float64Array;
  if (!Array.isArray(c.strings) || !table(c.facts) || !table(c.memory)) return { error: 'missing tables' };
  if (c.facts.length % FACT_WIDTH !== 0 || c.memory.length % MEMORY_WIDTH !== 0) return { error: 'truncated tables' };
  const strings = c.strings;
  const str = (i: unknown): string | undefined => (isNum(i) && typeof strings[i] === 'string' ? strings[i] : undefined);
  const facts: Fact[] = new Array<Fact>(c.facts.length / FACT_WIDTH);
  const F = c.facts;
  for (let i = 0, n = 0; i < F.length; i += FACT_WIDTH, n++) {
    // Plain indexed reads, no destructuring: 200,000 facts decode at start (cold start budget 1 s).
    const kind = KINDS[F[i] as number];
    const taskId = str(F[i + 2]);
    const repo = str(F[i + 3]);
    const w = F[i + 4] as number;
    const workerId = w === 0 ? undefined : str(w - 1);
    const at = F[i + 1];
    const points = F[i + 5];
    const tier = F[i + 6];
    const d = F[i + 7];
    if (!kind || taskId === undefined || repo === undefined || (w !== 0 && workerId === undefined)) return { error: `fact ${n}: bad reference` };
    if (!isNum(at) || !isNum(points) || !isNum(d) || !(tier === 0 || tier === 1 || tier === 2 || tier === 3)) return { error: `fact ${n}: bad number` };
    const f: Fact = { kind, at, taskId, repo, points, tier: tier as RiskTier };
    if (workerId !== undefined) f.workerId = workerId;
    if (d > 0) f.durationMs = d - 1;
    facts[n] = f;
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
