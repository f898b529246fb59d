/**
 * Plain JSON views of the board and ledger documents (for the dashboard).
 * Invariant: read-only; invalid task maps are skipped, never repaired or deleted here.
 */
import type * as Y from 'yjs';
import { emptyLedger, TaskSchema, type AuditEvent, type Board, type Ledger, type RepoPolicy, type RiskTier } from '../../shared/model.js';

function plain(v: unknown): unknown {
  return v && typeof (v as Y.Map<unknown>).toJSON === 'function' ? (v as Y.Map<unknown>).toJSON() : v;
}

export function boardFromDoc(doc: Y.Doc): Board {
  const board: Board = { tasks: {}, repos: {}, trust: {} };
  doc.getMap('tasks').forEach((v, id) => {
    const r = TaskSchema.safeParse({ id, ...(plain(v) as object) });
    if (r.success) board.tasks[id] = r.data;
  });
  doc.getMap('repos').forEach((v, repo) => {
    board.repos[repo] = { repo, ...(plain(v) as object) } as RepoPolicy;
  });
  doc.getMap('trust').forEach((v, w) => {
    if (typeof v === 'number') board.trust[w] = v as RiskTier;
  });
  return board;
}

export function ledgerFromDoc(doc: Y.Doc): Ledger {
  const ledger = emptyLedger();
  const meta = doc.getMap('meta');
  ledger.batch = typeof meta.get('batch') === 'number' ? (meta.get('batch') as number) : 0;
  ledger.tasks = doc.getMap('tasks').toJSON();
  ledger.workers = doc.getMap('workers').toJSON();
  ledger.outcomes = {};
  return ledger;
}

export function recentFromDoc(doc: Y.Doc): AuditEvent[] {
  return doc.getArray('recent').toArray() as AuditEvent[];
}
