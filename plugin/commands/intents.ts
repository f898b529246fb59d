/**
 * Sending intents and telling the user their outcome.
 *
 * Invariants:
 * - Every intent gets a fresh id (the idempotency key); it is appended to the inbox once.
 * - The user hears about an intent twice at most: "sent" (or "waiting offline") at once,
 *   then its outcome as the ledger records it (granted / applied / refused and why).
 * - Outcomes are read from the ledger's `outcomes` map, never guessed locally; an intent
 *   whose id another sender already used is refused in the inbox's own `refusals` map.
 */
import type * as Y from 'yjs';
import type { Intent, Outcome } from '../../shared/model.js';
import type { PoolClient } from '../sync/client.js';

const VERB: Record<string, string> = {
  claim: 'Claim',
  'claim-next': 'Claim next',
  release: 'Release',
  submit: 'Pull request link',
  heartbeat: 'Heartbeat',
  complete: 'Complete',
  fail: 'Fail',
  cancel: 'Cancel',
};

export function newIntentId(): string {
  return `obs-${window.crypto.randomUUID()}`;
}

export function describeOutcome(o: Outcome): string {
  const what = VERB[o.kind] ?? o.kind;
  const task = o.taskId ? ` ${o.taskId}` : '';
  if (o.status === 'granted') {
    const until = o.expiresAt ? `, lease until ${new Date(o.expiresAt).toLocaleTimeString()}` : '';
    return `OWP: ${what.toLowerCase()} granted:${task}${until}.`;
  }
  if (o.status === 'applied') return `OWP: ${what.toLowerCase()} done:${task}.`;
  return `OWP: ${what.toLowerCase()} refused${task ? ' for' + task : ''} (${o.code ?? 'rejected'}): ${o.message ?? 'no reason given'}`;
}

/** Watches the ledger's outcomes for the intents this plugin sent and reports each once. */
export class OutcomeWatcher {
  private waiting = new Map<string, { workerId: string; done: (o: Outcome) => void }>();
  private readonly outcomes: Y.Map<unknown>;
  private readonly refusals: Y.Map<unknown> | undefined;
  private readonly listener: (e: Y.YMapEvent<unknown>) => void;

  constructor(
    private client: PoolClient,
    private notice: (msg: string) => void,
  ) {
    this.outcomes = client.ledger.getMap('outcomes');
    this.refusals = client.inbox?.getMap('refusals');
    this.listener = (e) => {
      for (const key of e.changes.keys.keys()) {
        const w = this.waiting.get(key);
        const o = e.target.get(key) as Outcome | undefined;
        // Only the outcome of our own intent: another sender's under the same id is not ours.
        if (w && o && o.workerId === w.workerId) {
          this.waiting.delete(key);
          w.done(o);
        }
      }
    };
    this.outcomes.observe(this.listener);
    this.refusals?.observe(this.listener);
  }

  /** Append an intent; resolves with its outcome whenever the ledger has it. */
  send(intent: Intent): Promise<Outcome> {
    const result = new Promise<Outcome>((resolve) => {
      this.waiting.set(intent.id, {
        workerId: intent.workerId,
        done: (o) => {
          this.notice(describeOutcome(o));
          resolve(o);
        },
      });
    });
    this.client.appendIntent(intent);
    if (this.client.status === 'connected' || this.client.status === 'syncing') {
      this.notice(`OWP: ${VERB[intent.kind]?.toLowerCase() ?? intent.kind} sent, waiting for the relay.`);
    } else {
      this.notice(`OWP: offline. The ${VERB[intent.kind]?.toLowerCase() ?? intent.kind} waits in your inbox and is sent when the relay is back.`);
    }
    return result;
  }

  stop(): void {
    this.outcomes.unobserve(this.listener);
    this.refusals?.unobserve(this.listener);
    this.waiting.clear();
  }
}
