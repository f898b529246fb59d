/**
 * Writes docs/schemas/*.json (JSON Schema of every wire shape) and docs/schemas/openapi.json
 * (the HTTP API, OpenAPI 3.1) from the code's validators (shared/api-spec.ts).
 * `npm run schemas` writes them; `--check` exits 1 naming the files that are out of date.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { generatedSchemaFiles } from '../shared/api-spec.js';

const docs = join(import.meta.dirname, '..', 'docs');
const check = process.argv.includes('--check');
const stale: string[] = [];
for (const [name, text] of Object.entries(generatedSchemaFiles())) {
  const path = join(docs, name);
  const old = await readFile(path, 'utf8').catch(() => undefined);
  if (old === text) continue;
  stale.push(`docs/${name}`);
  if (!check) {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  }
}
if (check && stale.length > 0) {
  console.error(`out of date: ${stale.join(', ')}; run npm run schemas`);
  process.exit(1);
}
console.log(stale.length ? `wrote ${stale.join(', ')}` : 'schemas up to date');
