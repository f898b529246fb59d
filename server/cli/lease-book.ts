/**
 * The fencing tokens of this machine's leases, remembered under OWP_HOME (default ~/.owp),
 * one file per relay URL and worker, mode 0600.
 *
 * Invariants:
 * - The file is written whole to a temporary name and renamed, so a crash never leaves a
 *   half-written book; it is created with mode 0600 in a 0700 folder.
 * - A book only ever holds the latest known grant per task; a newer fencing token replaces
 *   an older one, never the other way round.
 * - Nothing but task ids, fencing tokens and expiry times is stored (no token, no secret).
 * - Read-modify-write happens under a lock file (`<book>.lock`, O_EXCL), so `owp worker run`
 *   and an `owp submit` in another shell never drop each other's entries. A lock older than
 *   10 s is taken as left by a crashed process and broken.
 */
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface StoredLease {
  fencingToken: number;
  expiresAt?: number;
  ttlMs?: number;
  title?: string;
}

export function owpHome(env: NodeJS.ProcessEnv): string {
  return env.OWP_HOME || join(homedir(), '.owp');
}

function safe(s: string): string {
  return s.replace(/^https?:\/\//, '').replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 120);
}

export class LeaseBook {
  readonly file: string;
  constructor(home: string, url: string, workerId: string) {
    const dir = join(home, 'leases');
    this.file = join(dir, `${safe(url)}__${safe(workerId)}.json`);
  }

  read(): Record<string, StoredLease> {
    try {
      const data = JSON.parse(readFileSync(this.file, 'utf8')) as { leases?: Record<string, StoredLease> };
      return data.leases && typeof data.leases === 'object' ? data.leases : {};
    } catch {
      return {};
    }
  }

  get(taskId: string): StoredLease | undefined {
    return this.read()[taskId];
  }

  put(taskId: string, lease: StoredLease): void {
    this.locked(() => {
      const all = this.read();
      const old = all[taskId];
      if (old && old.fencingToken > lease.fencingToken) return;
      all[taskId] = { ...old, ...lease };
      this.write(all);
    });
  }

  /** Forget a lease; with `upTo`, only if the remembered token is not newer than that. */
  remove(taskId: string, upTo?: number): void {
    this.locked(() => {
      const all = this.read();
      const held = all[taskId];
      if (!held || (upTo !== undefined && held.fencingToken > upTo)) return;
      delete all[taskId];
      this.write(all);
    });
  }

  private locked(fn: () => void): void {
    mkdirSync(join(this.file, '..'), { recursive: true, mode: 0o700 });
    const lock = `${this.file}.lock`;
    const deadline = Date.now() + 5000;
    let fd: number | undefined;
    while (fd === undefined) {
      try {
        fd = openSync(lock, 'wx', 0o600);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        try {
          if (Date.now() - statSync(lock).mtimeMs > 10_000) unlinkSync(lock);
        } catch {
          // gone meanwhile
        }
        if (Date.now() > deadline) throw new Error(`the lease book ${this.file} stays locked by ${lock}; remove that file if no owp is running`);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      }
    }
    try {
      fn();
    } finally {
      closeSync(fd);
      try {
        unlinkSync(lock);
      } catch {
        // already removed
      }
    }
  }

  private write(leases: Record<string, StoredLease>): void {
    const dir = join(this.file, '..');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ leases }, null, 2) + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }
}
