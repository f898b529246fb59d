/**
 * Intent outcomes past the retention window: out of memory, kept in the store.
 *
 * The rule (docs/PROTOCOL.md, "Intents, outcomes and leases"): the same intent id always gets
 * the same outcome, also after a restart and also months later. An outcome is kept in memory
 * (and under `ledger/outcome/<id>`, read at start) for the retention window after it was
 * decided, the same window as finished tasks (`engine.retention`, 7 days by default); the
 * archive sweep then moves it to `archive/outcome/<id>`. A later intent whose id is not in
 * memory is looked up there, all of a batch's ids at once, before the batch is arbitrated:
 * a found one is answered with its stored outcome (or refused `conflict` when another sender
 * used the id), never arbitrated again. So memory and start-up reads are bounded by the
 * window's traffic, not by history; the database keeps every outcome (as it keeps the audit
 * log and the archived tasks).
 *
 * Pure planning plus two small reads (the store is passed in).
 */
import type { Outcome } from '../../shared/model.js';
import { prefixRange, type Store, type StoreOp } from '../store/index.js';
import type { RejectedIntent } from './inboxes.js';
import { fail, intentIdTaken, type Pending } from './intake.js';
import { LEDGER_PREFIX } from './ledger-diff.js';

export const OUTCOME_ARCHIVE_PREFIX = 'archive/outcome/';
const OUTCOME_PREFIX = `${LEDGER_PREFIX}outcome/`;

/** At most this many outcomes leave memory per sweep (one write); the rest go with the next batch. */
export const OUTCOME_ARCHIVE_MAX = 20_000;

/**
 * The outcomes decided at or before `cutoff`, at most `max` of them: their store ops (out of
 * the ledger, into the archive), their ids, and whether more are due. `candidates`: the ids
 * to look at, in order (archive.ts ArchiveQueue), else every outcome in memory.
 */
export function planOutcomeArchive(
  outcomes: Readonly<Record<string, Outcome>>,
  cutoff: number,
  max = OUTCOME_ARCHIVE_MAX,
  candidates?: Iterable<string>,
): { ops: StoreOp[]; ids: string[]; more: boolean } {
  const ops: StoreOp[] = [];
  const ids = new Set<string>();
  for (const id of candidates ?? Object.keys(outcomes)) {
    const o = Object.hasOwn(outcomes, id) ? outcomes[id] : undefined;
    if (!o || typeof o.at !== 'number' || o.at > cutoff || ids.has(id)) continue;
    if (ids.size >= max) return { ops, ids: [...ids], more: true };
    ids.add(id);
    ops.push({ type: 'del', key: OUTCOME_PREFIX + id }, { type: 'put', key: OUTCOME_ARCHIVE_PREFIX + id, value: o });
  }
  return { ops, ids: [...ids], more: false };
}

/** Archived outcomes of these ids (ids without one are left out). */
export async function archivedOutcomes(store: Pick<Store, 'get'>, ids: readonly string[]): Promise<Map<string, Outcome>> {
  const found = new Map<string, Outcome>();
  const values = await Promise.all(ids.map((id) => store.get<Outcome>(OUTCOME_ARCHIVE_PREFIX + id)));
  values.forEach((v, i) => {
    if (v && typeof v === 'object') found.set(ids[i]!, v);
  });
  return found;
}

/**
 * Answer the intents whose ids have an archived outcome (their sender's: the outcome; another
 * sender's: `conflict`) and drop the refusals of such ids (each id gets one outcome). Only ids
 * not in memory (`known`) are looked up. Returns what is left to arbitrate.
 */
export async function answerFromArchive(
  store: Pick<Store, 'get'>,
  entries: Pending[],
  rejected: RejectedIntent[],
  known: (intentId: string) => boolean,
): Promise<{ entries: Pending[]; rejected: RejectedIntent[] }> {
  const ids = [...entries.filter((p) => !p.ephemeral).map((p) => p.intent.id), ...rejected.map((r) => r.id)].filter((id) => !known(id));
  if (ids.length === 0) return { entries, rejected };
  const found = await archivedOutcomes(store, ids);
  if (found.size === 0) return { entries, rejected };
  const left: Pending[] = [];
  for (const p of entries) {
    const o = p.ephemeral ? undefined : found.get(p.intent.id);
    if (!o) left.push(p);
    else if (o.workerId === p.intent.workerId) for (const w of p.waiters) w.resolve(o);
    else fail([p], intentIdTaken(p.intent.id));
  }
  return { entries: left, rejected: rejected.filter((r) => !found.has(r.id)) };
}

/** Whether any outcome has been archived (until then no lookup is needed). */
export async function hasArchivedOutcomes(store: Pick<Store, 'iterate'>): Promise<boolean> {
  for await (const _ of store.iterate(prefixRange(OUTCOME_ARCHIVE_PREFIX))) return true;
  return false;
}

/** The engine's side: answers a batch's archived ids and knows whether the archive holds any. */
export class OutcomeArchive {
  /** Whether the archive may hold an id; undefined: not checked yet (at start, after becoming the arbiter). */
  private any: boolean | undefined;

  constructor(private readonly store: Pick<Store, 'get' | 'iterate'>) {}

  /** Check the store again before the next batch (another relay may have archived meanwhile). */
  reset(): void {
    this.any = undefined;
  }

  /** What is left of a batch once the archived ids are answered (answerFromArchive). */
  async settle(entries: Pending[], rejected: RejectedIntent[], known: (intentId: string) => boolean): Promise<{ entries: Pending[]; rejected: RejectedIntent[] }> {
    if (this.any === false || (entries.length === 0 && rejected.length === 0)) return { entries, rejected };
    this.any ??= await hasArchivedOutcomes(this.store);
    return this.any ? answerFromArchive(this.store, entries, rejected, known) : { entries, rejected };
  }

  /** A batch just written moved these outcomes to the archive: out of the session's memory. Returns whether more are due. */
  moved(session: { forget(ids: Iterable<string>): void }, archived: { ids: string[]; more: boolean }): boolean {
    if (archived.ids.length > 0) this.any = true;
    session.forget(archived.ids);
    return archived.more;
  }
}

/** The stored outcome of an intent id, within the window or archived. */
export async function storedOutcome(store: Pick<Store, 'get'>, id: string): Promise<Outcome | undefined> {
  return (await store.get<Outcome>(OUTCOME_PREFIX + id)) ?? (await store.get<Outcome>(OUTCOME_ARCHIVE_PREFIX + id));
}
