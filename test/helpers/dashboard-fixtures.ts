/** Fixtures for the dashboard tests: a small board and ledger built through the real parsers. */
import { emptyBoard, emptyLedger, parseRepoPolicy, parseTask, parseWorkerProfile } from '../../shared/model.js';
import type { AuditEvent, Board, Ledger, TaskRuntime, WorkerProfile, WorkerRuntime } from '../../shared/model.js';

export const NOW = Date.UTC(2026, 10, 24, 12, 30, 15);

export function fixture(): { board: Board; ledger: Ledger; profiles: Record<string, WorkerProfile>; recent: AuditEvent[] } {
  const board = emptyBoard();
  board.repos['acme/app'] = parseRepoPolicy({ repo: 'acme/app', reviewBudget: 4, allowedTiers: [1, 0], frozenAreas: ['src/core/'] });
  const mk = (id: string, extra: Record<string, unknown> = {}) =>
    (board.tasks[id] = parseTask({ id, repo: 'acme/app', title: `Task ${id}`, createdAt: NOW - 3600_000, ...extra }));
  mk('acme/app#1', { points: 2, skills: ['ts'], priority: 5 });
  mk('acme/app#2', { points: 3, skills: ['ts', 'docs'], area: 'docs/' });
  mk('acme/app#3', { points: 1 });
  mk('acme/app#4', { points: 2 });
  mk('acme/app#5', { points: 1 });
  mk('acme/app#6', { points: 1 });
  mk('acme/app#7', { points: 1, held: true });
  // A task of a repo that has no policy yet, and no runtime.
  board.tasks['other/lib#1'] = parseTask({ id: 'other/lib#1', repo: 'other/lib', title: 'Lib task', createdAt: NOW });

  const ledger = emptyLedger();
  ledger.batch = 42;
  const rt = (taskId: string, state: TaskRuntime['state'], extra: Partial<TaskRuntime> = {}): void => {
    ledger.tasks[taskId] = { taskId, repo: 'acme/app', state, attempt: 0, fencingToken: 0, queuedAt: NOW - 3600_000, updatedAt: NOW - 1000, ...extra };
  };
  rt('acme/app#1', 'leased', {
    attempt: 1,
    fencingToken: 1,
    lease: { taskId: 'acme/app#1', workerId: 'alice', fencingToken: 1, grantedAt: NOW - 600_000, expiresAt: NOW + 245_000, ttlMs: 900_000 },
  });
  rt('acme/app#2', 'pr_open', {
    attempt: 1,
    fencingToken: 1,
    prUrl: 'https://github.com/acme/app/pull/9',
    lease: { taskId: 'acme/app#2', workerId: 'bob', fencingToken: 1, grantedAt: NOW - 900_000, expiresAt: NOW + 3_600_000, ttlMs: 3_600_000 },
  });
  rt('acme/app#3', 'queued');
  rt('acme/app#4', 'stuck', { attempt: 3, note: 'expired 3 times' });
  rt('acme/app#5', 'done', { updatedAt: NOW - 60_000 });
  rt('acme/app#6', 'done', { updatedAt: NOW - 3 * 24 * 3600_000 });

  const w = (workerId: string, extra: Partial<WorkerRuntime>): WorkerRuntime => ({
    workerId,
    pointsInUse: 0,
    activeLeases: [],
    credit: 0,
    cooldowns: {},
    quotaDay: '2026-11-24',
    claimsToday: 0,
    completed: 0,
    failed: 0,
    expired: 0,
    ...extra,
  });
  ledger.workers.alice = w('alice', { pointsInUse: 2, activeLeases: ['acme/app#1'], credit: 5, completed: 2 });
  ledger.workers.bob = w('bob', { pointsInUse: 3, activeLeases: ['acme/app#2'] });

  const profiles = {
    alice: parseWorkerProfile({ id: 'alice', name: 'Alice', skills: ['ts', 'docs'], capacity: 5, maxConcurrent: 2 }),
    bob: parseWorkerProfile({ id: 'bob', name: 'Bob', skills: ['ts'], capacity: 3, maxConcurrent: 1 }),
    carol: parseWorkerProfile({ id: 'carol', name: 'Carol', skills: ['go'], capacity: 4, maxConcurrent: 1 }),
  };

  const recent: AuditEvent[] = [
    { kind: 'lease-granted', at: NOW - 900_000, batch: 10, actor: 'relay', taskId: 'acme/app#2', workerId: 'bob', from: 'queued', to: 'leased' },
    { kind: 'pr-submitted', at: NOW - 800_000, batch: 11, actor: 'bob', taskId: 'acme/app#2', workerId: 'bob', from: 'leased', to: 'pr_open' },
    { kind: 'lease-granted', at: NOW - 600_000, batch: 20, actor: 'relay', taskId: 'acme/app#1', workerId: 'alice', from: 'queued', to: 'leased' },
    { kind: 'lease-granted', at: NOW - 300_000, batch: 30, actor: 'relay', taskId: 'acme/app#3', workerId: 'carol', from: 'queued', to: 'leased' },
    { kind: 'lease-expired', at: NOW - 120_000, batch: 40, actor: 'relay', taskId: 'acme/app#3', workerId: 'carol', from: 'leased', to: 'queued' },
  ];
  return { board, ledger, profiles, recent };
}
