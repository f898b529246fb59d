/**
 * `owp restore FILE --data DIR`: a new data folder from a backup (./format.ts).
 *
 * - Only into an empty folder (or one that does not exist yet; `lost+found` of a fresh volume
 *   is allowed): a restore never mixes with, or overwrites, a pool.
 * - The whole file is checked first (version, every line, entry count, sha256): a damaged or
 *   truncated backup writes nothing. A failure while writing removes what was written.
 * - Writes go through the Store (LevelDB under DIR/leveldb, as the relay opens it), synced.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { openStore, type StoreOp } from '../store/index.js';
import { BackupError, BackupReader, type BackupSummary } from './format.js';

const BATCH = 1000;

/** Read a backup file through `reader`; a missing or unreadable file is a BackupError too. */
async function readBackup(file: string, reader: BackupReader): Promise<BackupSummary> {
  const input = createReadStream(file);
  const opened = new Promise<void>((resolve, reject) => {
    input.once('open', () => resolve());
    input.once('error', reject);
  });
  try {
    await opened;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BackupError('invalid-backup', `cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder' : (e as Error).message}`);
  }
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) await reader.line(line);
  } finally {
    lines.close();
    input.destroy();
  }
  return reader.finish();
}

/** Check a backup file whole: its summary, or BackupError. */
export function verifyBackupFile(file: string): Promise<BackupSummary> {
  return readBackup(file, new BackupReader());
}

async function isEmptyFolder(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).every((n) => n === 'lost+found');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw e;
  }
}

export class RestoreRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RestoreRefused';
  }
}

export async function restoreBackup(file: string, dataDir: string): Promise<BackupSummary> {
  if (!(await isEmptyFolder(dataDir))) {
    throw new RestoreRefused(`${dataDir} is not empty: a restore only starts a new data folder (it never mixes with or overwrites a pool). Give an empty or new folder with --data`);
  }
  await verifyBackupFile(file);
  await mkdir(dataDir, { recursive: true });
  const dbDir = join(dataDir, 'leveldb');
  const store = await openStore(dbDir);
  try {
    let ops: StoreOp[] = [];
    const summary = await readBackup(
      file,
      new BackupReader(async (key, value) => {
        ops.push({ type: 'put', key, value, encoding: 'binary' });
        if (ops.length >= BATCH) {
          await store.batch(ops);
          ops = [];
        }
      }),
    );
    await store.batch(ops);
    await store.close();
    return summary;
  } catch (e) {
    await store.close().catch(() => undefined);
    await rm(dbDir, { recursive: true, force: true });
    throw e;
  }
}
