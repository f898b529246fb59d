/**
 * The storage port's contract (./contract.ts) run against every embedded backend: LevelDB in a
 * temp folder, the in-memory ordered map, and the append-log file backend.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryVolume, openFileStore, openMemoryStore, openStore } from '../../server/store/index.js';
import { storeContract } from './contract.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'owp-store-'));
}

storeContract({
  name: 'leveldb',
  exclusive: true,
  async create() {
    const dir = await tempDir();
    return { open: () => openStore(join(dir, 'db')), dispose: () => rm(dir, { recursive: true, force: true }) };
  },
});

storeContract({
  name: 'memory',
  exclusive: true,
  async create() {
    const volume = new MemoryVolume();
    return { open: async () => openMemoryStore(volume), dispose: async () => undefined };
  },
});

storeContract({
  name: 'file',
  exclusive: true,
  async create() {
    const dir = await tempDir();
    // A small rewrite threshold, so the contract also runs across log rewrites.
    return { open: () => openFileStore(join(dir, 'pool.owpdb'), { rewriteBytes: 64 * 1024 }), dispose: () => rm(dir, { recursive: true, force: true }) };
  },
});
