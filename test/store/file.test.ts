/**
 * What the append-log file backend adds to the contract: a torn last line (a crash mid-write)
 * is dropped, damage before it is refused, the log is rewritten when it grows, and a lock left
 * by a dead process is taken over.
 */
import { spawnSync } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFileStore } from '../../server/store/index.js';

let dir: string;
let path: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'owp-file-store-'));
  path = join(dir, 'pool.owpdb');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('file store', () => {
  it('drops a torn last line and goes on appending after the good part', async () => {
    let store = await openFileStore(path);
    await store.put('a', 1);
    await store.put('b', 2);
    await store.close();
    const good = await readFile(path, 'utf8');
    await appendFile(path, '{"ops":[["p","c","MQ=='); // a crash in the middle of a line
    store = await openFileStore(path);
    expect(await store.entries('')).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
    expect(await readFile(path, 'utf8')).toBe(good);
    await store.put('d', 4);
    await store.close();
    store = await openFileStore(path);
    expect((await store.keys('')).join()).toBe('a,b,d');
    await store.close();
  });

  it('refuses a file damaged before its last line, and a file that is not a store', async () => {
    let store = await openFileStore(path);
    await store.put('a', 1);
    await store.put('b', 2);
    await store.close();
    const lines = (await readFile(path, 'utf8')).split('\n');
    lines[1] = lines[1].slice(0, 10);
    await writeFile(path, lines.join('\n'));
    await expect(openFileStore(path)).rejects.toMatchObject({ code: 'corrupt', message: expect.stringContaining('restore it from a backup') });
    await writeFile(path, 'hello\n');
    await expect(openFileStore(path)).rejects.toMatchObject({ code: 'corrupt' });
    // The failed opens released the lock: a good file opens again.
    await rm(path);
    store = await openFileStore(path);
    await store.close();
  });

  it('rewrites the log once it outgrows the live data, and the rewrite is what reopens', async () => {
    let store = await openFileStore(path, { rewriteBytes: 20_000 });
    const value = 'x'.repeat(1000);
    for (let i = 0; i < 200; i++) await store.batch([{ type: 'put', key: `k/${i % 5}`, value: `${i}:${value}` }, { type: 'del', key: `gone/${i}` }]);
    const size = (await stat(path)).size;
    // 200 KB were written; the live data is 5 values of ~1 KB.
    expect(size).toBeLessThan(60_000);
    await store.close();
    store = await openFileStore(path, { rewriteBytes: 20_000 });
    expect((await store.entries<string>('k/')).map(([k, v]) => `${k}=${v.split(':')[0]}`)).toEqual(['k/0=195', 'k/1=196', 'k/2=197', 'k/3=198', 'k/4=199']);
    await store.close();
  });

  it('takes over a lock left by a process that is gone, and releases its own on close', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    await writeFile(path + '.lock', dead.stdout);
    const store = await openFileStore(path);
    await store.put('a', 1);
    expect(await readFile(path + '.lock', 'utf8')).toBe(String(process.pid));
    await store.close();
    await expect(stat(path + '.lock')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
