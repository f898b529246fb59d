import { describe, expect, it } from 'vitest';
import * as obsidianDouble from '../obsidian/index.js';
import { waitFor } from '../helpers/relay.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { builtinModules } from 'node:module';
import esbuild from 'esbuild';
// @ts-expect-error plain ESM build helper without types
import { noNodeBuiltins } from '../../plugin/build/esbuild-plugins.mjs';

const run = promisify(execFile);
export const MAIN_JS_LIMIT = 400 * 1024;
const root = path.resolve(import.meta.dirname, '../..');

describe('plugin build (npm run build)', () => {
  it('produces a CommonJS main.js with one copy of yjs and no Node built-ins, plus manifest, styles and the relay chunk', async () => {
    await run(process.execPath, ['esbuild.config.mjs', 'production'], { cwd: root });
    // owp-relay.js: the relay for hosting, built with this version; its database drivers are
    // never required (the file store), its Node built-ins are Electron's on desktop.
    const relayJs = fs.readFileSync(path.join(root, 'owp-relay.js'), 'utf8');
    const manifestVersion = JSON.parse(fs.readFileSync(path.join(root, 'manifest.json'), 'utf8')).version;
    expect(relayJs).toContain(JSON.stringify(manifestVersion));
    expect(relayJs.split('Yjs was already imported').length - 1).toBe(1);
    // Not capped by the directory, but loaded into Obsidian: about 520 KB. Past 800 KB look for
    // `import { z } from 'zod'` (every zod locale, +360 KB; write `import * as z`) or a new
    // dependency of server/relay.ts.
    expect(relayJs.length, 'owp-relay.js grew past 800 KB').toBeLessThanOrEqual(800 * 1024);
    const js = fs.readFileSync(path.join(root, 'main.js'), 'utf8');
    const required = [...js.matchAll(/require\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]);
    expect(new Set(required)).toEqual(new Set(['obsidian']));
    for (const b of builtinModules) expect(required).not.toContain(b);
    expect(js).toMatch(/module\.exports\s*=|exports\.default|__toCommonJS/);
    // yjs guards against double loading with this message; one bundled copy has it once.
    expect(js.split('Yjs was already imported').length - 1).toBe(1);
    expect(js).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML/);
    const manifest = JSON.parse(fs.readFileSync(path.join(root, 'manifest.json'), 'utf8'));
    const pkgVersion = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;
    expect(manifest).toMatchObject({ id: 'owp-pool', name: 'OWP Pool', version: pkgVersion, author: 'OWP Pool contributors', isDesktopOnly: false });
    const versions = JSON.parse(fs.readFileSync(path.join(root, 'versions.json'), 'utf8'));
    expect(versions[manifest.version]).toBe(manifest.minAppVersion);
    // The community directory's size budget: at most 400 KB (zod without its locales, no gray-matter).
    expect(fs.statSync(path.join(root, 'main.js')).size).toBeLessThanOrEqual(MAIN_JS_LIMIT);
    expect(js).not.toMatch(/js-yaml|gray-matter/);
    // The banner names the sources only where package.json says where they are: no guessed URL.
    const banner = js.slice(0, js.indexOf('*/') + 2);
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(banner).toMatch(/^\/\* OWP Pool for Obsidian, MIT licence\./);
    if (!pkg.repository) expect(banner).not.toMatch(/https?:/);
    const css = fs.readFileSync(path.join(root, 'styles.css'), 'utf8');
    expect(css).toContain('.owp-dashboard-root');
    // The plugin's own styles use theme variables only (no hard-coded colours) and .theme-dark.
    const own = fs.readFileSync(path.join(root, 'plugin/styles.css'), 'utf8');
    expect(own).not.toMatch(/#[0-9a-f]{3,8}\b|rgba?\(|hsla?\(/i);
    expect(own).toContain('.theme-dark');
    expect(own).toMatch(/--owp-ok: var\(--color-green\)/);
    expect(css).toContain('.owp-dashboard {');
  });

  it('the built main.js loads in an Obsidian-like host and says why it cannot connect', async () => {
    const js = fs.readFileSync(path.join(root, 'main.js'), 'utf8');
    const mod: { exports: Record<string, unknown> } = { exports: {} };
    const fakeRequire = (id: string) => {
      if (id === 'obsidian') return obsidianDouble;
      throw new Error(`main.js required ${id}`);
    };
    new Function('require', 'module', 'exports', js)(fakeRequire, mod, mod.exports);
    const Plugin = mod.exports.default as new (app: unknown, manifest: unknown) => obsidianDouble.Plugin;
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'owp-bundle-vault-'));
    try {
      fs.mkdirSync(path.join(dir, '.obsidian/plugins/owp-pool'), { recursive: true });
      fs.writeFileSync(path.join(dir, '.obsidian/plugins/owp-pool/data.json'), JSON.stringify({ relayUrl: 'http://127.0.0.1:9', token: 'owp_x' }));
      const app = obsidianDouble.createTestApp(dir);
      const manifest = JSON.parse(fs.readFileSync(path.join(root, 'manifest.json'), 'utf8'));
      const plugin = new Plugin(app, manifest);
      const mark = obsidianDouble.noticeLog.length;
      plugin.load();
      await plugin.loading;
      await waitFor(() => obsidianDouble.noticeLog.slice(mark).some((n) => /cannot reach the relay at http:\/\/127\.0\.0\.1:9/.test(n.message)), 15_000, 'notice');
      expect([...app.commands.commands.keys()].sort()).toEqual(
        [
          'cancel-task', 'claim-next-task', 'claim-this-task', 'complete-task', 'create-task-from-note', 'fail-task', 'hold-task', 'open-dashboard', 'open-my-tasks',
          'reconnect', 'release-task', 'requeue-task', 'restore-task-note', 'resume-task', 'review-changes-requested', 'review-closed', 'review-merged', 'submit-pull-request',
        ].map((c) => `owp-pool:${c}`),
      );
      expect(app.statusBar.textContent).toBe('OWP: not connected');
      plugin.unload();
      expect(app.commands.commands.size).toBe(0);
    } finally {
      await fs.promises.rm(dir, { recursive: true, force: true });
    }
  });

  it('the built main.js hosts the pool with the built owp-relay.js from its own folder, and unload frees the port', async () => {
    const js = fs.readFileSync(path.join(root, 'main.js'), 'utf8');
    const chunk = fs.readFileSync(path.join(root, 'owp-relay.js'), 'utf8');
    expect(chunk).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML/);
    const mod: { exports: Record<string, unknown> } = { exports: {} };
    new Function('require', 'module', 'exports', js)((id: string) => (id === 'obsidian' ? obsidianDouble : undefined), mod, mod.exports);
    const Plugin = mod.exports.default as new (app: unknown, manifest: unknown) => obsidianDouble.Plugin & { host: { running?: { url: string; port: number } }; closing: Promise<void> };
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'owp-bundle-host-'));
    try {
      const pluginDir = path.join(dir, '.obsidian/plugins/owp-pool');
      fs.mkdirSync(pluginDir, { recursive: true });
      fs.copyFileSync(path.join(root, 'owp-relay.js'), path.join(pluginDir, 'owp-relay.js'));
      fs.writeFileSync(path.join(pluginDir, 'data.json'), JSON.stringify({ host: { enabled: true, port: 0 } }));
      const app = obsidianDouble.createTestApp(dir);
      const plugin = new Plugin(app, JSON.parse(fs.readFileSync(path.join(root, 'manifest.json'), 'utf8')));
      plugin.load();
      const relay = await waitFor(() => plugin.host.running, 15_000, 'hosted relay');
      expect((await (await fetch(`${relay.url}/healthz`)).json()).ok).toBe(true);
      plugin.unload();
      await plugin.closing;
      await expect(fetch(`${relay.url}/healthz`)).rejects.toThrow();
    } finally {
      await fs.promises.rm(dir, { recursive: true, force: true });
    }
  });

  it("lints everything bundled into main.js with Obsidian's rules (eslint.config.mjs PLUGIN_FILES covers every input)", async () => {
    // @ts-expect-error plain ESM config without types
    const { PLUGIN_FILES } = (await import('../../eslint.config.mjs')) as { PLUGIN_FILES: string[] };
    const covered = (f: string) =>
      PLUGIN_FILES.some((g) => (g.endsWith('/**/*.ts') ? f.startsWith(g.slice(0, -'**/*.ts'.length)) && f.endsWith('.ts') : f === g));
    const r = await esbuild.build({
      entryPoints: [path.join(root, 'plugin/main.ts')], bundle: true, external: ['obsidian'], format: 'cjs', platform: 'browser', write: false, metafile: true, logLevel: 'silent', plugins: [noNodeBuiltins],
    });
    const ours = Object.keys(r.metafile.inputs).map((f) => path.relative(root, path.resolve(root, f))).filter((f) => !f.includes('node_modules'));
    expect(ours.length).toBeGreaterThan(20);
    expect(ours.filter((f) => !covered(f))).toEqual([]);
    // The relay stays out of main.js: only the chunk (owp-relay.js) carries server code.
    expect(ours.filter((f) => f.startsWith('server/') || f === 'plugin/host/relay-entry.ts')).toEqual([]);
    expect(Object.keys(r.metafile.inputs).filter((f) => /node_modules\/(ws|level|pg)\//.test(f))).toEqual([]);
  });

  it('fails the build when code pulls a Node built-in', async () => {
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'owp-build-'));
    try {
      const entry = path.join(dir, 'entry.ts');
      fs.writeFileSync(entry, "import { join } from 'node:path';\nexport const x = join('a', 'b');\n");
      await expect(
        esbuild.build({ entryPoints: [entry], bundle: true, platform: 'browser', format: 'cjs', write: false, logLevel: 'silent', plugins: [noNodeBuiltins] }),
      ).rejects.toThrow(/Node built-in "node:path"/);
    } finally {
      await fs.promises.rm(dir, { recursive: true, force: true });
    }
  });
});
