/**
 * The Docker image's runtime stage, rebuilt on the host (no Docker engine here): a folder
 * made from the Dockerfile's last stage, its COPY lines (dist/ from the build stage is the
 * build of this test run), its ENV lines and its `npm ci` line (production dependencies
 * only, from npm's cache), then its CMD: the relay answers /healthz and serves the
 * prebuilt dashboard with no tsx and no esbuild installed, the HEALTHCHECK command passes,
 * `owp` works from the same folder, and SIGTERM exits 0.
 */
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startRelayProcess, type RelayProcess } from '../helpers/child.js';
import { api } from '../helpers/relay.js';

interface RuntimeStage {
  copies: { from?: string; sources: string[]; dest: string }[];
  env: Record<string, string>;
  npmCi: string[];
  cmd: string[];
  healthcheck: string[];
}

/** The last stage of the Dockerfile, as far as this test replays it. */
function runtimeStage(text: string): RuntimeStage {
  const lines = text.replace(/\\\n\s*/g, ' ').split('\n');
  const last = lines.map((l, i) => (/^FROM\s/.test(l) ? i : -1)).filter((i) => i >= 0).pop()!;
  const stage: RuntimeStage = { copies: [], env: {}, npmCi: [], cmd: [], healthcheck: [] };
  for (const line of lines.slice(last + 1)) {
    const [word, ...rest] = line.trim().split(/\s+/);
    if (word === 'COPY') {
      const from = rest[0]?.startsWith('--from=') ? rest.shift()!.slice('--from='.length) : undefined;
      stage.copies.push({ from, sources: rest.slice(0, -1), dest: rest[rest.length - 1]! });
    } else if (word === 'ENV') {
      for (const [, k, v] of line.matchAll(/(\w+)=(\S+)/g)) stage.env[k!] = v!;
    } else if (word === 'RUN' && /^RUN npm ci\b/.test(line)) {
      stage.npmCi = line.replace(/^RUN npm ci\s*/, '').split('&&')[0]!.trim().split(/\s+/);
    } else if (word === 'CMD') {
      stage.cmd = JSON.parse(line.replace(/^CMD\s+/, '')) as string[];
    } else if (word === 'HEALTHCHECK') {
      stage.healthcheck = JSON.parse(line.replace(/^.*\bCMD\s+/, '')) as string[];
    }
  }
  return stage;
}

describe('the runtime image, rebuilt on the host', () => {
  const dirs: string[] = [];
  const procs: RelayProcess[] = [];
  afterAll(async () => {
    for (const p of procs) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('installs production dependencies only and runs CMD, HEALTHCHECK and owp from them', async () => {
    const stage = runtimeStage(await readFile(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
    expect(stage.cmd).toEqual(['node', 'dist/main.js']);
    expect(stage.npmCi).toContain('--omit=dev');
    const app = await mkdtemp(join(tmpdir(), 'owp-image-'));
    const data = await mkdtemp(join(tmpdir(), 'owp-image-data-'));
    dirs.push(app, data);

    for (const c of stage.copies) {
      for (const src of c.sources) {
        // The build stage's /app/X is this checkout's X (dist/ was built for this run).
        const from = c.from === 'build' ? join(REPO_ROOT, src.replace(/^\/app\//, '')) : join(REPO_ROOT, src);
        const to = c.dest.endsWith('/') ? join(app, c.dest, src.split('/').pop()!) : join(app, c.dest);
        await cp(from, to, { recursive: true });
      }
    }
    // npm's cache holds every package since the checkout's own `npm ci`; --prefer-offline uses it.
    const ci = spawnSync('npm', ['ci', ...stage.npmCi, '--prefer-offline'], { cwd: app, encoding: 'utf8' });
    expect(ci.status, ci.stderr).toBe(0);
    for (const dev of ['tsx', 'esbuild', 'vitest', 'typescript']) expect(existsSync(join(app, 'node_modules', dev)), `${dev} is not installed`).toBe(false);
    expect(existsSync(join(app, 'node_modules', 'level'))).toBe(true);

    const admin = 'owp_runtime_image_admin_token_01234';
    const relay = await startRelayProcess(data, { ...stage.env, OWP_PORT: '0', OWP_DATA: data, OWP_ADMIN_TOKEN: admin }, stage.cmd, app);
    procs.push(relay);
    expect((await api(relay.url, undefined, 'GET', '/healthz')).status).toBe(200);
    // The dashboard comes prebuilt from dist/web (no esbuild at run time).
    const page = await fetch(`${relay.url}/app.js`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/javascript/);
    expect((await page.text()).length).toBeGreaterThan(1000);
    expect((await fetch(`${relay.url}/app.css`)).status).toBe(200);

    const port = new URL(relay.url).port;
    const health = spawnSync(stage.healthcheck[0]!, stage.healthcheck.slice(1), { cwd: app, env: { ...process.env, OWP_PORT: port }, encoding: 'utf8' });
    expect(health.status, health.stderr).toBe(0);

    const cli = spawnSync('node', ['bin/owp.js', 'token', 'list', '--url', relay.url, '--token', admin, '--json'], { cwd: app, encoding: 'utf8' });
    expect(cli.status, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toBeTruthy();

    relay.proc.kill('SIGTERM');
    expect((await relay.exited).code).toBe(0);
  });
});
