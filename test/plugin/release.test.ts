/**
 * The release script (scripts/release.mjs) on a scratch copy of the repository: one command
 * bumps manifest.json, versions.json and package.json together and builds the trio.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

describe('release script', () => {
  it('bumps the three version files together and builds main.js, manifest.json, styles.css and owp-relay.js; refuses an older version', async () => {
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'owp-release-'));
    try {
      for (const f of ['manifest.json', 'versions.json', 'package.json', 'esbuild.config.mjs']) fs.copyFileSync(path.join(root, f), path.join(dir, f));
      for (const d of ['plugin', 'shared', 'server', 'node_modules']) fs.symlinkSync(path.join(root, d), path.join(dir, d));
      const before = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
      const next = before.version.split('.').map(Number);
      const version = `${next[0]}.${next[1] + 1}.0`;
      await run(process.execPath, [path.join(root, 'scripts/release.mjs'), version, '--root', dir]);
      const read = (f: string) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
      expect(read('manifest.json')).toEqual({ ...before, version });
      expect(read('package.json').version).toBe(version);
      expect(read('versions.json')[version]).toBe(before.minAppVersion);
      expect(fs.readdirSync(path.join(dir, 'dist/release')).sort()).toEqual(['main.js', 'manifest.json', 'owp-relay.js', 'styles.css']);
      // the relay chunk is built with the new version: main.js refuses a chunk of another version
      expect(fs.readFileSync(path.join(dir, 'dist/release/owp-relay.js'), 'utf8')).toContain(JSON.stringify(version));
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'dist/release/manifest.json'), 'utf8')).version).toBe(version);
      const refused = await run(process.execPath, [path.join(root, 'scripts/release.mjs'), before.version, '--root', dir]).catch((e: { code: number; stderr: string }) => e);
      expect(refused).toMatchObject({ code: 2, stderr: expect.stringMatching(/is not newer than the current/) });
      expect(read('manifest.json').version).toBe(version);
    } finally {
      await fs.promises.rm(dir, { recursive: true, force: true });
    }
  });
});
