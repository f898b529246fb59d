/**
 * The dashboard as an Obsidian view (type `owp-dashboard`): shared/dashboard rendered from
 * the live board and ledger documents (subscription and countdowns: ./pool-view.ts).
 *
 * Invariants: builds DOM only through shared/dashboard's builder (DOM nodes only, never
 * HTML strings).
 */
import type { WorkspaceLeaf } from 'obsidian';
import { buildDashboardModel, publicProfilesFrom, renderDashboard } from '../../shared/dashboard/index.js';
import type { PoolClient } from '../sync/client.js';
import { boardFromDoc, ledgerFromDoc, recentFromDoc } from '../sync/snapshot.js';
import { PoolView, type PoolViewDeps } from './pool-view.js';

export const DASHBOARD_VIEW = 'owp-dashboard';

export type DashboardDeps = PoolViewDeps;

export class DashboardView extends PoolView {
  protected override keepsRoot = true;

  constructor(leaf: WorkspaceLeaf, deps: DashboardDeps) {
    super(leaf, deps, 'owp-dashboard-root');
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

  protected draw(root: HTMLElement, client: PoolClient, now: number): void {
    const model = buildDashboardModel({
      board: boardFromDoc(client.board),
      ledger: ledgerFromDoc(client.ledger),
      recent: recentFromDoc(client.ledger),
      // The relay's public worker projection: real capacity for every role (inboxes are private).
      profiles: publicProfilesFrom(client.ledger.getMap('profiles').toJSON()),
      now,
    });
    renderDashboard(root, model, { now, doc: root.ownerDocument, onOpenTask: (id) => this.deps.openTask(id) });
  }
}
