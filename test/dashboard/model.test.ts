import { describe, expect, it } from 'vitest';
import { buildDashboardModel } from '../../shared/dashboard/model.js';
import { describeCountdown, formatClock, formatCountdown } from '../../shared/dashboard/format.js';
import { countPerMinute, minuteStart, MINUTE_MS, utilisationPerMinute } from '../../shared/dashboard/series.js';
import { addEvents, applyDelta, applySnapshot, emptyLiveState } from '../../shared/dashboard/live.js';
import type { AuditEvent } from '../../shared/model.js';
import { fixture, NOW } from '../helpers/dashboard-fixtures.js';
import { DEFAULTS } from '../../shared/defaults.js';

describe('buildDashboardModel', () => {
  const f = fixture();
  const model = buildDashboardModel({ ...f, now: NOW, online: { alice: true } });
  const acme = model.repos.find((r) => r.repo === 'acme/app')!;
  const col = (key: string) => acme.columns.find((c) => c.key === key)!.tasks.map((t) => t.id);

  it('counts tasks by state, a board task without runtime counting as queued', () => {
    expect(acme.counts).toEqual({ queued: 2, leased: 1, pr_open: 1, done: 2, stuck: 1, cancelled: 0 });
    expect(model.totals.queued).toBe(3);
    expect(model.totals.all).toBe(8);
    expect(model.batch).toBe(42);
  });

  it('puts each task in its column and hides done tasks older than the window', () => {
    expect(col('queued')).toEqual(['acme/app#3', 'acme/app#7']);
    expect(col('leased')).toEqual(['acme/app#1']);
    expect(col('pr_open')).toEqual(['acme/app#2']);
    expect(col('stuck')).toEqual(['acme/app#4']);
    expect(col('done')).toEqual(['acme/app#5']);
    const leased = acme.columns.find((c) => c.key === 'leased')!.tasks[0]!;
    expect(leased).toMatchObject({ holder: 'alice', expiresAt: NOW + 245_000, points: 2, skills: ['ts'] });
    expect(acme.columns.find((c) => c.key === 'queued')!.tasks[1]!.held).toBe(true);
  });

  it('lists a repo known only from its tasks with the default policy the scheduler applies', () => {
    const other = model.repos.find((r) => r.repo === 'other/lib')!;
    expect(other.policy).toBeUndefined();
    expect(other.budget).toEqual({ inUse: 0, size: DEFAULTS.reviewBudget });
    expect(other.allowedTiers).toEqual([...DEFAULTS.allowedTiers]);
    expect(other.columns.find((c) => c.key === 'queued')!.tasks.map((t) => t.id)).toEqual(['other/lib#1']);
  });

  it('reports review budget in use (leased + PR open), allowed tiers and frozen areas', () => {
    expect(acme.budget).toEqual({ inUse: 2, size: 4 });
    expect(acme.allowedTiers).toEqual([0, 1]);
    expect(acme.frozenAreas).toEqual(['src/core/']);
  });

  it('shows workers with capacity in use against capacity, leases and presence', () => {
    expect(model.workers.map((w) => w.id)).toEqual(['alice', 'bob', 'carol']);
    const alice = model.workers[0]!;
    expect(alice).toMatchObject({ name: 'Alice', online: true, capacity: 5, pointsInUse: 2, credit: 5, skills: ['docs', 'ts'] });
    expect(alice.leases).toEqual([{ taskId: 'acme/app#1', title: 'Task acme/app#1', state: 'leased', expiresAt: NOW + 245_000, points: 2 }]);
    expect(model.workers[2]).toMatchObject({ id: 'carol', online: false, pointsInUse: 0, capacity: 4, leases: [] });
    expect(model.capacity).toEqual({ inUse: 5, total: 12 });
    const noPresence = buildDashboardModel({ ...f, now: NOW });
    expect(noPresence.workers[0]!.online).toBeUndefined();
  });

  it('lists recent events newest first, limited', () => {
    const m = buildDashboardModel({ ...f, now: NOW, recentLimit: 2 });
    expect(m.recent.map((e) => e.kind)).toEqual(['lease-expired', 'lease-granted']);
    expect(m.recent[1]!.taskId).toBe('acme/app#3');
  });

  it('caps cards per column and says how many more there are', () => {
    const m = buildDashboardModel({ ...f, now: NOW, maxCardsPerColumn: 1 });
    const queued = m.repos.find((r) => r.repo === 'acme/app')!.columns.find((c) => c.key === 'queued')!;
    expect(queued.tasks.map((t) => t.id)).toEqual(['acme/app#3']);
    expect(queued.total).toBe(2);
  });

  it('leaves routine claim refusals out of the event list unless asked', () => {
    const refused = { kind: 'claim-rejected' as const, at: NOW - 1000, batch: 41, actor: 'carol', workerId: 'carol', code: 'no-matching-task' as const };
    const m = buildDashboardModel({ ...f, recent: [...f.recent, refused], now: NOW });
    expect(m.recent.map((e) => e.kind)).not.toContain('claim-rejected');
    expect(m.recent).toHaveLength(5);
    const all = buildDashboardModel({ ...f, recent: [...f.recent, refused], now: NOW, hiddenEventKinds: [] });
    expect(all.recent[0]!.kind).toBe('claim-rejected');
  });

  it('does not mutate its input', () => {
    const g = fixture();
    const before = JSON.stringify(g);
    buildDashboardModel({ ...g, now: NOW, online: {} });
    expect(JSON.stringify(g)).toBe(before);
  });

  it('builds chart series of 60 minute buckets', () => {
    const [assign, expiries, util] = model.charts;
    expect(assign!.points).toHaveLength(60);
    expect(assign!.points[59]!.at).toBe(minuteStart(NOW));
    expect(assign!.points.reduce((s, p) => s + p.value, 0)).toBe(3);
    expect(expiries!.points.reduce((s, p) => s + p.value, 0)).toBe(1);
    expect(util!.unit).toBe('%');
  });
});

describe('chart series', () => {
  const ev = (kind: AuditEvent['kind'], at: number, extra: Partial<AuditEvent> = {}): AuditEvent => ({ kind, at, batch: 1, actor: 'relay', ...extra });

  it('buckets events by whole UTC minute, ignoring ones outside the window', () => {
    const now = Date.UTC(2026, 0, 1, 10, 5, 30);
    const points = countPerMinute(
      [
        ev('lease-granted', Date.UTC(2026, 0, 1, 10, 5, 0)), // first ms of the last bucket
        ev('lease-granted', Date.UTC(2026, 0, 1, 10, 4, 59, 999)), // last ms of the one before
        ev('lease-granted', Date.UTC(2026, 0, 1, 10, 4, 0)),
        ev('lease-granted', Date.UTC(2026, 0, 1, 10, 2, 0) - 1), // before the 3-minute window
        ev('lease-granted', Date.UTC(2026, 0, 1, 10, 6, 0)), // after now's minute
        ev('lease-expired', Date.UTC(2026, 0, 1, 10, 5, 1)), // other kind
      ],
      ['lease-granted'],
      now,
      3,
    );
    expect(points).toEqual([
      { at: Date.UTC(2026, 0, 1, 10, 3), value: 0 },
      { at: Date.UTC(2026, 0, 1, 10, 4), value: 2 },
      { at: Date.UTC(2026, 0, 1, 10, 5), value: 1 },
    ]);
  });

  it('rebuilds utilisation backwards from the ledger, including leases that ended', () => {
    const f = fixture();
    const u = utilisationPerMinute(f.recent, f.ledger, f.board, 12, NOW, 60);
    const at = (h: number, m: number) => u.find((p) => p.at === Date.UTC(2026, 10, 24, h, m))!.value;
    expect(at(12, 30)).toBe(41.7); // #1 (2) + #2 (3) of 12
    expect(at(12, 27)).toBe(50); // #3 (1) still held before it expired at 12:28:15
    expect(at(12, 25)).toBe(50); // #3 granted 12:25:15
    expect(at(12, 24)).toBe(41.7);
    expect(at(12, 19)).toBe(25); // before #1 was granted: only #2
    expect(at(12, 14)).toBe(0); // before #2 was granted
    expect(u[0]!.at).toBe(minuteStart(NOW) - 59 * MINUTE_MS);
    // Without a known capacity it shows raw points.
    expect(utilisationPerMinute(f.recent, f.ledger, f.board, 0, NOW, 1)[0]!.value).toBe(5);
  });
});

describe('formatting', () => {
  it('formats countdowns, rounding seconds up', () => {
    expect(formatCountdown(245_000)).toBe('4m 05s');
    expect(formatCountdown(3_723_000)).toBe('1h 02m');
    expect(formatCountdown(12_000)).toBe('12s');
    expect(formatCountdown(200)).toBe('1s');
    expect(formatCountdown(0)).toBe('expired');
    expect(formatCountdown(-5)).toBe('expired');
    expect(formatCountdown(Number.NaN)).toBe('expired');
    expect(describeCountdown(245_000)).toBe('4 minutes 5 seconds left');
    expect(describeCountdown(3_600_000)).toBe('1 hour left');
  });

  it('formats clock times in UTC', () => {
    expect(formatClock(NOW)).toBe('12:30:15');
  });
});

describe('live state from the event stream', () => {
  it('applies a snapshot then ledger and board deltas, null deleting', () => {
    const f = fixture();
    let s = applySnapshot(emptyLiveState(), { board: f.board, ledger: f.ledger });
    expect(s.batch).toBe(42);
    const rt = { ...f.ledger.tasks['acme/app#3']!, state: 'leased' as const };
    s = applyDelta(s, 'ledger', { batch: 43, tasks: { 'acme/app#3': rt, 'acme/app#6': null }, events: [f.recent[0]] });
    expect(s.ledger.batch).toBe(43);
    expect(s.ledger.tasks['acme/app#3']!.state).toBe('leased');
    expect(s.ledger.tasks['acme/app#6']).toBeUndefined();
    expect(f.ledger.tasks['acme/app#3']!.state).toBe('queued'); // input untouched
    expect(s.recent).toHaveLength(1);
    s = applyDelta(s, 'board', { repos: { 'acme/app': null }, tasks: [{ ...f.board.tasks['acme/app#3']!, title: 'Renamed' }] });
    expect(s.board.repos['acme/app']).toBeUndefined();
    expect(s.board.tasks['acme/app#3']!.title).toBe('Renamed');
    expect(applyDelta(s, 'ping', {})).toBe(s);
  });

  it('drops duplicate events and keeps only the last hour', () => {
    const f = fixture();
    let s = addEvents(emptyLiveState(), f.recent);
    s = addEvents(s, f.recent);
    expect(s.recent).toHaveLength(5);
    s = addEvents(s, [{ kind: 'task-done', at: NOW + 3_600_000 - 700_000, batch: 99, actor: 'x' }]);
    // Events older than an hour before the newest are gone.
    expect(s.recent.map((e) => e.batch)).toEqual([20, 30, 40, 99]);
  });
});
