/**
 * The "My tasks" view (type `owp-my-tasks`): my leases with countdowns, my pull requests
 * awaiting review, my credit; for maintainers also every pull request awaiting review.
 *
 * Invariants: DOM through createEl/setText only (no HTML strings); subscription,
 * coalesced re-renders and countdowns come from ./pool-view.ts.
 */
import type { WorkspaceLeaf } from 'obsidian';
import { formatCountdown } from '../../shared/dashboard/format.js';
import type { PoolClient } from '../sync/client.js';
import { boardFromDoc, ledgerFromDoc } from '../sync/snapshot.js';
import { buildMyTasks, type MyTaskRow } from './my-tasks.js';
import { PoolView, type PoolViewDeps } from './pool-view.js';

export const MY_TASKS_VIEW = 'owp-my-tasks';

export interface MyTasksDeps extends PoolViewDeps {
  who(): string;
}

export class MyTasksView extends PoolView<MyTasksDeps> {
  constructor(leaf: WorkspaceLeaf, deps: MyTasksDeps) {
    super(leaf, deps, 'owp-my-tasks');
  }

  getViewType(): string {
    return MY_TASKS_VIEW;
  }

  getDisplayText(): string {
    return 'My tasks';
  }

  override getIcon(): string {
    return 'list-checks';
  }

  protected draw(root: HTMLElement, client: PoolClient, now: number): void {
    const m = buildMyTasks({
      board: boardFromDoc(client.board),
      ledger: ledgerFromDoc(client.ledger),
      workerId: client.opts.workerId,
      maintainer: client.canEditBoard,
      who: this.deps.who(),
    });
    root.createEl('p', { cls: 'owp-my-summary', text: `${m.who}: ${m.credit} credit, ${m.completed} completed.` });
    this.section(root, 'My leases', m.leases, 'You hold no lease. Run "Claim next matching task" or claim from a task note.', now);
    this.section(root, 'My pull requests awaiting review', m.awaitingReview, 'None.', now);
    if (client.canEditBoard) this.section(root, 'Pull requests to review', m.toReview, 'Nothing awaits review.', now);
  }

  private section(root: HTMLElement, title: string, rows: MyTaskRow[], empty: string, now: number): void {
    const sec = root.createDiv({ cls: 'owp-my-section' });
    sec.createEl('h4', { text: title });
    if (rows.length === 0) {
      sec.createEl('p', { cls: 'owp-my-empty', text: empty });
      return;
    }
    const list = sec.createEl('ul', { cls: 'owp-my-list' });
    for (const r of rows) {
      const li = list.createEl('li', { cls: 'owp-my-row', attr: { 'data-task-id': r.taskId } });
      const link = li.createEl('a', { cls: 'owp-my-title', text: r.title, attr: { href: '#' } });
      link.addEventListener('click', (e) => {
        e.preventDefault();
        this.deps.openTask(r.taskId);
      });
      li.createSpan({ cls: 'owp-my-id', text: ` ${r.taskId}` });
      if (r.expiresAt !== undefined) li.createSpan({ cls: 'owp-countdown', text: formatCountdown(r.expiresAt - now), attr: { 'data-expires-at': String(r.expiresAt) } });
      if (r.prUrl) li.createEl('a', { cls: 'owp-my-pr', text: 'Pull request', attr: { href: r.prUrl } });
    }
  }
}
