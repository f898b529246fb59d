/**
 * `owp backup FILE` (an admin token: a consistent copy of a running relay) and
 * `owp restore FILE --data DIR` (a new data folder from it). docs/BACKUP.md.
 *
 * - backup streams GET /api/admin/backup into `FILE.partial-<pid>` beside FILE, checks it whole
 *   (version, every line, sha256, the end line), fsyncs it and renames it over FILE: FILE is
 *   either the old file or a complete new backup, never half of one.
 * - restore refuses a folder that is not empty and a damaged or truncated file (exit 1,
 *   code `invalid-backup` / `not-empty`), before writing anything.
 */
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { RefusedError, UsageError, str } from '../args.js';
import type { Command } from '../command.js';

async function refusalOf(res: Response): Promise<RefusedError> {
  const text = await res.text().catch(() => '');
  try {
    const e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    if (e?.code) return new RefusedError(e.code, e.message ?? `the relay refused the backup (HTTP ${res.status})`, res.status);
  } catch {
    // not our API
  }
  return new RefusedError('upstream-error', `the relay answered HTTP ${res.status} to the backup request; is ${res.url} an OWP relay?`, res.status);
}

async function fsyncPath(path: string, flags: string): Promise<void> {
  const fh = await open(path, flags);
  try {
    await fh.sync();
  } catch {
    // some file systems cannot sync a folder; the file itself was synced
  } finally {
    await fh.close();
  }
}

export const backup: Command = {
  name: 'backup',
  args: 'FILE',
  summary: 'save a consistent backup of a running relay to FILE (admin token)',
  details: [
    'The relay keeps serving while it streams one snapshot of its store (taken between two ticks).',
    'FILE is replaced only by a complete, checked backup. Restore it with `owp restore FILE --data DIR`.',
    'Keep backups on another disk: they are what survives a disk loss (docs/RELIABILITY.md).',
  ].join('\n'),
  async run(ctx) {
    const file = resolve(ctx.positional(0, 'FILE'));
    ctx.noMorePositionals(1);
    ctx.client(); // checks --url and --token
    const { verifyBackupFile } = await import('../../backup/restore.js');
    let res: Response;
    try {
      res = await fetch(`${ctx.url}/api/admin/backup`, { headers: { authorization: `Bearer ${ctx.token}` } });
    } catch (e) {
      throw new RefusedError('upstream-error', `cannot reach the relay at ${ctx.url} (${(e as Error).message}); check --url or OWP_URL`);
    }
    if (!res.ok || !res.body) throw await refusalOf(res);
    const partial = join(dirname(file), `.${basename(file)}.partial-${process.pid}`);
    try {
      await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(partial, { flags: 'wx' }));
      const summary = await verifyBackupFile(partial).catch((e: Error) => {
        throw new RefusedError('invalid-backup', `the relay's backup stream is incomplete or damaged (${e.message}); nothing was written to ${file}. Try again; the relay log says why`);
      });
      await fsyncPath(partial, 'r');
      await rename(partial, file);
      await fsyncPath(dirname(file), 'r');
      ctx.out.result({ file, entries: summary.entries, sha256: summary.sha256, createdAt: summary.header.createdAt }, () => `Backup written to ${file}: ${summary.entries} entries, sha256 ${summary.sha256.slice(0, 16)}...`);
      return 0;
    } catch (e) {
      await rm(partial, { force: true });
      if (e instanceof RefusedError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code) throw new RefusedError('io-error', `cannot write ${file}: ${(e as Error).message}`);
      throw new RefusedError('upstream-error', `the backup stream from ${ctx.url} broke off (${(e as Error).message}); nothing was written to ${file}`);
    }
  },
};

export const restore: Command = {
  name: 'restore',
  args: 'FILE',
  summary: 'start a new data folder from a backup (the folder must be empty)',
  options: {
    data: { type: 'string', arg: 'DIR', help: 'the new data folder (env OWP_DATA); must be empty or not exist' },
  },
  details: [
    'The whole file is checked (format version, sha256, end line) before anything is written.',
    'Then start a relay on it: owp serve --data DIR. Tokens, tasks, leases and the audit log are as they were at the backup.',
  ].join('\n'),
  async run(ctx) {
    const file = ctx.positional(0, 'FILE');
    ctx.noMorePositionals(1);
    const data = str(ctx.p, 'data') ?? (ctx.env.OWP_DATA || undefined);
    if (!data) throw new UsageError('give the new data folder with --data DIR (or OWP_DATA)');
    const dir = resolve(data);
    const { restoreBackup, RestoreRefused } = await import('../../backup/restore.js');
    const { BackupError } = await import('../../backup/format.js');
    try {
      const summary = await restoreBackup(file, dir);
      ctx.out.result({ data: dir, entries: summary.entries, sha256: summary.sha256, createdAt: summary.header.createdAt }, () =>
        [`Restored ${summary.entries} entries (backup of ${new Date(summary.header.createdAt).toISOString()}) into ${dir}.`, `Start the relay on it: owp serve --data ${dir}`].join('\n'),
      );
      return 0;
    } catch (e) {
      if (e instanceof BackupError) throw new RefusedError('invalid-backup', `${e.message}; nothing was restored`);
      if (e instanceof RestoreRefused) throw new RefusedError('not-empty', e.message);
      throw e;
    }
  },
};
