// Builds owp-relay.js, the relay chunk main.js loads from its own folder on desktop when
// "Host the pool from this vault" is on (plugin/host/relay-entry.ts; docs/OBSIDIAN.md).
//
// - Node platform (Electron's renderer has Node's built-ins), CommonJS, one file.
// - `level` and `pg` stay outside: server/store/index.ts imports their backends only when
//   first used, and the chunk runs on the file store, so they are never required.
// - yjs marks itself as loaded on globalThis and complains when a second copy loads. The
//   chunk's copy (the relay's documents) and main.js's (the plugin's) never exchange Yjs
//   objects, only bytes over a WebSocket, so the banner hides the mark from the chunk's
//   copy and the footer puts it back.
import esbuild from 'esbuild';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const YJS_MARK = '__ $YJS$ __';

export async function buildRelayChunk({ outfile, version, minify = true, banner = '' }) {
  return esbuild.build({
    entryPoints: [path.join(root, 'plugin/host/relay-entry.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node18',
    external: ['level', 'pg', 'bufferutil', 'utf-8-validate', 'electron', 'obsidian'],
    define: { OWP_PLUGIN_VERSION: JSON.stringify(version), 'import.meta.url': 'undefined' },
    banner: { js: `${banner}\nconst __owpYjsMark = globalThis[${JSON.stringify(YJS_MARK)}]; delete globalThis[${JSON.stringify(YJS_MARK)}];` },
    footer: { js: `if (__owpYjsMark === undefined) delete globalThis[${JSON.stringify(YJS_MARK)}]; else globalThis[${JSON.stringify(YJS_MARK)}] = __owpYjsMark;` },
    minify,
    treeShaking: true,
    legalComments: 'none',
    outfile,
    logLevel: 'warning',
    metafile: true,
  });
}
