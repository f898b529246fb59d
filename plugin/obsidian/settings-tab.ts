/** The settings tab: relay, token, tasks folder, contributor profile. */
import { PluginSettingTab, Setting, type App, type Plugin } from 'obsidian';
import { parseSkills, type OwpSettings } from '../settings/settings.js';
import { safeFolder } from '../../shared/notes/note-path.js';

export interface SettingsHost {
  settings: OwpSettings;
  saveSettings(): Promise<void>;
  /** Reconnect with the new relay URL or token. */
  restartConnection(): Promise<void>;
  identity(): string;
}

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
      .setDesc('Where the OWP relay listens, for example http://127.0.0.1:8787.')
      .addText((t) =>
        t.setValue(s.relayUrl).onChange(async (v) => {
          s.relayUrl = v.trim().replace(/\/+$/, '');
          await this.host.saveSettings();
        }),
      );
    new Setting(containerEl)
      .setName('Token')
      .setDesc(`The token the pool admin gave you. ${this.host.identity()}`)
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
    new Setting(containerEl)
      .setName('Tasks folder')
      .setDesc('New task notes are made under this folder after you reconnect. Existing notes are not moved: they keep syncing where they are.')
      .addText((t) =>
        t.setValue(s.tasksFolder).onChange(async (v) => {
          s.tasksFolder = safeFolder(v);
          await this.host.saveSettings();
        }),
      );
    new Setting(containerEl).setName('Contributor profile').setHeading();
    new Setting(containerEl)
      .setName('Display name')
      .addText((t) =>
        t.setValue(s.name).onChange(async (v) => {
          s.name = v.trim();
          await this.host.saveSettings();
        }),
      );
    new Setting(containerEl)
      .setName('Skills')
      .setDesc('Comma separated, lower case, for example: typescript, docs, rust.')
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
          const n = Number(v);
          if (Number.isInteger(n) && n >= 1) s.capacity = n;
          await this.host.saveSettings();
        }),
      );
    new Setting(containerEl)
      .setName('Maximum concurrent tasks')
      .addText((t) =>
        t.setValue(String(s.maxConcurrent)).onChange(async (v) => {
          const n = Number(v);
          if (Number.isInteger(n) && n >= 1) s.maxConcurrent = n;
          await this.host.saveSettings();
        }),
      );
  }
}
