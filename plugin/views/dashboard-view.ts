/**
 * The dashboard as an Obsidian view (type `owp-dashboard`): shared/dashboard rendered from
 * the live board and ledger documents.
 *
 * Invariants:
 * - Re-renders when either document changes (coalesced to one render per animation-ish
 *   tick); countdowns tick every second through registerInterval, without a re-render.
 * - Builds DOM only through shared/dashboard's builder (DOM nodes only, never HTML strings).
 */
import { ItemView, type WorkspaceLeaf } from 'obsidian';
import { buildDashboardModel, publicProfilesFrom, renderDashboard, updateCountdowns } from '../../shared/dashboard/index.js';
import type { PoolClient } from '../sync/client.js';
import { boardFromDoc, ledgerFromDoc, recentFromDoc } from '../sync/snapshot.js';

export const DASHBOARD_VIEW = 'owp-dashboard';

export interface DashboardDeps {
  client(): PoolClient | undefined;
  openTask(taskId: string): void;
  now(): number;
}

export class DashboardView extends ItemView {
  private root: HTMLElement | undefined;
  private scheduled = false;
  private detach: (() => void) | undefined;
  renders = 0;

  constructor(
    leaf: WorkspaceLeaf,
    private deps: DashboardDeps,
  ) {
    super(leaf);
  }

  getViewType(): string {
    return DASHBOARD_VIEW;
  }

  getDisplayText(): string {
    return 'Pool dashboard';
  }

  override getIcon(): string {
    return 'layout-dashboard';
  }

  override async onOpen(): Promise<void> {
    const content = this.contentEl;
    content.empty();
    this.root = content.createDiv({ cls: 'owp-dashboard-root' });
    this.attach();
    this.render();
    this.registerInterval(window.setInterval(() => this.root && updateCountdowns(this.root, this.deps.now()), 1000));
  }

  override async onClose(): Promise<void> {
    this.detach?.();
    this.detach = undefined;
  }

  /** (Re)attach to the current client's documents; called again after a reconnect. */
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
    const client = this.deps.client();
    if (!this.root) return;
    if (!client) {
      this.root.empty();
      this.root.createEl('p', { text: 'Not connected. Set the relay and token in the plugin settings.' });
      return;
    }
    const now = this.deps.now();
    const model = buildDashboardModel({
      board: boardFromDoc(client.board),
      ledger: ledgerFromDoc(client.ledger),
      recent: recentFromDoc(client.ledger),
      // The relay's public worker projection: real capacity for every role (inboxes are private).
      profiles: publicProfilesFrom(client.ledger.getMap('profiles').toJSON()),
      now,
    });
    renderDashboard(this.root, model, { now, doc: this.root.ownerDocument, onOpenTask: (id) => this.deps.openTask(id) });
    this.renders++;
  }
}
