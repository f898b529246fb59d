/**
 * The backup file format (version 1): every key and value of a relay's store, as text lines.
 *
 *   {"owp-backup":1,"createdAt":<ms>,"backend":"leveldb","relay":"0.3.0"}
 *   ["<key>","<value, base64>"]            one line per entry, in key order
 *   {"end":{"entries":<n>,"sha256":"<hex>"}}
 *
 * - The trailer's sha256 covers every byte before it (header and entry lines): a file cut
 *   short has no trailer, a damaged one fails the checksum. Readers check both, and the
 *   version, before they trust a single entry.
 * - Values are the store's bytes as they are (JSON values are their UTF-8 text), so a backup
 *   restores into any backend of the storage port (docs/STORAGE.md).
 * - Pure: no I/O here (./index.ts streams the store; the CLI reads and writes files).
 */
import { createHash, type Hash } from 'node:crypto';

export const BACKUP_VERSION = 1;

export interface BackupHeader {
  'owp-backup': number;
  createdAt: number;
  backend: string;
  relay?: string;
}

export interface BackupSummary {
  header: BackupHeader;
  entries: number;
  sha256: string;
}

/** A backup that cannot be used: a stable code and a sentence saying what is wrong. */
export class BackupError extends Error {
  constructor(
    readonly code: 'invalid-backup',
    message: string,
  ) {
    super(message);
    this.name = 'BackupError';
  }
}

/** Writes a backup as lines, hashing as it goes. */
export class BackupWriter {
  private readonly hash: Hash = createHash('sha256');
  private count = 0;

  header(h: Omit<BackupHeader, 'owp-backup'>): string {
    return this.feed(JSON.stringify({ 'owp-backup': BACKUP_VERSION, ...h }) + '\n');
  }

  entry(key: string, value: Uint8Array): string {
    this.count += 1;
    return this.feed(JSON.stringify([key, Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')]) + '\n');
  }

  trailer(): string {
    return JSON.stringify({ end: { entries: this.count, sha256: this.hash.digest('hex') } }) + '\n';
  }

  private feed(line: string): string {
    this.hash.update(line);
    return line;
  }
}

const short = (line: string) => JSON.stringify(line.length > 60 ? line.slice(0, 60) + '...' : line);

/**
 * Reads a backup line by line. `line()` for each line (without its newline) in order, then
 * `finish()`; either throws BackupError. `onEntry` sees entries only as they are read, so a
 * caller that must not act on a bad file reads it twice (once to check, once to use).
 */
export class BackupReader {
  private readonly hash: Hash = createHash('sha256');
  private header: BackupHeader | undefined;
  private summary: BackupSummary | undefined;
  private count = 0;
  private lineNo = 0;

  constructor(private readonly onEntry?: (key: string, value: Uint8Array) => void | Promise<void>) {}

  async line(text: string): Promise<void> {
    this.lineNo += 1;
    if (this.summary) throw new BackupError('invalid-backup', `line ${this.lineNo} follows the end of the backup: the file was damaged or two files were joined`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new BackupError('invalid-backup', `line ${this.lineNo} is not JSON (${short(text)}): the file is damaged or is not an OWP backup`);
    }
    if (!this.header) {
      const h = parsed as Partial<BackupHeader> | null;
      if (!h || typeof h !== 'object' || typeof h['owp-backup'] !== 'number') throw new BackupError('invalid-backup', 'this file is not an OWP backup (its first line is no backup header); make one with `owp backup FILE`');
      if (h['owp-backup'] !== BACKUP_VERSION) throw new BackupError('invalid-backup', `this backup has format version ${h['owp-backup']}; this owp reads version ${BACKUP_VERSION}: use the owp release that made it`);
      this.header = h as BackupHeader;
      this.hash.update(text + '\n');
      return;
    }
    if (Array.isArray(parsed)) {
      const [key, b64] = parsed as unknown[];
      if (parsed.length !== 2 || typeof key !== 'string' || typeof b64 !== 'string') throw new BackupError('invalid-backup', `line ${this.lineNo} is not a [key, value] entry`);
      this.hash.update(text + '\n');
      this.count += 1;
      await this.onEntry?.(key, new Uint8Array(Buffer.from(b64, 'base64')));
      return;
    }
    const end = (parsed as { end?: { entries?: unknown; sha256?: unknown } } | null)?.end;
    if (!end || typeof end.sha256 !== 'string' || typeof end.entries !== 'number') throw new BackupError('invalid-backup', `line ${this.lineNo} is neither an entry nor the end of the backup`);
    const sha256 = this.hash.digest('hex');
    if (end.sha256 !== sha256 || end.entries !== this.count) {
      throw new BackupError('invalid-backup', `the backup's checksum does not match its content (${this.count} entries read, ${end.entries} expected): the file was changed or damaged`);
    }
    this.summary = { header: this.header, entries: this.count, sha256 };
  }

  finish(): BackupSummary {
    if (!this.header) throw new BackupError('invalid-backup', 'the file is empty: it is not an OWP backup');
    if (!this.summary) throw new BackupError('invalid-backup', `the backup is cut short after ${this.count} entries (it has no end line): the copy was interrupted; make a new one`);
    return this.summary;
  }
}
