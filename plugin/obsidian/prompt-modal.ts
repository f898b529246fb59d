/** A small modal asking for one line of text (a pull request link, a reason). */
import { Modal, Setting, type App } from 'obsidian';
import type { PromptOptions } from '../commands/list.js';

export class PromptModal extends Modal {
  private value = '';

  constructor(
    app: App,
    private opts: PromptOptions,
    private onSubmit: (value: string) => void,
  ) {
    super(app);
  }

  override onOpen(): void {
    this.setTitle(this.opts.title);
    new Setting(this.contentEl)
      .setName(this.opts.name)
      .setDesc(this.opts.desc)
      .addText((t) => {
        t.setPlaceholder(this.opts.placeholder).onChange((v) => (this.value = v));
        t.inputEl.addEventListener('keydown', (e: KeyboardEvent) => {
          if (e.key === 'Enter') this.submit();
        });
      });
    new Setting(this.contentEl).addButton((b) => {
      b.setButtonText(this.opts.button).onClick(() => this.submit());
      // Warning kept on purpose: setDestructive() needs Obsidian 1.13 and minAppVersion is
      // older; setWarning() still works there and on 1.13.
      if (this.opts.warning) b.setWarning();
      else b.setCta();
    });
  }

  submit(): void {
    const value = this.value;
    this.close();
    this.onSubmit(value);
  }

  override onClose(): void {
    this.contentEl.empty();
  }
}
