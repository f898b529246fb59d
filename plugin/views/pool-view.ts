/**
 * What the pool's views share (the dashboard, "My tasks"): a root element, a subscription to
 * the current client's board and ledger documents, coalesced re-renders, and countdowns that
 * tick every second without a re-render.
 *
 * Invariants: a subclass only draws (`draw`), from the client it is given; DOM through
 * createEl/setText or shared/dashboard's builder only (no HTML strings). `attach()` is
 * called again after a reconnect; the subscription of the previous client is dropped.
 */
import { ItemView, type WorkspaceLeaf } from 'obsidian';
import { updateCountdowns } from '../../shared/dashboard/index.js';
import type { PoolClient } from '../sync/client.js';

export interface PoolViewDeps {
  client(): PoolClient | undefined;
  openTask(taskId: string): void;
  now(): number;
}

export abstract class PoolView<D extends PoolViewDeps = PoolViewDeps> extends ItemView {
  private root: HTMLElement | undefined;
  private scheduled = false;
  private detach: (() => void) | undefined;
  renders = 0;

  constructor(
    leaf: WorkspaceLeaf,
    protected deps: D,
    private readonly rootClass: string,
  ) {
    super(leaf);
  }

  /** Draw the view into `root` (already emptied unless `keepsRoot`) from a connected client. */
  protected abstract draw(root: HTMLElement, client: PoolClient, now: number): void;

  /** The dashboard's builder replaces its own children; other views start from an empty root. */
  protected keepsRoot = false;

  override async onOpen(): Promise<void> {
    this.contentEl.empty();
    this.root = this.contentEl.createDiv({ cls: this.rootClass });
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
    this.detach = undefined;
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
    const client = this.deps.client();
    if (!client || !this.keepsRoot) root.empty();
    if (!client) {
      root.createEl('p', { text: 'Not connected. Set the relay and token in the plugin settings.' });
      return;
    }
    this.draw(root, client, this.deps.now());
    this.renders++;
  }
}
