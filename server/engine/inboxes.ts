/**
 * InboxWatcher: follows every `owp/inbox/<workerId>` document the relay has open, turning
 * its `profile` map into a validated WorkerProfile and each new entry of its `intents`
 * array into an intent for the engine.
 *
 * Invariants:
 * - Every intent entry is handed to the engine's submit (a repeated id gets its stored
 *   outcome there, never a second arbitration).
 * - An intent whose workerId is not the inbox's worker, or that fails validation, is not
 *   arbitrated: it is reported with `not-authorized` / `invalid-intent` so its sender still
 *   gets exactly one outcome (when it carries a usable id).
 * - A heartbeat intent in an inbox is refused (`invalid-intent`): heartbeats travel on
 *   awareness or HTTP, never in a persisted document.
 * - A profile that fails validation is dropped from the pool (the worker gets no tasks)
 *   and its problem is kept for `GET /api/status`; the document is never rewritten.
 * - Intent ids are scoped to their sender: an entry whose id another sender already used
 *   (stored or queued) is never arbitrated nor answered with that sender's outcome. Its
 *   refusal (`conflict`, the code the HTTP path answers) goes in this inbox's own
 *   `refusals` map (the ledger's `outcomes` key is the other sender's), once per id.
 */
import * as Y from 'yjs';
import { OwpError, type ErrorCode } from '../../shared/errors.js';
import { INBOX_PREFIX } from '../../shared/protocol.js';
import { LIMITS, WORKER_INTENT_KINDS, parseIntent, parseWorkerProfile, type Intent, type Outcome, type WorkerProfile } from '../../shared/model.js';
import { ORIGIN } from '../../shared/protocol.js';

export { INBOX_PREFIX };

export interface RejectedIntent {
  id: string;
  workerId: string;
  kind: Intent['kind'];
  code: ErrorCode;
  message: string;
}

/** Where the watcher hands what it reads: the engine's submit and refuse. */
export interface InboxSink {
  /** Who sent the intent with this id that has a stored outcome or waits in a batch, if any. */
  sender(intentId: string): string | undefined;
  /** Queue the intent; resolves with its outcome (rejects with `conflict` when its id is taken). */
  submit(intent: Intent): Promise<unknown>;
  refuse(r: RejectedIntent): void;
  /** The outcome an inbox intent gets when another sender already used its id. */
  taken(r: RejectedIntent): Outcome;
}

/** The inbox's map of refusals that cannot go in the ledger's `outcomes` (intent id -> Outcome). */
export const INBOX_REFUSALS = 'refusals';

interface Watched {
  doc: Y.Doc;
  stop: () => void;
}

export class InboxWatcher {
  private readonly watched = new Map<string, Watched>();
  readonly profiles: Record<string, WorkerProfile> = {};
  readonly invalidProfiles = new Map<string, string>();
  private readonly sink: InboxSink;
  private readonly profileListeners = new Set<(workerId: string) => void>();

  constructor(sink: InboxSink) {
    this.sink = sink;
  }

  has(workerId: string): boolean {
    return this.watched.has(workerId);
  }

  /** Called after a worker's profile was read again (changed, removed or found invalid). */
  onProfile(listener: (workerId: string) => void): () => void {
    this.profileListeners.add(listener);
    return () => this.profileListeners.delete(listener);
  }

  workerIds(): string[] {
    return [...this.watched.keys()];
  }

  doc(workerId: string): Y.Doc | undefined {
    return this.watched.get(workerId)?.doc;
  }

  attach(workerId: string, doc: Y.Doc): void {
    if (this.watched.has(workerId)) return;
    const profile = doc.getMap<unknown>('profile');
    const intents = doc.getArray<unknown>('intents');
    const onProfile = () => this.readProfile(workerId, profile);
    const onIntents = (ev: Y.YArrayEvent<unknown>) => {
      for (const d of ev.changes.delta) if (d.insert) for (const v of d.insert as unknown[]) this.readIntent(workerId, v);
    };
    profile.observeDeep(onProfile);
    intents.observe(onIntents);
    this.watched.set(workerId, {
      doc,
      stop: () => {
        profile.unobserveDeep(onProfile);
        intents.unobserve(onIntents);
      },
    });
    this.readProfile(workerId, profile);
    for (const v of intents.toArray()) this.readIntent(workerId, v);
  }

  /** Read every watched inbox's intents again (a relay that just became the arbiter). */
  rescan(): void {
    for (const [workerId, w] of this.watched) for (const v of w.doc.getArray<unknown>('intents').toArray()) this.readIntent(workerId, v);
  }

  private readProfile(workerId: string, profile: Y.Map<unknown>): void {
    this.parseProfile(workerId, profile);
    for (const l of this.profileListeners) l(workerId);
  }

  private parseProfile(workerId: string, profile: Y.Map<unknown>): void {
    this.invalidProfiles.delete(workerId);
    if (profile.size === 0) {
      delete this.profiles[workerId];
      return;
    }
    try {
      this.profiles[workerId] = parseWorkerProfile({ ...profile.toJSON(), id: workerId });
    } catch (e) {
      delete this.profiles[workerId];
      this.invalidProfiles.set(workerId, (e as Error).message);
    }
  }

  private readIntent(workerId: string, raw: unknown): void {
    const plain = raw instanceof Y.Map ? raw.toJSON() : raw;
    const id = plain && typeof plain === 'object' ? (plain as { id?: unknown }).id : undefined;
    if (typeof id !== 'string' || id.length === 0 || id.length > LIMITS.idLength) return; // nowhere to answer
    const kindRaw = (plain as { kind?: unknown }).kind;
    const kind = (typeof kindRaw === 'string' ? kindRaw : 'claim') as Intent['kind'];
    const sender = this.sink.sender(id);
    if (sender === workerId) return; // answered, or on its way
    if (sender !== undefined) {
      this.refuseTaken(workerId, id, kind);
      return;
    }
    let intent: Intent;
    try {
      intent = parseIntent(plain);
    } catch (e) {
      this.sink.refuse({ id, workerId, kind, code: 'invalid-intent', message: (e as OwpError).message });
      return;
    }
    if (intent.workerId !== workerId) {
      this.sink.refuse({
        id,
        workerId,
        kind,
        code: 'not-authorized',
        message: `Intent ${id} names worker ${intent.workerId} but sits in the inbox of ${workerId}; a worker may only act for itself.`,
      });
      return;
    }
    if (intent.kind === 'heartbeat') {
      // Heartbeats must not enter a persisted document (it would grow with every beat, and
      // replay on every restart): they go over awareness or HTTP.
      this.sink.refuse({
        id,
        workerId,
        kind,
        code: 'invalid-intent',
        message: 'Heartbeats do not go in the inbox; set your awareness state { workerId, leases } or POST /api/tasks/:id/heartbeat.',
      });
      return;
    }
    if (!(WORKER_INTENT_KINDS as readonly string[]).includes(intent.kind)) {
      this.sink.refuse({
        id,
        workerId,
        kind,
        code: 'not-authorized',
        message: `A ${intent.kind} intent is a maintainer action; use the HTTP API with a maintainer token.`,
      });
      return;
    }
    this.sink.submit(intent).catch((e: unknown) => {
      // Another sender's intent with this id reached the queue first (HTTP, another inbox).
      if (e instanceof OwpError && e.code === 'conflict' && e.field === 'intentId') this.refuseTaken(workerId, id, kind);
    });
  }

  /** Write the `conflict` refusal of an intent whose id another sender used into this inbox (once). */
  private refuseTaken(workerId: string, id: string, kind: Intent['kind']): void {
    const doc = this.watched.get(workerId)?.doc;
    if (!doc) return;
    const refusals = doc.getMap<unknown>(INBOX_REFUSALS);
    if (refusals.has(id)) return;
    const outcome = this.sink.taken({ id, workerId, kind, code: 'conflict', message: '' });
    doc.transact(() => refusals.set(id, outcome), ORIGIN.relay);
  }

  /** The refusals written to a worker's inbox (intent id -> Outcome). */
  refusals(workerId: string): Record<string, Outcome> {
    return (this.watched.get(workerId)?.doc.getMap<Outcome>(INBOX_REFUSALS).toJSON() ?? {}) as Record<string, Outcome>;
  }

  close(): void {
    for (const w of this.watched.values()) w.stop();
    this.watched.clear();
  }
}
