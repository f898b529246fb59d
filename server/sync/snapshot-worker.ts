/**
 * The snapshot encoder's worker thread (./snapshot-encoder.ts starts it): answers each
 * request with ./snapshot-work.ts, holding a replica per doc. Compiled, it is its own entry,
 * dist/snapshot-worker.js (scripts/build.ts); from sources it runs under tsx.
 */
import { parentPort } from 'node:worker_threads';
import { SnapshotWork, type EncodeRequest } from './snapshot-work.js';

const work = new SnapshotWork(true);

parentPort?.on('message', ({ id, req }: { id: number; req: EncodeRequest }) => {
  try {
    const { snap, freshBytes } = work.run(req);
    parentPort!.postMessage({ id, snap, freshBytes }); // copied: the replica keeps `snap`
  } catch (err) {
    parentPort!.postMessage({ id, error: String((err as Error)?.stack ?? err) });
  }
});
