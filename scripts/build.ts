/**
 * The compiled build of the relay and the CLI (run by `npm ci` through `prepare`, and by
 * `npm run build:server`): esbuild bundles server/main.ts (the relay: `npm start`, the
 * container) and server/cli/main.ts (the `owp` command) into dist/ as ES modules, with the
 * npm packages bundled in except EXTERNAL (native or loaded on demand), code shared between
 * the entries split into chunks, and the dashboard's client and CSS prebuilt into dist/web/.
 *
 * Why esbuild and not `tsc` emit: the sources import `.js` paths with Bundler resolution
 * and run as one module graph; a bundle is ~1 s to make, needs no emit settings in
 * tsconfig.json, and loads much faster than the same code as hundreds of files (module
 * resolution and parsing are most of a start: measured with bench/startup.ts, importing
 * the relay took 0.47 CPU-s with packages external and 0.21 with them bundled, Node alone
 * 0.09). Type checking stays `npm run typecheck`.
 *
 * Invariants:
 * - Every output file is written to a temporary name and renamed into place, entries last,
 *   so a process starting during a build (a test run next to another) sees a whole build.
 * - dist/release/ (the plugin's release files) is never touched.
 */
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { buildClient, buildCss } from '../server/web/bundle.js';
import { COMMANDS } from '../server/cli/main.js';
import { specsOf } from '../server/cli/help.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DIST = join(ROOT, 'dist');
/**
 * The entry points: dist/main.js (relay), dist/snapshot-worker.js (the relay's worker thread,
 * server/sync/snapshot-encoder.ts finds it next to the bundle), dist/owp.js (`owp`: help
 * without loading commands) and dist/cli.js (every command).
 */
export const ENTRIES = { main: 'server/main.ts', 'snapshot-worker': 'server/sync/snapshot-worker.ts', owp: 'server/cli/fast.ts', cli: 'server/cli/main.ts' };

/** Packages loaded from node_modules at run time (every other import is bundled). */
export const EXTERNAL = ['level', 'classic-level', 'pg', 'pino-pretty', 'esbuild'];

async function writeAtomic(path: string, contents: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, contents);
  await rename(tmp, path);
}

/** Chunks of earlier builds no build of the last ten minutes wrote (a concurrent build's stay). */
async function pruneChunks(keep: Set<string>): Promise<void> {
  const old = Date.now() - 10 * 60_000;
  for (const name of await readdir(DIST).catch(() => [] as string[])) {
    if (!/^chunk-.*\.js$/.test(name) || keep.has(name)) continue;
    const path = join(DIST, name);
    const at = await stat(path).then((s) => s.mtimeMs, () => undefined); // another build's prune may have removed it
    if (at !== undefined && at < old) await rm(path, { force: true });
  }
}

export async function buildServer(o: { quiet?: boolean } = {}): Promise<{ ms: number; files: string[] }> {
  const t0 = performance.now();
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: ENTRIES,
    outdir: DIST,
    bundle: true,
    splitting: true,
    chunkNames: 'chunk-[name]-[hash]',
    format: 'esm',
    platform: 'node',
    target: 'node20.19',
    // npm packages are bundled too: one file to load instead of hundreds halves the relay's
    // start-up. Left in node_modules: native code (LevelDB), what is loaded only on demand
    // (PostgreSQL, pino-pretty) and esbuild (the dashboard's builder when running sources).
    external: EXTERNAL,
    // Bundled CommonJS packages call require(); give the ES module output one.
    banner: { js: "import { createRequire as __owpRequire } from 'node:module'; const require = __owpRequire(import.meta.url);" },
    define: { OWP_COMPILED: 'true', OWP_CLI_SPECS: JSON.stringify(specsOf(COMMANDS)) },
    legalComments: 'none',
    // Less to parse at each start (V8 pre-parses every function of a module it loads); names
    // are kept, so stack traces and logs still read.
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: 'silent',
    write: false,
  });
  const [client, css] = await Promise.all([buildClient(), buildCss()]);
  const entries = new Set(Object.keys(ENTRIES).map((n) => join(DIST, `${n}.js`)));
  const outputs = result.outputFiles;
  // Chunks and assets first, entries last: an entry is only in place once what it imports is.
  for (const f of outputs.filter((x) => !entries.has(x.path))) await writeAtomic(f.path, f.contents);
  await writeAtomic(join(DIST, 'web', 'app.js'), client.body);
  await writeAtomic(join(DIST, 'web', 'app.css'), css.body);
  for (const f of outputs.filter((x) => entries.has(x.path))) await writeAtomic(f.path, f.contents);
  await pruneChunks(new Set(outputs.map((f) => f.path.slice(DIST.length + 1))));
  const ms = Math.round(performance.now() - t0);
  if (!o.quiet) console.log(`built dist/ (${Object.keys(ENTRIES).map((n) => `${n}.js`).join(', ')}, ${outputs.length - entries.size} chunk(s), web/app.js, web/app.css) in ${ms} ms`);
  return { ms, files: outputs.map((f) => f.path) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    await buildServer();
  } catch (e) {
    console.error(`build failed: ${(e as Error).message}`);
    process.exit(1);
  }
}
