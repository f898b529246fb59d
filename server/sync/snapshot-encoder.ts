/**
 * A document's snapshot encoded off the event loop. A large doc's compaction (./doc-compaction.ts,
 * ./docstore-shared.ts) hands its stored snapshot and the logged updates the new one covers to a
 * worker thread (./snapshot-worker.ts), which encodes the new snapshot (`Y.encodeStateAsUpdate`:
 * O(document), ~100 ms for a 10,000-task ledger) and, for a rotation check, measures the rebuild
 * (./snapshot-work.ts), so the relay keeps answering meanwhile.
 *
 * Invariants:
 * - The worker runs the same code as the in-process path (./snapshot-work.ts, which calls
 *   ./rotation.ts `rebuildDoc`): a check off the event loop and a rotation's own rebuild agree.
 * - The worker keeps a replica of each doc it encoded (./snapshot-work.ts): the next request
 *   applies only the updates logged since, unless someone else wrote the snapshot meanwhile.
 * - One worker per encoder, started on first use, unref'd (it never keeps a process alive),
 *   ended by `close()`. Compiled, the worker is dist/snapshot-worker.js next to the relay's
 *   bundle; from sources, ./snapshot-worker.ts under tsx. Without a worker (it could not load,
 *   or it died) the requests run in process, without replicas (the pending ones too).
 * - A request the worker fails is rejected (the compaction is skipped and logged; the log
 *   stays, nothing is lost).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { compiled } from '../build-flags.js';
import type { Logger } from '../ports.js';
import { SnapshotWork, type EncodeRequest, type Encoded } from './snapshot-work.js';

export type { EncodeRequest, Encoded } from './snapshot-work.js';

/**
 * The worker: the compiled entry next to this bundle, or the source under tsx (registered in
 * the worker first: `--import` in a worker's execArgv comes too late for its entry module).
 * The compiled worker takes none of the relay's node flags: it needs no preload, and one the
 * relay was started with (a bench's `--import` of a .ts monitor) would stop it loading.
 */
function startWorker(): Worker {
  if (compiled) return new Worker(new URL('./snapshot-worker.js', import.meta.url), { execArgv: [] });
  const req = createRequire(import.meta.url);
  const pkg = req.resolve('tsx/package.json');
  const { exports } = JSON.parse(readFileSync(pkg, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  const api = new URL(exports['./esm/api']!.import.default, pathToFileURL(pkg)).href;
  const entry = new URL('./snapshot-worker.ts', import.meta.url).href;
  return new Worker(`import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`, { eval: true });
}

type Waiter = { req: EncodeRequest; resolve: (e: Encoded) => void; reject: (err: Error) => void };

export class SnapshotEncoder {
  private worker: Worker | undefined;
  /** False once a worker could not start or died: in process from then on. */
  private usable = true;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiter>();
  private readonly inProcess = new SnapshotWork(false);

  constructor(private readonly log?: Logger) {}

  /** True while a worker thread encodes (false: in process). */
  get offThread(): boolean {
    return this.worker !== undefined;
  }

  /** The new snapshot (and, with `req.rebuild`, the rebuild's size), off the event loop when a worker runs. */
  encode(req: EncodeRequest): Promise<Encoded> {
    const w = this.start();
    if (!w) return this.runHere(req);
    const id = this.nextId++;
    return new Promise<Encoded>((resolve, reject) => {
      this.waiting.set(id, { req, resolve, reject });
      w.postMessage({ id, req });
    });
  }

  /** End the worker (pending requests fail). */
  async close(): Promise<void> {
    this.usable = false;
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
    for (const waiter of this.waiting.values()) waiter.reject(new Error('snapshot encoder closed'));
    this.waiting.clear();
  }

  private runHere(req: EncodeRequest): Promise<Encoded> {
    try {
      return Promise.resolve(this.inProcess.run(req));
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  private start(): Worker | undefined {
    if (this.worker || !this.usable) return this.worker;
    try {
      const w = startWorker();
      w.unref();
      w.on('message', (m: { id: number; snap?: Uint8Array; freshBytes?: number; error?: string }) => {
        const waiter = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        if (m.snap) waiter?.resolve({ snap: m.snap, freshBytes: m.freshBytes });
        else waiter?.reject(new Error(`snapshot encoder: ${m.error}`));
      });
      // A worker that fails to load or dies: in process from now on.
      w.on('error', (err) => this.lost(w, err));
      w.on('exit', (code) => this.lost(w, new Error(`exited with code ${code}`)));
      this.worker = w;
    } catch (err) {
      this.usable = false;
      this.log?.warn('the snapshot worker could not start; encoding in process', { err: String(err) });
    }
    return this.worker;
  }

  /** The worker is gone: what it had not answered runs in process. */
  private lost(w: Worker, err: Error): void {
    if (this.worker !== w) return;
    this.log?.warn('the snapshot worker stopped; encoding in process', { err: String(err) });
    this.worker = undefined;
    this.usable = false;
    const pending = [...this.waiting.values()];
    this.waiting.clear();
    for (const { req, resolve, reject } of pending) this.runHere(req).then(resolve, reject);
  }
}
