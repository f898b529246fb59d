/**
 * OWP Pool for Obsidian: lifecycle and wiring only. The work happens in sync/ (documents,
 * connection), mirror/ (notes), commands/ (intents), views/ and settings/.
 *
 * Invariants: everything registered here is cleaned up by Obsidian on unload
 * (registerEvent / registerInterval / addCommand), and the session is closed.
 */
import { Notice, Plugin, TAbstractFile, TFile, type WorkspaceLeaf } from 'obsidian';
import { normaliseSettings, type OwpSettings } from './settings/settings.js';
import { openSession, type Session } from './sync/session.js';
import type { ConnectionStatus } from './sync/client.js';
import { VaultNotes } from './obsidian/vault-notes.js';
import { OwpSettingTab } from './obsidian/settings-tab.js';
import { PromptModal } from './obsidian/prompt-modal.js';
import { relayRequest, sessionDeps } from './obsidian/session-deps.js';
import { DashboardView, DASHBOARD_VIEW } from './views/dashboard-view.js';
import { MyTasksView, MY_TASKS_VIEW } from './views/my-tasks-view.js';
import { PoolView } from './views/pool-view.js';
import { statusText } from './views/status.js';
import { platform } from './sync/platform.js';
import { commandList } from './commands/list.js';
import { findSecretStore, loadToken, persisted, secretId, storeToken, type TokenPlace } from './settings/secret.js';
import { Host } from './host/host.js';
import { hostedConnection, isLoopback } from './host/hosted.js';
import { AdminTokenModal, hostEnv } from './obsidian/host-env.js';

/** Hosting is a per-computer choice: kept in the app's local storage for this vault where it has one. */
const HOST_KEY = 'owp-pool-host-enabled';

export default class OwpPoolPlugin extends Plugin {
  override settings: OwpSettings = normaliseSettings({});
  session: Session | undefined;
  notes!: VaultNotes;
  private statusEl!: HTMLElement;
  private ticks = 0;
  private status: ConnectionStatus = 'connecting';
  /** Resolves when the current session has opened (or failed to). Tests wait on it. */
  ready: Promise<void> = Promise.resolve();
  /** Set by unload: nothing connects or hosts after it. */
  private unloaded = false;
  /** Bumped by every restart; a restart that is no longer the latest drops what it opened. */
  private generation = 0;

  private tokenPlace: TokenPlace = { store: undefined, id: '', hostId: '' };
  /** The relay inside Obsidian (desktop, when "Host the pool from this vault" is on). */
  host!: Host;

  override async onload(): Promise<void> {
    this.settings = normaliseSettings(await this.loadData());
    this.tokenPlace = { store: findSecretStore(this.app), id: secretId(this.vaultId()), hostId: secretId(this.vaultId(), 'host') };
    const hostHere = this.localHostFlag();
    if (hostHere !== undefined) this.settings.host.enabled = hostHere;
    if (loadToken(this.settings, this.tokenPlace)) await this.saveSettings();
    this.host = new Host({
      env: () => hostEnv(this.app, this.manifest),
      pluginVersion: this.manifest.version,
      log: { info: () => undefined, warn: (m, f) => console.warn(`OWP relay: ${m}`, f ?? ''), error: (m, f) => console.error(`OWP relay: ${m}`, f ?? '') },
    });
    const now = () => platform().now();
    this.notes = new VaultNotes(this.app, now);
    this.statusEl = this.addStatusBarItem();
    this.registerView(DASHBOARD_VIEW, (leaf) => new DashboardView(leaf, { client: () => this.session?.client, openTask: (id) => void this.openTask(id), now }));
    this.registerView(MY_TASKS_VIEW, (leaf) => new MyTasksView(leaf, { client: () => this.session?.client, who: () => this.whoText(), openTask: (id) => void this.openTask(id), now }));
    this.addSettingTab(
      new OwpSettingTab(this.app, this, {
        settings: this.settings,
        saveSettings: () => this.saveSettings(),
        restartConnection: () => this.restart(),
        identity: () => this.identityText(),
        tokenPlace: () => (this.tokenPlace.store ? "Obsidian's secret storage (not in data.json)" : 'data.json'),
        canHost: () => hostEnv(this.app, this.manifest) !== undefined,
        hostState: () => this.host.state,
      }),
    );
    this.addRibbonIcon('layout-dashboard', 'Open pool dashboard', () => void this.openDashboard());
    this.addRibbonIcon('list-checks', 'Open my tasks', () => void this.openView(MY_TASKS_VIEW));
    this.registerCommands();
    this.registerEvent(this.app.workspace.on('editor-change', (_e, info) => info.file && this.notes.edited(info.file.path)));
    this.registerEvent(this.app.vault.on('modify', (f) => void this.noteChanged(f)));
    this.registerEvent(this.app.vault.on('create', (f) => void this.noteChanged(f)));
    this.registerEvent(this.app.vault.on('rename', (f, old) => this.session?.mirror.noteRenamed(old, f.path)));
    this.registerEvent(this.app.vault.on('delete', (f) => this.noteDeleted(f)));
    this.registerInterval(window.setInterval(() => this.tick(), 1000));
    this.app.workspace.onLayoutReady(() => {
      this.ready = this.restart();
    });
  }

  /** Resolves when the last session has closed after unload. Tests wait on it. */
  closing: Promise<void> = Promise.resolve();

  private saving: Promise<void> = Promise.resolve();

  override onunload(): void {
    this.unloaded = true;
    const session = this.session;
    const pending = this.ready;
    this.session = undefined;
    this.closing = (async () => {
      await session?.close();
      // A restart in flight sees `unloaded` at its next step and closes what it opened;
      // wait for it so the relay below stops after any start it made.
      await pending.catch(() => undefined);
      await this.session?.close();
      this.session = undefined;
      await this.host?.stop();
      await this.saving;
    })();
  }

  /** Saves run one after another, so an older copy never overwrites a newer one. */
  saveSettings(): Promise<void> {
    this.session?.publishProfile(this.settings);
    storeToken(this.settings, this.tokenPlace);
    const local = this.hasLocalStorage();
    local?.save(HOST_KEY, this.settings.host.enabled);
    const kept = persisted(this.settings, this.tokenPlace);
    const data = local ? { ...kept, host: { ...kept.host, enabled: false } } : kept;
    this.saving = this.saving.then(() => this.saveData(data)).catch(() => undefined);
    return this.saving;
  }

  /** Close the current session (if any), host the pool if asked, and open a session with the current settings. */
  async restart(): Promise<void> {
    const generation = ++this.generation;
    const stale = () => this.unloaded || generation !== this.generation;
    try {
      await this.session?.close();
      this.session = undefined;
      if (stale()) return;
      const connection = await this.hostIfAsked();
      if (stale()) return;
      await this.connect(connection, stale);
    } catch (e) {
      if (!stale()) new Notice(`OWP: could not connect: ${e instanceof Error ? e.message : String(e)}. Run "Reconnect" to try again.`);
    }
  }

  /** Open a session with the current settings unless the restart went stale meanwhile. */
  private async connect(connection: { relayUrl: string; token: string } | undefined, stale: () => boolean): Promise<void> {
    const session = await openSession(
      sessionDeps({
        vaultId: this.vaultId(),
        settings: this.settings,
        ...(connection ? { connection } : {}),
        notes: this.notes,
        client: () => this.session?.client,
        save: () => this.saveSettings(),
        onStatus: (s) => {
          this.status = s;
          this.tick();
        },
        onDocsReplaced: () => this.reattachViews(),
      }),
    );
    if (stale()) {
      await session?.close();
      return;
    }
    this.session = session;
    this.reattachViews();
    this.tick();
  }

  /** Views follow the session's current documents (after a connect, or a document re-created by the relay). */
  private reattachViews(): void {
    for (const leaf of [...this.app.workspace.getLeavesOfType(DASHBOARD_VIEW), ...this.app.workspace.getLeavesOfType(MY_TASKS_VIEW)]) {
      if (leaf.view instanceof PoolView) {
        leaf.view.attach();
        leaf.view.render();
      }
    }
  }

  /**
   * Start, restart or stop the relay inside Obsidian to match the settings; while it runs,
   * this vault signs in to it (with the settings' token when that is meant for it, else as
   * its admin). The admin token is shown once, when the relay creates it.
   */
  private async hostIfAsked(): Promise<{ relayUrl: string; token: string } | undefined> {
    const r = await this.host.ensure(this.settings.host);
    if (r.problem) new Notice(`OWP: cannot host the pool: ${r.problem}`);
    if (!r.relay) return undefined;
    if (r.createdAdminToken) {
      this.settings.hostToken = r.createdAdminToken;
      await this.saveSettings();
      new AdminTokenModal(this.app, r.createdAdminToken, r.relay.url).open();
    }
    if (r.started && !isLoopback(this.settings.host.address)) new Notice(`OWP: the pool is open to your network at ${this.settings.host.address}:${r.relay.port}. Anyone who can reach this computer can try tokens; keep it on 127.0.0.1 unless others must connect.`);
    const c = hostedConnection(r.relay, this.settings, this.settings.hostToken);
    if (!c) new Notice(`OWP: this vault hosts the pool at ${r.relay.url} but does not have its admin token. Put a token for it in the settings, with the relay address ${r.relay.url}.`);
    return c;
  }

  /** The app's per-vault local storage (Obsidian 1.8.7 and later), feature-detected. */
  private hasLocalStorage(): { load(key: string): unknown; save(key: string, v: unknown): void } | undefined {
    const app = this.app as unknown as { loadLocalStorage?: (key: string) => unknown; saveLocalStorage?: (key: string, v: unknown) => void };
    const { loadLocalStorage: load, saveLocalStorage: save } = app;
    return typeof load === 'function' && typeof save === 'function' ? { load: (k) => load.call(app, k), save: (k, v) => save.call(app, k, v) } : undefined;
  }

  /** This computer's choice to host, or undefined when the app keeps none (then data.json decides). */
  private localHostFlag(): boolean | undefined {
    const v = this.hasLocalStorage()?.load(HOST_KEY);
    return typeof v === 'boolean' ? v : undefined;
  }

  private vaultId(): string {
    return (this.app as { appId?: string }).appId ?? this.app.vault.getName();
  }

  private whoText(): string {
    const id = this.session?.identity;
    return id?.workerId ?? id?.name ?? id?.role ?? 'Not signed in';
  }

  private identityText(): string {
    const id = this.session?.identity ?? this.settings.identity;
    return id ? `Signed in as ${id.role}${id.workerId ? ' ' + id.workerId : ''}.` : 'Not signed in yet.';
  }

  private tick(): void {
    const s = this.session;
    const hosting = this.host.running?.url;
    if (!s) {
      this.statusEl.setText(hosting ? `OWP: not connected · hosting ${hosting.replace(/^https?:\/\//, '')}` : 'OWP: not connected');
      return;
    }
    void s.mirror.flush();
    if (++this.ticks % 60 === 0) void s.mirror.archiveSweep();
    this.statusEl.setText(statusText({ status: this.status, pending: s.client.pendingIntents().length, leases: s.client.myLeases(), now: platform().now(), ...(hosting ? { hosting } : {}), ...(s.mirror.progress ? { notes: s.mirror.progress } : {}) }));
  }

  private async noteChanged(f: TAbstractFile): Promise<void> {
    if (!(f instanceof TFile) || f.extension !== 'md' || !this.session) return;
    const text = await this.app.vault.cachedRead(f);
    await this.session?.mirror.noteChanged(f.path, text);
  }

  private noteDeleted(f: TAbstractFile): void {
    const id = this.session?.mirror.noteDeleted(f.path);
    if (id) new Notice(`OWP: the note of ${id} was deleted. The task stays on the board; run "Restore task note" to get the note back.`);
  }

  private registerCommands(): void {
    const list = commandList({
      session: () => this.session,
      context: (s) => ({
        client: s.client,
        mirror: s.mirror,
        watcher: s.watcher,
        notice: (m) => new Notice(m),
        now: () => platform().now(),
        activeNote: async () => {
          const f = this.app.workspace.getActiveFile();
          return f ? { path: f.path, basename: f.basename, text: await this.app.vault.read(f) } : undefined;
        },
        replaceNote: (path, expected, next) => this.notes.replace(path, expected, next),
        api: (method, path, body) => relayRequest(s.identity.relayUrl, s.identity.token, method, path, body),
      }),
      prompt: (opts, then) => new PromptModal(this.app, opts, then).open(),
      notice: (m) => new Notice(m),
      openNote: () => this.openNote(),
      openDashboard: () => void this.openDashboard(),
      openMyTasks: () => void this.openView(MY_TASKS_VIEW),
      reconnect: () => void (this.ready = this.restart()),
    });
    for (const c of list) {
      const when = c.when;
      if (!when) this.addCommand({ id: c.id, name: c.name, callback: c.run });
      else
        this.addCommand({
          id: c.id,
          name: c.name,
          checkCallback: (checking) => {
            if (!when()) return false;
            if (!checking) c.run();
            return true;
          },
        });
    }
  }

  /** The active note's task id from its properties (the metadata cache: synchronous). */
  private openNote(): { taskId: string | undefined; noteOpen: boolean } {
    const f = this.app.workspace.getActiveFile();
    if (!f || f.extension !== 'md') return { taskId: undefined, noteOpen: false };
    const fm = this.app.metadataCache.getFileCache(f)?.frontmatter;
    const id = fm && typeof fm.task === 'string' && typeof fm.repo === 'string' ? fm.task : typeof fm?.owp_id === 'string' ? fm.owp_id : undefined;
    return { taskId: id || undefined, noteOpen: true };
  }

  openDashboard(): Promise<WorkspaceLeaf> {
    return this.openView(DASHBOARD_VIEW);
  }

  async openView(type: string): Promise<WorkspaceLeaf> {
    const existing = this.app.workspace.getLeavesOfType(type)[0];
    const leaf = existing ?? this.app.workspace.getLeaf('tab');
    if (!existing) await leaf.setViewState({ type, active: true });
    this.app.workspace.setActiveLeaf(leaf, { focus: true });
    return leaf;
  }

  async openTask(taskId: string): Promise<void> {
    const path = this.session?.mirror.pathOf(taskId);
    if (path) await this.app.workspace.openLinkText(path, '', false);
    else new Notice(`OWP: task ${taskId} has no note in this vault (deleted notes come back with "Restore task note").`);
  }
}
