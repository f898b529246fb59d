/**
 * The "My tasks" view (type `owp-my-tasks`): my leases with countdowns, my pull requests
 * awaiting review, my credit; for maintainers also every pull request awaiting review.
 *
 * Invariants: DOM through createEl/setText only (no HTML strings); re-renders when the
 * documents change (coalesced), countdowns tick every second without a re-render.
 */
import { ItemView, type WorkspaceLeaf } from 'obsidian';
import { updateCountdowns } from '../../shared/dashboard/index.js';
import { formatCountdown } from '../../shared/dashboard/format.js';
import type { PoolClient } from '../sync/client.js';
import { boardFromDoc, ledgerFromDoc } from '../sync/snapshot.js';
import { buildMyTasks, type MyTaskRow } from './my-tasks.js';

export const MY_TASKS_VIEW = 'owp-my-tasks';

export interface MyTasksDeps {
  client(): PoolClient | undefined;
  who(): string;
  openTask(taskId: string): void;
  now(): number;
}

export class MyTasksView extends ItemView {
  private root: HTMLElement | undefined;
  private scheduled = false;
  private detach: (() => void) | undefined;

  constructor(
    leaf: WorkspaceLeaf,
    private deps: MyTasksDeps,
  ) {
    super(leaf);
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

  override async onOpen(): Promise<void> {
    this.contentEl.empty();
    this.root = this.contentEl.createDiv({ cls: 'owp-my-tasks' });
    this.attach();
    this.render();
    this.registerInterval(window.setInterval(() => this.root && updateCountdowns(this.root, this.deps.now()), 1000));
  }

  override async onClose(): Promise<void> {
    this.detach?.();
    this.detach = undefined;
  }

  attach(): void {
    this.detach?.();
    const client = this.deps.client();
    if (!client) return;
    const onChange = () => this.schedule();
    client.board.on('update', onChange);
    client.ledger.on('update', onChange);
    this.detach = () => {
      client.board.off('update', onChange);
      client.ledger.off('update', onChange);
    };
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    window.setTimeout(() => {
      this.scheduled = false;
      this.render();
    }, 50);
  }

  render(): void {
    const root = this.root;
    if (!root) return;
    root.empty();
    const client = this.deps.client();
    if (!client) {
      root.createEl('p', { text: 'Not connected. Set the relay and token in the plugin settings.' });
      return;
    }
    const m = buildMyTasks({
      board: boardFromDoc(client.board),
      ledger: ledgerFromDoc(client.ledger),
      workerId: client.opts.workerId,
      maintainer: client.canEditBoard,
      who: this.deps.who(),
    });
    const now = this.deps.now();
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
