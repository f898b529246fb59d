/**
 * docs/schemas/ (JSON Schema of every wire shape, and the OpenAPI description) is generated
 * from the code's validators: these tests fail when a validator changed and the files were
 * not regenerated (`npm run schemas`), or when the generated files do not hold together.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { API_ROUTES, generatedSchemaFiles, openApiDocument } from '../../shared/api-spec.js';
import { PROTOCOL_VERSION } from '../../shared/protocol.js';

const DOCS = join(import.meta.dirname, '..', '..', 'docs');

describe('generated schemas', () => {
  it('docs/schemas/ is up to date with the validators (run npm run schemas)', () => {
    const stale = Object.entries(generatedSchemaFiles())
      .filter(([name, text]) => {
        try {
          return readFileSync(join(DOCS, name), 'utf8') !== text;
        } catch {
          return true;
        }
      })
      .map(([name]) => `docs/${name}`);
    expect(stale, 'out of date: run npm run schemas').toEqual([]);
  });

  it('the OpenAPI document is 3.1, names the protocol version and every $ref resolves', () => {
    const doc = openApiDocument() as { openapi: string; info: { version: string }; components: { schemas: Record<string, unknown> }; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.version).toBe(PROTOCOL_VERSION);
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) expect(doc.components.schemas[ref.replace('#/components/schemas/', '')], ref).toBeDefined();
    expect(Object.keys(doc.paths).length).toBe(new Set(API_ROUTES.map((r) => r.path)).size);
  });

  it('the JSON Schemas are draft 2020-12, closed for inputs the relay validates', () => {
    const files = generatedSchemaFiles();
    const task = JSON.parse(files['schemas/Task.json']!) as Record<string, unknown>;
    expect(task.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(task.additionalProperties).toBe(false);
    expect(task.required).toEqual(['id', 'repo', 'title', 'createdAt']);
    const intent = JSON.parse(files['schemas/Intent.json']!) as { oneOf: { properties: { kind: { const: string } } }[] };
    expect(intent.oneOf.map((o) => o.properties.kind.const)).toContain('claim-next');
  });
});
