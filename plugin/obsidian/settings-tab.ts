/** The settings tab: relay, token, tasks folder, archive, contributor profile, hosting. */
import { PluginSettingTab, Setting, type App, type Plugin } from 'obsidian';
import { isAbsolutePath, parseSkills, type OwpSettings } from '../settings/settings.js';
import { safeFolder } from '../../shared/notes/note-path.js';

export interface SettingsHost {
  settings: OwpSettings;
  saveSettings(): Promise<void>;
  /** Reconnect with the new relay URL or token. */
  restartConnection(): Promise<void>;
  identity(): string;
  /** Where the token is kept, for the description ("secret storage" or "data.json"). */
  tokenPlace(): string;
  /** Hosting is possible here (desktop, a vault on disk). */
  canHost(): boolean;
  /** Where the hosted relay listens, or why it does not. */
  hostState(): string;
}

const wholeNumber = (v: string, min: number): number | undefined => {
  const n = Number(v);
  return Number.isInteger(n) && n >= min ? n : undefined;
};

/*
 * Two warnings are kept on purpose: obsidianmd/settings-tab/prefer-setting-definitions and
 * no-deprecated on display(). The declarative settings API (getSettingDefinitions) needs
 * Obsidian 1.13; minAppVersion is older, and display() is what those versions call.
 */
export class OwpSettingTab extends PluginSettingTab {
  constructor(
    app: App,
    plugin: Plugin,
    private host: SettingsHost,
  ) {
    super(app, plugin);
  }

  override display(): void {
    const { containerEl } = this;
    const s = this.host.settings;
    containerEl.empty();
    new Setting(containerEl).setName('Connection').setHeading();
    new Setting(containerEl)
      .setName('Relay address')
      .setDesc('Where the OWP relay listens: its address and port, as your pool admin gave it.')
      .addText((t) =>
        t.setValue(s.relayUrl).onChange(async (v) => {
          s.relayUrl = v.trim().replace(/\/+$/, '');
          await this.host.saveSettings();
        }),
      );
    new Setting(containerEl)
      .setName('Token')
      .setDesc(`The token the pool admin gave you, kept in ${this.host.tokenPlace()}. ${this.host.identity()}`)
      .addText((t) => {
        t.inputEl.type = 'password';
        t.setValue(s.token).onChange(async (v) => {
          s.token = v.trim();
          await this.host.saveSettings();
        });
      });
    new Setting(containerEl)
      .setName('Apply connection settings')
      .setDesc('Reconnect with the address and token above.')
      .addButton((b) => b.setButtonText('Reconnect').onClick(() => void this.host.restartConnection().then(() => this.display())));
    new Setting(containerEl).setName('Notes').setHeading();
    new Setting(containerEl)
      .setName('Tasks folder')
      .setDesc('New task notes are made under this folder after you reconnect. Existing notes are not moved: they keep syncing where they are.')
      .addText((t) =>
        t.setValue(s.tasksFolder).onChange(async (v) => {
          s.tasksFolder = safeFolder(v);
          await this.host.saveSettings();
        }),
      );
    new Setting(containerEl)
      .setName('Archive finished tasks after (days)')
      .setDesc('Notes of done and cancelled tasks move to the archive folder this many days after they ended; zero keeps them where they are. Nothing is ever deleted.')
      .addText((t) =>
        t.setValue(String(s.archiveAfterDays)).onChange(async (v) => {
          const n = wholeNumber(v, 0);
          if (n !== undefined) s.archiveAfterDays = n;
          await this.host.saveSettings();
        }),
      );
    this.profile(containerEl, s);
    this.hosting(containerEl, s);
  }

  private hosting(containerEl: HTMLElement, s: OwpSettings): void {
    new Setting(containerEl).setName('Hosting').setHeading();
    if (!this.host.canHost()) {
      new Setting(containerEl).setName('Host the pool from this vault').setDesc('Available in Obsidian on a desktop computer only.');
      return;
    }
    const h = s.host;
    const apply = async () => {
      await this.host.saveSettings();
      await this.host.restartConnection();
      this.display();
    };
    new Setting(containerEl)
      .setName('Host the pool from this vault')
      .setDesc(`Runs the relay inside Obsidian on this computer while the vault is open, so a small team needs no server; this vault signs in to it as its admin. This choice is kept for this computer only. ${this.host.hostState()}`)
      .addToggle((t) =>
        t.setValue(h.enabled).onChange(async (v) => {
          h.enabled = v;
          await apply();
        }),
      );
    new Setting(containerEl)
      .setName('Listen address')
      .setDesc('127.0.0.1: this computer only. 0.0.0.0 or one of its addresses: others on your network can connect (they still need a token).')
      .addText((t) =>
        t.setValue(h.address).onChange(async (v) => {
          if (/^[0-9a-fA-F.:]+$|^localhost$/.test(v.trim())) h.address = v.trim();
          await this.host.saveSettings();
        }),
      );
    new Setting(containerEl).setName('Port').addText((t) =>
      t.setValue(String(h.port)).onChange(async (v) => {
        const n = wholeNumber(v, 1);
        if (n !== undefined && n <= 65535) h.port = n;
        await this.host.saveSettings();
      }),
    );
    new Setting(containerEl)
      .setName('Data folder')
      .setDesc('An absolute folder for the pool\'s data; empty keeps it in the plugin\'s folder (relay-data). Choose a folder outside the vault if the vault syncs to other computers.')
      .addText((t) =>
        t.setValue(h.dataDir).onChange(async (v) => {
          if (v.trim() === '' || isAbsolutePath(v.trim())) h.dataDir = v.trim();
          await this.host.saveSettings();
        }),
      );
    new Setting(containerEl)
      .setName('Apply hosting settings')
      .setDesc('Restart the hosted relay with the address, port and folder above.')
      .addButton((b) => b.setButtonText('Restart').onClick(() => void apply()));
  }

  private profile(containerEl: HTMLElement, s: OwpSettings): void {
    new Setting(containerEl).setName('Contributor profile').setHeading();
    new Setting(containerEl).setName('Display name').addText((t) =>
      t.setValue(s.name).onChange(async (v) => {
        s.name = v.trim();
        await this.host.saveSettings();
      }),
    );
    new Setting(containerEl)
      .setName('Skills')
      .setDesc('Comma separated skill names, for example docs, rust.')
      .addText((t) =>
        t.setValue(s.skills.join(', ')).onChange(async (v) => {
          s.skills = parseSkills(v);
          await this.host.saveSettings();
        }),
      );
    new Setting(containerEl)
      .setName('Capacity points')
      .setDesc('How many task points you take on at once.')
      .addText((t) =>
        t.setValue(String(s.capacity)).onChange(async (v) => {
          const n = wholeNumber(v, 1);
          if (n !== undefined) s.capacity = n;
          await this.host.saveSettings();
        }),
      );
    new Setting(containerEl).setName('Maximum concurrent tasks').addText((t) =>
      t.setValue(String(s.maxConcurrent)).onChange(async (v) => {
        const n = wholeNumber(v, 1);
        if (n !== undefined) s.maxConcurrent = n;
        await this.host.saveSettings();
      }),
    );
  }
}
