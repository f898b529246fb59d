// @vitest-environment happy-dom
/**
 * The task detail: the brief's Markdown subset against hostile input (example-based and a
 * property over arbitrary text), the detail model (PR number and state, lease spans from
 * audit events, actions by state and role), the filters and the review queue.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildDashboardModel, buildTaskDetail, renderBrief, renderDashboard } from '../../shared/dashboard/index.js';
import { builder } from '../../shared/dashboard/dom.js';
import type { AuditEvent } from '../../shared/model.js';
import { fcOptions } from '../helpers/scheduler-arbitraries.js';
import { fixture, NOW } from '../helpers/dashboard-fixtures.js';

const ALLOWED = new Set(['DIV', 'P', 'H4', 'H5', 'H6', 'UL', 'OL', 'LI', 'BLOCKQUOTE', 'PRE', 'CODE', 'STRONG', 'EM', 'A', 'BR']);
const brief = (src: string): HTMLElement => renderBrief(builder(document), src);

describe('renderBrief', () => {
  it('renders the subset: headings, lists, task boxes, quotes, code, bold, italics, links', () => {
    const el = brief('# Title\n\nSome **bold**, *em*, _em too_ and `code` with snake_case_name.\nNext line.\n\n- [x] done\n- [ ] todo\n1. first\n2. second\n\n> quoted\n\n```\nconst a = 1;\n```\nSee https://example.org/a, or [docs](https://example.org/d).');
    expect(el.querySelector('h4')!.textContent).toBe('Title');
    expect(el.querySelector('strong')!.textContent).toBe('bold');
    expect([...el.querySelectorAll('em')].map((e) => e.textContent)).toEqual(['em', 'em too']);
    expect(el.querySelector('p')!.textContent).toContain('snake_case_name');
    expect(el.querySelectorAll('p')[0]!.querySelectorAll('br').length).toBe(1);
    expect([...el.querySelectorAll('ul li')].map((l) => l.getAttribute('data-checked'))).toEqual(['true', 'false']);
    expect(el.querySelectorAll('ol li').length).toBe(2);
    expect(el.querySelector('blockquote')!.textContent).toBe('quoted');
    expect(el.querySelector('pre code')!.textContent).toBe('const a = 1;');
    expect([...el.querySelectorAll('a')].map((a) => [a.getAttribute('href'), a.textContent, a.getAttribute('rel')])).toEqual([
      ['https://example.org/a', 'https://example.org/a', 'noopener noreferrer'],
      ['https://example.org/d', 'docs', 'noopener noreferrer'],
    ]);
  });

  it('keeps hostile input as text: raw HTML, script links, images, attribute breakouts', () => {
    const el = brief(
      '<script>alert(1)</script><img src=x onerror=alert(2)>\n[x](javascript:alert(3)) [y](data:text/html,hi) ![i](https://e.org/i.png) [z](https://e.org/"onmouseover="alert(4))\n<a href="javascript:alert(5)">a</a> <!-- c --> &lt;b&gt;',
    );
    for (const n of el.querySelectorAll('*')) expect(ALLOWED.has(n.tagName), n.tagName).toBe(true);
    expect(el.textContent).toContain('<script>alert(1)</script>');
    expect(el.textContent).toContain('[x](javascript:alert(3))');
    expect(el.textContent).toContain('&lt;b&gt;');
    const hrefs = [...el.querySelectorAll('a')].map((a) => a.getAttribute('href'));
    // The breakout attempt leaves only its harmless URL prefix as a link; no attribute escapes.
    expect(hrefs).toEqual(['https://e.org/i.png', 'https://e.org/']);
    expect(el.querySelector('a')!.textContent).toBe('image: i');
    for (const a of el.querySelectorAll('a')) expect([...a.attributes].map((x) => x.name).sort()).toEqual(['class', 'href', 'rel', 'target']);
  });

  it('says so when there is no brief, and cuts a huge one', () => {
    expect(brief('  \n\n').textContent).toBe('No brief was written for this task.');
    const huge = brief('x'.repeat(200_000));
    expect(huge.textContent!.length).toBeLessThan(70_000);
  });

  it('only ever creates allowed elements and http(s) links, whatever the text (property)', () => {
    const piece = fc.constantFrom('**', '*', '_', '__', '`', '```', '[', ']', '(', ')', '![', '# ', '- ', '1. ', '> ', '\n', ' ', '<b>', 'javascript:', 'https://e.org/', 'a', '"', "'");
    fc.assert(
      fc.property(fc.array(fc.oneof(piece, fc.string({ maxLength: 6 })), { maxLength: 60 }), (parts) => {
        const src = parts.join('');
        const el = brief(src);
        for (const n of el.querySelectorAll('*')) if (!ALLOWED.has(n.tagName)) return false;
        for (const a of el.querySelectorAll('a')) if (!/^https?:\/\/\S+$/.test(a.getAttribute('href') ?? '')) return false;
        return true;
      }),
      fcOptions(300),
    );
  });
});

const ev = (kind: AuditEvent['kind'], at: number, extra: Partial<AuditEvent> = {}): AuditEvent => ({ kind, at, batch: at, actor: 'relay', taskId: 'acme/app#2', ...extra });

describe('buildTaskDetail', () => {
  it('reads the PR number and state, the issue link, attempts and the lease spans', () => {
    const f = fixture();
    f.board.tasks['acme/app#2'] = { ...f.board.tasks['acme/app#2']!, issueNumber: 2 };
    const events = [
      ev('lease-granted', 1, { workerId: 'ann', fencingToken: 1 }),
      ev('lease-expired', 5, { workerId: 'ann', fencingToken: 1 }),
      ev('claim-rejected', 6, { workerId: 'cy' }),
      ev('lease-granted', 7, { workerId: 'bob', fencingToken: 2 }),
      ev('pr-submitted', 9, { workerId: 'bob', fencingToken: 2, reason: 'https://github.com/acme/app/pull/9' }),
      ev('lease-granted', 8, { taskId: 'acme/app#3', workerId: 'x', fencingToken: 1 }),
    ];
    const d = buildTaskDetail({ board: f.board, ledger: f.ledger, taskId: 'acme/app#2', events, canAct: true })!;
    expect(d.pr).toEqual({ url: 'https://github.com/acme/app/pull/9', number: 9, state: 'open' });
    expect(d.issueUrl).toBe('https://github.com/acme/app/issues/2');
    expect(d.leases).toEqual([
      { fencingToken: 1, workerId: 'ann', from: 1, to: 5, end: 'expired' },
      { fencingToken: 2, workerId: 'bob', from: 7, pr: true },
    ]);
    expect(d.timeline.map((t) => t.kind)).toEqual(['lease-granted', 'lease-expired', 'lease-granted', 'pr-submitted']);
    expect(d.actions).toEqual(['merged', 'closed', 'changes-requested', 'requeue', 'hold', 'priority', 'cancel']);
    expect(buildTaskDetail({ board: f.board, ledger: f.ledger, taskId: 'acme/app#2', events, canAct: false })!.actions).toEqual([]);
    expect(buildTaskDetail({ board: f.board, ledger: f.ledger, taskId: 'nope', events, canAct: true })).toBeUndefined();
  });

  it('offers by state what the scheduler accepts: nothing when finished, unhold when held', () => {
    const f = fixture();
    const actions = (id: string) => buildTaskDetail({ board: f.board, ledger: f.ledger, taskId: id, events: [], canAct: true })!.actions;
    expect(actions('acme/app#7')).toEqual(['unhold', 'priority', 'cancel']);
    for (const [id, rt] of Object.entries(f.ledger.tasks)) {
      if (rt.state === 'done' || rt.state === 'cancelled') expect(actions(id)).toEqual([]);
      if (rt.state === 'stuck') expect(actions(id)).toContain('requeue');
    }
  });

  it('renders with data-task-detail and data-action hooks, and a confirmation only after asking', () => {
    const f = fixture();
    const d = buildTaskDetail({ board: f.board, ledger: f.ledger, taskId: 'acme/app#2', events: [], canAct: true })!;
    const root = document.createElement('div');
    const model = buildDashboardModel({ ...f, now: NOW });
    renderDashboard(root, model, { now: NOW, detail: d });
    expect(root.querySelectorAll('[data-task-detail="acme/app#2"]').length).toBe(1);
    expect([...root.querySelectorAll('[data-action]')].map((b) => b.getAttribute('data-action'))).toEqual(['merged', 'closed', 'changes-requested', 'requeue', 'hold', 'cancel', 'priority']);
    expect(root.querySelectorAll('[data-confirm]').length).toBe(0);
    renderDashboard(root, model, { now: NOW, detail: d, detailUi: { confirming: 'cancel' } });
    expect(root.querySelector('[data-confirm]')!.getAttribute('data-confirm')).toBe('cancel');
    // Cards stay the only elements with data-task-id.
    expect(root.querySelectorAll('[data-task-id="acme/app#2"]').length).toBe(1);
  });
});

describe('filters and the review queue', () => {
  it('filters cards by repo, state, skill, worker and text, and keeps counts and budgets whole', () => {
    const f = fixture();
    const ids = (filter: Parameters<typeof buildDashboardModel>[0]['filter']) =>
      buildDashboardModel({ ...f, now: NOW, filter })
        .repos.flatMap((r) => r.columns.flatMap((c) => c.tasks.map((t) => t.id)))
        .sort();
    expect(ids({ skill: 'docs' })).toEqual(['acme/app#2']);
    expect(ids({ worker: 'alice' })).toEqual(['acme/app#1']);
    expect(ids({ state: 'pr_open' })).toEqual(['acme/app#2']);
    expect(ids({ repo: 'other/lib' })).toEqual(['other/lib#1']);
    expect(ids({ text: 'LIB TASK' })).toEqual(['other/lib#1']);
    expect(ids({ text: '.*' })).toEqual([]);
    const m = buildDashboardModel({ ...f, now: NOW, filter: { skill: 'docs' } });
    expect(m.matching).toEqual({ shown: 1, all: 8 });
    expect(m.repos.find((r) => r.repo === 'acme/app')!.budget).toEqual(buildDashboardModel({ ...f, now: NOW }).repos.find((r) => r.repo === 'acme/app')!.budget);
  });

  it('shows the rendered filter in the controls, even after the user touched them (Clear, live updates)', () => {
    const f = fixture();
    const root = document.createElement('div');
    document.body.appendChild(root);
    const seen: unknown[] = [];
    const draw = (filter: Parameters<typeof buildDashboardModel>[0]['filter']) =>
      renderDashboard(root, buildDashboardModel({ ...f, now: NOW, filter }), { now: NOW, onFilter: (x) => seen.push(x) });
    draw({});
    const skill = root.querySelector<HTMLSelectElement>('#owp-filter-skill')!;
    const text = root.querySelector<HTMLInputElement>('#owp-filter-text')!;
    skill.value = 'docs';
    skill.dispatchEvent(new Event('change', { bubbles: true }));
    text.value = 'lib';
    text.dispatchEvent(new Event('input', { bubbles: true }));
    expect(seen.at(-1)).toEqual({ skill: 'docs', text: 'lib' });
    draw({ skill: 'docs', text: 'lib' });
    expect([skill.value, text.value]).toEqual(['docs', 'lib']);
    root.querySelector<HTMLButtonElement>('[data-filter-clear]')!.click();
    expect(seen.at(-1)).toEqual({});
    expect([skill.value, text.value]).toEqual(['', '']);
    draw({ state: 'queued' });
    expect(root.querySelector<HTMLSelectElement>('#owp-filter-state')!.value).toBe('queued');
    expect([skill.value, text.value]).toEqual(['', '']);
    root.remove();
  });

  it('lists PR-open tasks oldest first, with their PR number', () => {
    const f = fixture();
    const base = f.ledger.tasks['acme/app#2']!;
    f.ledger.tasks['acme/app#4'] = { ...base, taskId: 'acme/app#4', updatedAt: base.updatedAt - 60_000, prUrl: 'https://github.com/acme/app/pull/3' };
    const q = buildDashboardModel({ ...f, now: NOW }).awaitingReview;
    expect(q.map((i) => [i.id, i.prNumber])).toEqual([
      ['acme/app#4', 3],
      ['acme/app#2', 9],
    ]);
  });
});
