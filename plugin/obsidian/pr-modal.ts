/** A small modal asking for the pull request link. */
import { Modal, Setting, type App } from 'obsidian';

export class PullRequestModal extends Modal {
  private value = '';

  constructor(
    app: App,
    private onSubmit: (url: string) => void,
  ) {
    super(app);
  }

  override onOpen(): void {
    this.setTitle('Submit pull request link');
    new Setting(this.contentEl)
      .setName('Pull request link')
      .setDesc('The address of the pull request for the task you hold.')
      .addText((t) => {
        t.setPlaceholder('https://github.com/owner/repo/pull/1').onChange((v) => (this.value = v));
        t.inputEl.addEventListener('keydown', (e: KeyboardEvent) => {
          if (e.key === 'Enter') this.submit();
        });
      });
    new Setting(this.contentEl).addButton((b) => b.setButtonText('Submit').setCta().onClick(() => this.submit()));
  }

  submit(): void {
    const url = this.value;
    this.close();
    this.onSubmit(url);
  }

  override onClose(): void {
    this.contentEl.empty();
  }
}
