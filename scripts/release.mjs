// Release the Obsidian plugin: bump the version in manifest.json, versions.json and
// package.json together, build, and put the release files (main.js, manifest.json,
// styles.css, and owp-relay.js: the relay for "Host the pool from this vault", see
// docs/OBSIDIAN.md) into dist/release/ for a GitHub release named after the version.
//
//   node scripts/release.mjs 0.2.0            (or: npm run release -- 0.2.0)
//   node scripts/release.mjs 0.2.0 --min-app 1.6.0
//
// Refuses a version that is not x.y.z or not newer than the current one, and never
// changes anything when it refuses. --root <dir> works on another checkout (tests).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';

const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args.splice(i, 2)[1];
};
const root = path.resolve(flag('--root') ?? path.join(path.dirname(new URL(import.meta.url).pathname), '..'));
const minAppFlag = flag('--min-app');
const version = args[0];

function fail(message) {
  console.error(`release: ${message}`);
  process.exit(2);
}

const SEMVER = /^(\d+)\.(\d+)\.(\d+)$/;
const read = (f) => JSON.parse(fs.readFileSync(path.join(root, f), 'utf8'));
const write = (f, v) => fs.writeFileSync(path.join(root, f), JSON.stringify(v, null, 2) + '\n');
const newer = (a, b) => {
  const x = SEMVER.exec(a).slice(1).map(Number);
  const y = SEMVER.exec(b).slice(1).map(Number);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] > y[i];
  return false;
};

if (!version || !SEMVER.test(version)) fail('give the new version as x.y.z, for example: npm run release -- 0.2.0');
const manifest = read('manifest.json');
const pkg = read('package.json');
const versions = read('versions.json');
if (!newer(version, manifest.version)) fail(`${version} is not newer than the current ${manifest.version}.`);
const minApp = minAppFlag ?? manifest.minAppVersion;
if (!SEMVER.test(minApp)) fail(`--min-app must be x.y.z, not ${minApp}.`);

manifest.version = version;
manifest.minAppVersion = minApp;
pkg.version = version;
versions[version] = minApp;
write('manifest.json', manifest);
write('package.json', pkg);
write('versions.json', versions);

execFileSync(process.execPath, [path.join(root, 'esbuild.config.mjs'), 'production'], { cwd: root, stdio: 'inherit' });
const out = path.join(root, 'dist/release');
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
const FILES = ['main.js', 'manifest.json', 'styles.css', 'owp-relay.js'];
for (const f of FILES) fs.copyFileSync(path.join(root, f), path.join(out, f));
console.log(`release ${version} (Obsidian ${minApp} or newer): ${path.relative(process.cwd(), out) || out}/ ${FILES.join(', ')}`);
console.log(`next: commit, tag ${version} (no "v"), and attach the four files to the GitHub release ${version}.`);
