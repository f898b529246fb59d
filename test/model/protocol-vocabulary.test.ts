/**
 * The protocol vocabulary (shared/protocol.ts) is defined once: no other source file spells
 * its document names, close codes, roles or origins again, and the module stays free of
 * imports (the plugin bundles it for mobile).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BOARD_DOC, CLOSE, inboxDoc, INTENT_KINDS, isRole, LEDGER_DOC, MAINTAINER_INTENT_KINDS, ROLES, WORKER_INTENT_KINDS } from '../../shared/protocol.js';
import { IntentSchema } from '../../shared/model.js';
import { parseDocName } from '../../server/sync/acl.js';

const ROOT = join(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (/\.(ts|mjs)$/.test(e.name)) out.push(p);
  }
  return out;
}

/** Code without comments (line comments and block comments), so prose may name things. */
function code(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
}

const SPELLED_AGAIN: [string, RegExp][] = [
  ['a document name', /['"`]owp\/(board|ledger|inbox)/],
  ['a role union', /'admin' \| 'maintainer' \| 'worker' \| 'viewer'/],
  ['a close code', /\b44(00|01|03|04|10|13|29)\b/],
  ['the plugin origin', /'owp-plugin'/],
  ['the sync path', /['"`]\/yjs['"`]/],
];

describe('protocol vocabulary', () => {
  it('is defined once: no other source module spells it again', () => {
    const files = ['server', 'shared', 'plugin', 'bin', 'scripts'].flatMap(sources).filter((f) => relative(ROOT, join(ROOT, f)) !== join('shared', 'protocol.ts'));
    expect(files.length).toBeGreaterThan(50);
    const found: string[] = [];
    for (const f of files) {
      const text = code(f);
      for (const [what, re] of SPELLED_AGAIN) if (re.test(text)) found.push(`${f}: ${what}`);
    }
    expect(found).toEqual([]);
  });

  it('imports nothing (no Node built-ins in the plugin bundle)', () => {
    expect(code('shared/protocol.ts')).not.toMatch(/^\s*(import|export .* from)\b/m);
  });

  it('names documents the relay serves, roles and intent kinds the validators accept', () => {
    expect(parseDocName(BOARD_DOC)).toEqual({ kind: 'board' });
    expect(parseDocName(LEDGER_DOC)).toEqual({ kind: 'ledger' });
    expect(parseDocName(inboxDoc('w1'))).toEqual({ kind: 'inbox', workerId: 'w1' });
    expect(ROLES.every(isRole)).toBe(true);
    expect(isRole('root')).toBe(false);
    expect(new Set(Object.values(CLOSE)).size).toBe(Object.keys(CLOSE).length);
    expect([...INTENT_KINDS].sort()).toEqual([...WORKER_INTENT_KINDS, ...MAINTAINER_INTENT_KINDS].sort());
    expect(IntentSchema.options.map((o) => o.shape.kind.value).sort()).toEqual([...INTENT_KINDS].sort());
  });
});
