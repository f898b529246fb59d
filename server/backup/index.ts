/**
 * Backups of a running relay: `GET /api/admin/backup` (admin only) streams every key of the
 * store in the backup format (./format.ts); `owp backup FILE` saves it, `owp restore` (./restore.ts)
 * starts a new data folder from it. docs/BACKUP.md.
 *
 * - Consistent: the stream reads ONE snapshot of the store (the port's iterate), and every
 *   engine tick is one atomic batch (ledger, audit entries and head together), so the snapshot
 *   falls between two ticks: never half a tick, and the audit chain ends at its head. Documents
 *   are a snapshot plus an update log, each compaction atomic, so they are whole too.
 * - The relay keeps running: writes go on while the snapshot is read, and are not in it.
 * - Backpressure: the walk waits for a slow client; a client that goes away ends the walk (and
 *   releases the snapshot). A failure midway cuts the stream before its end line, so the CLI
 *   sees an incomplete backup and refuses it.
 */
import type { ServerResponse } from 'node:http';
import type { Logger, Route } from '../ports.js';
import type { Store } from '../store/index.js';
import { BackupWriter } from './format.js';

const CHUNK = 64 * 1024;

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Write the whole store to `res` as a backup; resolves with the number of entries (undefined if the client left). */
export async function streamBackup(store: Store, res: ServerResponse, meta: { relay?: string; now: number }): Promise<number | undefined> {
  const w = new BackupWriter();
  let buf = w.header({ createdAt: meta.now, backend: store.backend.kind, ...(meta.relay ? { relay: meta.relay } : {}) });
  let entries = 0;
  for await (const [key, value] of store.iterate<Uint8Array>({}, 'binary')) {
    buf += w.entry(key, value);
    entries += 1;
    if (buf.length >= CHUNK) {
      const more = res.write(buf);
      buf = '';
      if (!more) await drained(res);
      if (res.destroyed) return undefined;
    }
  }
  res.end(buf + w.trailer());
  return entries;
}

export function backupRoutes(deps: { store: Store; log: Logger; now: () => number; version: string }): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/admin/backup',
      auth: ['admin'],
      async handler(ctx) {
        const started = deps.now();
        const stamp = new Date(started).toISOString().replace(/[:.]/g, '-');
        ctx.res.writeHead(200, {
          'content-type': 'application/x-ndjson; charset=utf-8',
          'content-disposition': `attachment; filename="owp-backup-${stamp}.owpbak"`,
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
        });
        try {
          const entries = await streamBackup(deps.store, ctx.res, { relay: deps.version, now: started });
          if (entries === undefined) deps.log.warn('backup abandoned: the client went away before the end');
          else deps.log.info('backup sent', { entries, ms: deps.now() - started });
        } catch (e) {
          // Headers are out: cut the stream so the client never sees an end line.
          deps.log.error('backup failed midway; the stream was cut', { error: String(e) });
          ctx.res.destroy();
        }
      },
    },
  ];
}
