/**
 * When the stats index's checkpoint is written (./checkpoint.ts): right after a start that
 * folded at least `minEntries` audit entries, after a batch once `minEntries` entries and
 * `everyMs` have passed since the last write, and on a clean stop. Each write is one store put of the whole checkpoint, never two at once; a failed
 * write is logged and the next one tries again (a start without it folds more entries, never
 * different figures).
 */
import type { Logger } from '../ports.js';
import type { Store } from '../store/index.js';
import { STATS_CHECKPOINT_KEY, packCheckpoint } from './checkpoint.js';
import type { StatsIndex } from './index.js';

export interface CheckpointSaver {
  /** Called after every ingested batch: writes in the background when one is due. */
  afterBatch(): void;
  /** Called once the relay serves: an index just folded from a long audit log is written at once (in the background), not only at the next stop. */
  afterStart(): void;
  /** The final write (the engine stopped: nothing more is ingested); waits for one in flight. */
  close(): Promise<void>;
}

export function checkpointSaver(index: StatsIndex, store: Store, opts: { log: Logger; now: () => number; everyMs?: number; minEntries?: number }): CheckpointSaver {
  const everyMs = opts.everyMs ?? 5 * 60_000;
  const minEntries = opts.minEntries ?? 10_000;
  // An index folded from the audit log has nothing saved yet: the first write is due at once.
  let savedSeq = index.restoredSeq ?? -1;
  let savedAt = index.restoredSeq === undefined ? -Infinity : opts.now();
  let inFlight: Promise<void> | undefined;
  const save = (): Promise<void> => {
    const seq = index.folded();
    const cp = index.checkpoint();
    if (seq === undefined || !cp || seq === savedSeq) return Promise.resolve();
    savedAt = opts.now();
    const p = store.batch([{ type: 'put', key: STATS_CHECKPOINT_KEY, value: packCheckpoint(cp), encoding: 'binary' }]).then(
      () => {
        savedSeq = seq;
      },
      (e: unknown) => opts.log.warn('stats checkpoint not written', { error: String(e) }),
    );
    inFlight = p.finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
  return {
    afterBatch() {
      const seq = index.folded();
      if (inFlight || seq === undefined || seq - savedSeq < minEntries || opts.now() - savedAt < everyMs) return;
      void save();
    },
    afterStart() {
      if (index.restoredSeq === undefined && (index.folded() ?? 0) >= minEntries) void save();
    },
    async close() {
      await inFlight;
      await save();
    },
  };
}
