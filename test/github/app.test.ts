/**
 * The relay as a GitHub App installation (OWP_GITHUB_APP_*), against the fake GitHub's token
 * endpoint: installation tokens fetched with the app's JWT, write-back comments posted as the
 * app, a token GitHub calls expired replaced and the request sent again, a token near its end
 * replaced before use, the key and the tokens never leaving the relay, and configuration errors
 * that say what to change. Clocks are moved, never waited for.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { GithubFeature } from '../../server/github/index.js';
import { parseServeArgs } from '../../server/main.js';
import { owp } from '../helpers/cli-run.js';
import { filesUnder, startGithubRelay } from '../helpers/github-relay.js';
import { waitFor, type TestRelay } from '../helpers/relay.js';
import { startFakeGithub, type FakeGithub } from '../fake-github/server.js';

const REPO = 'acme/widgets';
const APP_ID = '4242';
const INSTALLATION = '77';
const HOUR = 60 * 60 * 1000;

function keyPair(): { privateKey: string; publicKey: string } {
  return generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
}
const keys = keyPair();

interface Env {
  gh: FakeGithub;
  relay: TestRelay;
  feature: GithubFeature;
  logs: string[];
  maint: string;
  /** Moves the relay's clock. */
  shift(ms: number): void;
}
const envs: Env[] = [];
afterEach(async () => {
  for (const e of envs.splice(0)) {
    await e.relay.close();
    await e.gh.close();
  }
});

async function setup(privateKey = keys.privateKey): Promise<Env> {
  const gh = await startFakeGithub({ app: { id: APP_ID, publicKey: keys.publicKey, installationId: INSTALLATION, slug: 'owp-pool' } });
  gh.createRepo(REPO);
  let offset = 0;
  const started = await startGithubRelay(gh, REPO, { app: { appId: APP_ID, privateKey, installationId: INSTALLATION } }, { now: () => Date.now() + offset });
  const env = { gh, ...started, shift: (ms: number) => void (offset += ms) };
  envs.push(env);
  return env;
}

/** Requests to the API proper (not the token endpoint) and the token each carried. */
const apiTokens = (gh: FakeGithub) => gh.requests.filter((r) => !r.path.startsWith('/app/')).map((r) => String(r.headers.authorization).replace(/^token /, ''));

describe('GitHub App authentication', () => {
  it('syncs and comments as the app; an installation token GitHub calls expired is replaced and the request succeeds', async () => {
    const e = await setup();
    const app = e.gh.app!;
    e.gh.addIssue(REPO, { title: 'Fix the widget', labels: ['owp', 'points:3'] });
    const first = await e.relay.api(e.maint, 'POST', '/api/github/sync', {});
    expect(first.body.repos[0]).toMatchObject({ added: 1 });
    expect(first.body.repos[0].error).toBeUndefined();
    expect(app.issued).toHaveLength(1);
    // The token request was signed with the app's JWT; every API request used the installation token.
    const tokenRequests = e.gh.requests.filter((r) => r.path === `/app/installations/${INSTALLATION}/access_tokens`);
    expect(tokenRequests.map((r) => r.status)).toEqual([201]);
    expect(String(tokenRequests[0]!.headers.authorization)).toMatch(/^bearer [\w-]+\.[\w-]+\.[\w-]+$/i);
    expect(new Set(apiTokens(e.gh))).toEqual(new Set([app.issued[0]!.token]));

    // A claim is written back as a comment by the app's bot identity.
    const taskId = `${REPO}#1`;
    const worker = await e.relay.token('worker', 'w1');
    expect((await e.relay.api(worker, 'POST', '/api/workers/register', { skills: [], capacity: 5, maxConcurrent: 2 })).status).toBe(200);
    await waitFor(async () => ((await e.relay.api(worker, 'POST', '/api/claim', { taskId, intentId: 'claim-1' })).status === 200 ? true : undefined));
    await waitFor(() => e.gh.comments(REPO, 1).length === 1 || undefined, 10_000, 'write-back comment');
    expect(e.gh.comments(REPO, 1)[0]!.user.login).toBe('owp-pool[bot]');

    // GitHub's clock passes the token's expiry (the relay's does not): GitHub answers 401, the
    // relay fetches a new installation token and the same request succeeds.
    await e.feature.idle();
    app.advance(HOUR + 60_000);
    e.gh.addIssue(REPO, { title: 'Another', labels: ['owp'] });
    e.gh.clearRequests();
    const again = await e.relay.api(e.maint, 'POST', '/api/github/sync', {});
    expect(again.body.repos[0].error).toBeUndefined();
    expect(again.body.repos[0]).toMatchObject({ added: 1 });
    expect(app.expiredRefusals).toBe(1);
    expect(app.issued).toHaveLength(2);
    const statuses = e.gh.requests.map((r) => `${r.status} ${r.path.startsWith('/app/') ? 'token' : 'api'}`);
    // The refused request, the new token, the same request again (answered, or 304 from the cache).
    expect(statuses.slice(0, 2)).toEqual(['401 api', '201 token']);
    expect(statuses[2]).toMatch(/^(200|304) api$/);
    expect(e.gh.requests[2]!.path).toBe(e.gh.requests[0]!.path);
    expect(apiTokens(e.gh).slice(1).every((t) => t === app.issued[1]!.token)).toBe(true);
  });

  it('replaces a token before it is used once it is within five minutes of its expiry (relay clock)', async () => {
    const e = await setup();
    const app = e.gh.app!;
    e.gh.addIssue(REPO, { title: 'One', labels: ['owp'] });
    await e.relay.api(e.maint, 'POST', '/api/github/sync', {});
    await e.relay.api(e.maint, 'POST', '/api/github/sync', {});
    expect(app.issued).toHaveLength(1); // reused while fresh
    e.shift(56 * 60 * 1000);
    e.gh.clearRequests();
    const r = await e.relay.api(e.maint, 'POST', '/api/github/sync', {});
    expect(r.body.repos[0].error).toBeUndefined();
    expect(app.issued).toHaveLength(2);
    expect(app.expiredRefusals).toBe(0);
    expect(e.gh.requests[0]!.path).toBe(`/app/installations/${INSTALLATION}/access_tokens`);
    expect(new Set(apiTokens(e.gh))).toEqual(new Set([app.issued[1]!.token]));
  });

  it('a key GitHub does not know: the sync reports upstream-error, and nothing secret is in logs, answers or files', async () => {
    const wrong = keyPair().privateKey;
    const e = await setup(wrong);
    e.gh.addIssue(REPO, { title: 'One', labels: ['owp'] });
    const r = await e.relay.api(e.maint, 'POST', '/api/github/sync', {});
    expect(r.status).toBe(200);
    expect(r.body.repos[0].error).toMatchObject({ code: 'upstream-error' });
    expect(e.gh.app!.issued).toHaveLength(0);
    // A working relay too, for tokens to look for.
    const ok = await setup();
    ok.gh.addIssue(REPO, { title: 'One', labels: ['owp'] });
    await ok.relay.api(ok.maint, 'POST', '/api/github/sync', {});
    await ok.feature.idle();
    const secrets = [wrong, keys.privateKey, ...ok.gh.app!.issued.map((i) => i.token)];
    const pemLine = (pem: string) => pem.split('\n')[3]!;
    for (const env of [e, ok]) {
      const answers = await Promise.all(['/api/repos', '/api/status', '/api/audit', '/api/github/status'].map((p) => env.relay.api(env.maint, 'GET', p)));
      const text = JSON.stringify([env.logs, answers.map((a) => a.body), r.body]);
      for (const s of secrets) {
        expect(text).not.toContain(s);
        if (s.includes('\n')) expect(text).not.toContain(pemLine(s));
      }
      for (const f of await filesUnder(env.relay.dataDir)) {
        const bytes = await readFile(f);
        for (const s of secrets) expect(bytes.includes(Buffer.from(s.includes('\n') ? pemLine(s) : s)), f).toBe(false);
      }
    }
  });

  it('configuration: all three settings or an error naming the missing one; not with a token; the key masked by owp config', async () => {
    const pemOneLine = keys.privateKey.trimEnd().split('\n').join('\\n');
    const env = { OWP_GITHUB_APP_ID: APP_ID, OWP_GITHUB_APP_PRIVATE_KEY: pemOneLine, OWP_GITHUB_APP_INSTALLATION_ID: INSTALLATION };
    const opts = parseServeArgs([], env);
    expect(opts.github?.app).toMatchObject({ appId: APP_ID, installationId: INSTALLATION });
    expect(opts.github?.app?.privateKey).toContain('\n-----END RSA PRIVATE KEY-----');
    expect(() => parseServeArgs([], { OWP_GITHUB_APP_ID: APP_ID })).toThrow(/missing: OWP_GITHUB_APP_PRIVATE_KEY, OWP_GITHUB_APP_INSTALLATION_ID/);
    expect(() => parseServeArgs([], { ...env, OWP_GITHUB_TOKEN: 'ghp_x' })).toThrow(/both OWP_GITHUB_TOKEN and a GitHub App/);
    expect(() => parseServeArgs([], { ...env, OWP_GITHUB_APP_PRIVATE_KEY: 'not a key' })).toThrow(/not a PEM private key/);
    expect(() => parseServeArgs([], { ...env, OWP_GITHUB_APP_INSTALLATION_ID: 'abc' })).toThrow(/must be a number/);
    expect(parseServeArgs([], { OWP_GITHUB_TOKEN: 'ghp_x' }).github).toMatchObject({ token: 'ghp_x' });

    const home = mkdtempSync(join(tmpdir(), 'owp-app-config-'));
    const shown = await owp(['config'], { home, env: { ...env, OWP_DATA: join(home, 'data') } });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('OWP_GITHUB_APP_ID');
    expect(shown.stdout).not.toContain(keys.privateKey.split('\n')[3]!);
    expect(shown.stdout).not.toContain('PRIVATE KEY-----');
  });
});
