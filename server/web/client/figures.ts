/**
 * The page's success figures and credits: loaded from `GET /api/stats?since=&repo=` and
 * `GET /api/credits?since=&repo=` for the chosen window and repo, again every minute.
 *
 * Invariants:
 * - An answer for a choice that is no longer current is dropped.
 * - Without a token (unless the relay is public), or from a relay without these endpoints, the section says why
 *   instead of showing made-up numbers (the flood gauge still comes from the live board).
 */
import { creditsFrom, figuresFrom, WINDOWS, type FiguresChoice, type FiguresView, type StatsWindow } from '../../../shared/dashboard/index.js';
import type { Api } from './detail.js';

export class FiguresController {
  view: FiguresView = { window: '24h' };
  private seq = 0;

  constructor(
    private readonly api: Api,
    private readonly changed: () => void,
    /** A public relay answers the figures without a token. */
    private readonly publicDashboard = false,
  ) {}

  choose(c: FiguresChoice): void {
    const window = (WINDOWS as readonly string[]).includes(c.window ?? '') ? (c.window as StatsWindow) : this.view.window;
    if (window === this.view.window && c.repo === this.view.repo) return;
    this.view = { window, repo: c.repo };
    this.changed();
    void this.load();
  }

  async load(): Promise<void> {
    const mine = ++this.seq;
    const { window, repo } = this.view;
    if (!this.api.token() && !this.publicDashboard) {
      this.view = { window, repo, unavailable: 'The figures need a token (a viewer token is enough).' };
      this.changed();
      return;
    }
    const q = `since=${window}${repo ? `&repo=${encodeURIComponent(repo)}` : ''}`;
    const [stats, credits] = await Promise.all([this.api.send('GET', `/api/stats?${q}`), this.api.send('GET', `/api/credits?${q}`)]);
    if (mine !== this.seq) return;
    const figures = stats.status === 200 ? figuresFrom(stats.body, repo) : undefined;
    const unavailable =
      stats.status === 404 && !stats.body?.error?.message?.includes('repo')
        ? 'This relay does not serve success figures (GET /api/stats); update it.'
        : stats.status !== 200
          ? `The figures could not be loaded: ${stats.body?.error?.message ?? `HTTP ${stats.status}`}`
          : figures
            ? undefined
            : 'The relay answered without figures.';
    this.view = { window, repo, figures, credits: credits.status === 200 ? creditsFrom(credits.body) : undefined, unavailable };
    this.changed();
  }
}
