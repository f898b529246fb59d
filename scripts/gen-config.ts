/**
 * Writes .env.example and the settings table of docs/CONFIG.md from server/config/fields.ts.
 * `npm run config:docs` writes them; `--check` exits 1 naming the files that are out of date.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TABLE_BEGIN, TABLE_END, envExample, settingsTable } from '../server/config/reference.js';

const root = join(import.meta.dirname, '..');
const check = process.argv.includes('--check');
const stale: string[] = [];

async function update(name: string, make: (old: string) => string): Promise<void> {
  const path = join(root, name);
  const old = await readFile(path, 'utf8').catch(() => '');
  const text = make(old);
  if (text === old) return;
  stale.push(name);
  if (!check) await writeFile(path, text);
}

await update('.env.example', () => envExample());
await update('docs/CONFIG.md', (old) => {
  const a = old.indexOf(TABLE_BEGIN);
  const b = old.indexOf(TABLE_END);
  if (a < 0 || b < a) throw new Error(`docs/CONFIG.md has no ${TABLE_BEGIN} ... ${TABLE_END} markers`);
  return old.slice(0, a) + settingsTable() + old.slice(b + TABLE_END.length);
});
if (check && stale.length > 0) {
  console.error(`out of date: ${stale.join(', ')}; run npm run config:docs`);
  process.exit(1);
}
console.log(stale.length ? `wrote ${stale.join(', ')}` : 'configuration docs up to date');
