/**
 * The Obsidian side of hosting (plugin/host/): the desktop check, the plugin's folder on
 * disk, Node's require, and the once-only display of the admin token.
 *
 * Invariants: require() is reached only behind `Platform.isDesktopApp` and a vault that is
 * a folder on disk (FileSystemAdapter); on mobile `hostEnv` answers undefined.
 */
import { FileSystemAdapter, Modal, Notice, Platform, Setting, type App, type PluginManifest } from 'obsidian';
import type { HostEnv } from '../host/host.js';

export function hostEnv(app: App, manifest: PluginManifest): HostEnv | undefined {
  if (!Platform.isDesktopApp) return undefined;
  const adapter = app.vault.adapter;
  if (!(adapter instanceof FileSystemAdapter)) return undefined;
  const load = electronRequire();
  if (!load) return undefined;
  const dir = manifest.dir ?? `${app.vault.configDir}/plugins/${manifest.id}`;
  return { pluginDir: `${adapter.getBasePath()}/${dir}`, load };
}

interface NodeRequireFn {
  (file: string): unknown;
  resolve?: (file: string) => string;
  cache?: Record<string, unknown>;
}

/**
 * Node's require, which Electron's renderer (Obsidian on desktop) puts on window. The chunk
 * is read afresh on every start: after a plugin update without an app restart, Node's cache
 * would hand back the previous version's chunk.
 */
function electronRequire(): ((file: string) => unknown) | undefined {
  const r = (window as unknown as { require?: NodeRequireFn }).require;
  if (typeof r !== 'function') return undefined;
  return (file) => {
    try {
      const resolved = r.resolve?.(file);
      if (resolved !== undefined && r.cache) delete r.cache[resolved];
    } catch {
      // not there (yet): require() below says so with MODULE_NOT_FOUND
    }
    return r(file);
  };
}

/** Shows the hosted relay's admin token, once, with a copy button. */
export class AdminTokenModal extends Modal {
  constructor(
    app: App,
    private token: string,
    private url: string,
  ) {
    super(app);
  }

  override onOpen(): void {
    this.setTitle('The admin token of your pool');
    const { contentEl } = this;
    contentEl.createEl('p', { text: `The pool now runs inside Obsidian at ${this.url}, and this vault signs in to it as its admin.` });
    contentEl.createEl('p', { text: 'This is the admin token. It is shown only now: keep it somewhere safe (a password manager). You need it to use the command line or to sign in from another vault as admin.' });
    const input = contentEl.createEl('input', { cls: 'owp-admin-token', attr: { type: 'text', readonly: 'true', 'aria-label': 'Admin token' } });
    input.value = this.token;
    new Setting(contentEl)
      .addButton((b) =>
        b
          .setButtonText('Copy')
          .setCta()
          .onClick(() => {
            void navigator.clipboard.writeText(this.token).then(
              () => new Notice('OWP: admin token copied.'),
              () => new Notice('OWP: could not copy; select the token and copy it by hand.'),
            );
          }),
      )
      .addButton((b) => b.setButtonText('Done').onClick(() => this.close()));
  }

  override onClose(): void {
    this.contentEl.empty();
  }
}
