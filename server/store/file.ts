/**
 * The file backend: the in-memory backend (./memory.ts) made durable by an append-only log
 * file, with node:fs only (no native code), for an embedded relay where LevelDB cannot load,
 * such as inside Obsidian on the desktop.
 *
 * - The file starts with a header line; then one line per batch: `{"ops":[["p",key,base64],
 *   ["d",key]]}`. A batch resolves once its line is written, and fdatasynced when the batch asks
 *   for `sync` (or the file was opened with `sync: true`). Opening replays every line.
 * - A torn last line (a crash mid-write) is dropped and cut off; a bad line before the last
 *   means the file was damaged: opening fails with code `corrupt` instead of guessing.
 * - When the log grows past `rewriteBytes` and three times the live data, it is rewritten as
 *   one snapshot into `<file>.tmp`, fsynced and renamed over the log: a crash leaves either file
 *   whole.
 * - `<file>.lock` holds the owner's pid: a second open fails (code `locked`) while that
 *   process lives; a lock left by a dead process is taken over.
 */
import { open as openFile, readFile, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StoreError, type RawOp, type StoreBackend } from './port.js';
import { MemoryVolume, openMemoryBackend } from './memory.js';

const HEADER = '{"owp-store":1}\n';

export interface FileBackendOptions {
  /** fdatasync after every batch, whatever the batch asks (a batch with `sync` is always synced). */
  sync?: boolean;
  /** Rewrite the log once it is at least this many bytes (default 4 MiB) and 3x the live data. */
  rewriteBytes?: number;
}

type LineOp = ['p', string, string] | ['d', string];

function encodeLine(ops: RawOp[]): string {
  const line: LineOp[] = ops.map((op) => (op.type === 'put' ? ['p', op.key, Buffer.from(op.value).toString('base64')] : ['d', op.key]));
  return JSON.stringify({ ops: line }) + '\n';
}

function decodeLine(line: string): RawOp[] {
  const parsed = JSON.parse(line) as { ops?: unknown };
  if (!Array.isArray(parsed.ops)) throw new Error('no ops');
  return parsed.ops.map((op: unknown): RawOp => {
    if (Array.isArray(op) && op[0] === 'p' && typeof op[1] === 'string' && typeof op[2] === 'string') {
      return { type: 'put', key: op[1], value: new Uint8Array(Buffer.from(op[2], 'base64')) };
    }
    if (Array.isArray(op) && op[0] === 'd' && typeof op[1] === 'string') return { type: 'del', key: op[1] };
    throw new Error('bad op');
  });
}

/** Replay the log into `volume`; returns the byte length of the good part of the file. */
function replay(buf: Buffer, volume: MemoryVolume, path: string): number {
  if (buf.length === 0) return 0;
  if (!buf.subarray(0, HEADER.length).equals(Buffer.from(HEADER))) {
    throw new StoreError('corrupt', `${path} is not an OWP store file (its first line is not ${HEADER.trim()})`);
  }
  let at = HEADER.length;
  while (at < buf.length) {
    const nl = buf.indexOf(0x0a, at);
    try {
      if (nl < 0) throw new Error('torn');
      volume.apply(decodeLine(buf.toString('utf8', at, nl)));
    } catch {
      if (nl < 0 || nl === buf.length - 1) return at;
      throw new StoreError('corrupt', `${path} is damaged at byte ${at} (a line before the last one does not decode); restore it from a backup`);
    }
    at = nl + 1;
  }
  return at;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function takeLock(lockPath: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(lockPath, String(process.pid), { flag: 'wx' });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number((await readFile(lockPath, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(owner) && owner > 0 && alive(owner)) {
        throw new StoreError('locked', `${lockPath} says process ${owner} has this store open; stop it, or use another file`);
      }
      await rm(lockPath, { force: true });
    }
  }
  throw new StoreError('locked', `could not take ${lockPath}`);
}

export async function openFileBackend(path: string, opts: FileBackendOptions = {}): Promise<StoreBackend> {
  const lockPath = path + '.lock';
  await takeLock(lockPath);
  let fh: FileHandle | undefined;
  try {
    const volume = new MemoryVolume();
    const buf = await readFile(path).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? Buffer.alloc(0) : Promise.reject(err)));
    const good = replay(buf, volume, path);
    fh = await openFile(path, 'a');
    if (good < buf.length) await fh.truncate(good);
    if (good === 0) await fh.write(HEADER);
    let size = Math.max(good, HEADER.length);
    const rewriteBytes = opts.rewriteBytes ?? 4 * 1024 * 1024;

    const rewrite = async () => {
      const tmp = path + '.tmp';
      const out = await openFile(tmp, 'w');
      try {
        await out.write(HEADER);
        const all: RawOp[] = [];
        volume.tree.forEach((key, value) => void all.push({ type: 'put', key, value }));
        for (let i = 0; i < all.length; i += 1000) await out.write(encodeLine(all.slice(i, i + 1000)));
        await out.sync();
        size = (await out.stat()).size;
      } finally {
        await out.close();
      }
      await rename(tmp, path);
      await fh!.close();
      fh = await openFile(path, 'a');
      const dir = await openFile(dirname(path), 'r').catch(() => undefined);
      await dir?.sync().catch(() => undefined);
      await dir?.close();
    };

    return openMemoryBackend({
      volume,
      kind: 'file',
      async persist(ops, sync) {
        if (size >= rewriteBytes && size >= 3 * volume.liveBytes) await rewrite();
        const line = encodeLine(ops);
        try {
          await fh!.write(line);
          if (sync || opts.sync) await fh!.datasync();
        } catch (err) {
          // Cut a partly written line off, so the next batch does not follow a torn one.
          await fh!.truncate(size).catch(() => undefined);
          throw err;
        }
        size += Buffer.byteLength(line);
      },
      async onClose() {
        await fh?.close();
        await rm(lockPath, { force: true });
      },
    });
  } catch (err) {
    await fh?.close();
    await rm(lockPath, { force: true });
    throw err;
  }
}
