/**
 * Bytes a folder takes: the sum of its files' sizes, recursively (for owp_db_size_bytes).
 * A file removed while walking (LevelDB compacts) is skipped, not an error.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export async function folderBytes(dir: string): Promise<number | undefined> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return undefined;
  }
  let total = 0;
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) total += (await folderBytes(path)) ?? 0;
    else if (e.isFile()) total += await stat(path).then((s) => s.size, () => 0);
  }
  return total;
}
