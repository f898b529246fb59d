/**
 * The public projection of worker profiles: what the scheduler uses for each worker
 * (name, skills, capacity, max concurrent leases, availability), published in the
 * `owp/ledger` document's `profiles` map so every role (viewers, the public dashboard, the
 * plugin) sees the real capacity. Inboxes themselves stay private to their worker.
 *
 * Invariants:
 * - Only the fields of PublicProfile leave the inbox: never intents, outcomes or tokens.
 * - The map holds exactly the valid profiles the scheduler uses (an invalid or emptied
 *   profile leaves it), written by the relay alone (origin 'relay'), an entry only when it
 *   changed, so an unchanged profile adds nothing to the document's history.
 */
import type * as Y from 'yjs';
import type { WorkerProfile } from '../../shared/model.js';
import type { InboxWatcher } from './inboxes.js';
import { ORIGIN } from '../../shared/protocol.js';

export type PublicProfile = Pick<WorkerProfile, 'id' | 'name' | 'skills' | 'capacity' | 'maxConcurrent' | 'available'>;
export type ProfilesDelta = Record<string, PublicProfile | null>;

export const PROFILES_MAP = 'profiles';

export function publicProfile(p: WorkerProfile): PublicProfile {
  return { id: p.id, name: p.name, skills: [...p.skills], capacity: p.capacity, maxConcurrent: p.maxConcurrent, available: p.available };
}

export class PublicProfiles {
  private map: Y.Map<unknown>;
  private readonly listeners = new Set<(d: ProfilesDelta) => void>();
  private readonly off: () => void;

  constructor(
    private readonly inboxes: InboxWatcher,
    doc: Y.Doc,
  ) {
    this.map = doc.getMap<unknown>(PROFILES_MAP);
    this.off = inboxes.onProfile((id) => this.sync([id]));
    this.sync([...new Set([...this.map.keys(), ...Object.keys(inboxes.profiles)])]);
  }

  /** `owp/ledger` was rotated: the same content, in a new document. */
  useDoc(doc: Y.Doc): void {
    this.map = doc.getMap<unknown>(PROFILES_MAP);
  }

  all(): Record<string, PublicProfile> {
    return this.map.toJSON() as Record<string, PublicProfile>;
  }

  onChange(listener: (d: ProfilesDelta) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private sync(ids: string[]): void {
    const delta: ProfilesDelta = {};
    this.map.doc!.transact(() => {
      for (const id of ids) {
        const p = Object.hasOwn(this.inboxes.profiles, id) ? this.inboxes.profiles[id] : undefined;
        if (!p) {
          if (this.map.has(id)) {
            this.map.delete(id);
            delta[id] = null;
          }
          continue;
        }
        const next = publicProfile(p);
        if (JSON.stringify(this.map.get(id)) === JSON.stringify(next)) continue;
        this.map.set(id, next);
        delta[id] = next;
      }
    }, ORIGIN.relay);
    if (Object.keys(delta).length) for (const l of this.listeners) l(delta);
  }

  close(): void {
    this.off();
  }
}
