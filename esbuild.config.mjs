// Builds the Obsidian plugin: main.js (CommonJS, one file, one copy of yjs) at the repo root,
// plus styles.css (plugin styles + the shared dashboard styles) and owp-relay.js, the relay
// main.js loads on desktop when "Host the pool from this vault" is on (plugin/build/relay-chunk.mjs).
//
//   node esbuild.config.mjs             watch mode, inline source maps
//   node esbuild.config.mjs production  one minified build
//   node esbuild.config.mjs production vault   also copy the release trio into vault-template/
//
// The plugin must run on Obsidian mobile: the build targets the browser and FAILS if any
// module pulls a Node built-in.
import esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';

const root = path.dirname(new URL(import.meta.url).pathname);
const prod = process.argv.includes('production');
const vault = process.argv.includes('vault');

// The banner names the sources only when package.json says where they are (never a guess).
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const repoUrl = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url;
const BANNER = `/* OWP Pool for Obsidian, ${pkg.license} licence.${repoUrl ? ` Sources: ${String(repoUrl).replace(/^git\+/, '')}` : ''} */`;
const { noNodeBuiltins, oneYjs } = await import('./plugin/build/esbuild-plugins.mjs');
const { buildRelayChunk } = await import('./plugin/build/relay-chunk.mjs');
const manifestVersion = JSON.parse(fs.readFileSync(path.join(root, 'manifest.json'), 'utf8')).version;
const RELEASE = ['main.js', 'manifest.json', 'styles.css', 'owp-relay.js'];
const relayChunk = () => buildRelayChunk({ outfile: path.join(root, 'owp-relay.js'), version: manifestVersion, minify: prod, banner: BANNER });

function writeStyles(dest) {
  const parts = [fs.readFileSync(path.join(root, 'plugin/styles.css'), 'utf8')];
  const dash = path.join(root, 'shared/dashboard/dashboard.css');
  if (fs.existsSync(dash)) parts.push(fs.readFileSync(dash, 'utf8'));
  fs.writeFileSync(dest, parts.join('\n'));
}

const context = await esbuild.context({
  banner: { js: BANNER },
  entryPoints: [path.join(root, 'plugin/main.ts')],
  bundle: true,
  external: ['obsidian', 'electron', '@codemirror/*', '@lezer/*'],
  format: 'cjs',
  platform: 'browser',
  target: 'es2021',
  logLevel: 'info',
  sourcemap: prod ? false : 'inline',
  treeShaking: true,
  minify: prod,
  outfile: path.join(root, 'main.js'),
  plugins: [noNodeBuiltins, oneYjs],
});

if (prod) {
  try {
    await context.rebuild();
  } catch {
    await context.dispose();
    process.exit(1);
  }
  writeStyles(path.join(root, 'styles.css'));
  try {
    await relayChunk();
  } catch {
    await context.dispose();
    process.exit(1);
  }
  if (vault) {
    const dir = path.join(root, 'vault-template/.obsidian/plugins/owp-pool');
    fs.mkdirSync(dir, { recursive: true });
    for (const f of RELEASE) fs.copyFileSync(path.join(root, f), path.join(dir, f));
    console.log(`vault template ready: ${path.relative(root, dir)}`);
  }
  await context.dispose();
} else {
  writeStyles(path.join(root, 'styles.css'));
  await relayChunk();
  await context.watch();
}
