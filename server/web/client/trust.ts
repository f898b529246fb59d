/**
 * The page's trust override: a maintainer asks to set (or clear) a worker's trust from its
 * card, confirms, and the page sends `PUT /api/trust/:worker` (what `owp trust` sends).
 *
 * Invariants:
 * - Nothing is sent without a confirmation: `ask` only records what would change.
 * - Every answer is shown on the worker's card: success, or the relay's own refusal. The new
 *   level itself arrives with the live board (the page never guesses it).
 * - A bad tier never leaves the page (the relay would refuse it too).
 */
import type { TrustEvent, TrustUi } from '../../../shared/dashboard/index.js';
import type { Api } from './detail.js';

export class TrustController {
  ui: TrustUi = {};

  constructor(
    private readonly api: Api,
    private readonly changed: () => void,
  ) {}

  async handle(e: TrustEvent): Promise<void> {
    if (e.type === 'cancel') {
      this.ui = { ...this.ui, confirming: undefined };
      return this.changed();
    }
    if (e.type === 'ask') {
      if (e.tier !== null && !(Number.isInteger(e.tier) && e.tier >= 0 && e.tier <= 3)) {
        this.ui = { confirming: undefined, message: { workerId: e.workerId, kind: 'error', text: 'A trust tier is a whole number from 0 to 3.' } };
        return this.changed();
      }
      this.ui = { confirming: { workerId: e.workerId, tier: e.tier, ...(e.repo ? { repo: e.repo } : {}) }, message: undefined };
      return this.changed();
    }
    const asked = this.ui.confirming;
    if (!asked || asked.workerId !== e.workerId) return;
    const what = asked.tier === null ? `Override in ${asked.repo ?? 'every repo'} cleared` : `Trusted up to tier ${asked.tier}${asked.repo ? ` in ${asked.repo}` : ''}`;
    this.ui = { confirming: undefined, message: { workerId: asked.workerId, kind: 'ok', text: 'Sending the trust change…' } };
    this.changed();
    const res = await this.api.send('PUT', `/api/trust/${encodeURIComponent(asked.workerId)}`, { tier: asked.tier, ...(asked.repo ? { repo: asked.repo } : {}) });
    const ok = res.status >= 200 && res.status < 300;
    this.ui = {
      ...this.ui,
      message: { workerId: asked.workerId, kind: ok ? 'ok' : 'error', text: ok ? `${what}: done.` : `Trust change refused: ${res.body?.error?.message ?? `HTTP ${res.status}`}` },
    };
    this.changed();
  }
}
