/**
 * A real test relay with the GitHub feature pointed at a fake GitHub (test/fake-github), paced
 * for tests (no polling, no start-up sync, short retries and debounce), a maintainer token and
 * one repo with write-back on; what it logged is kept for the "no secret leaves" checks.
 * Shared by the GitHub tests that authenticate with a token and as an app.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { createGithubFeature, type GithubFeature, type GithubFeatureOptions } from '../../server/github/index.js';
import type { Logger } from '../../server/ports.js';
import type { RelayConfig } from '../../server/relay.js';
import type { FakeGithub } from '../fake-github/server.js';
import { startTestRelay, type TestRelay } from './relay.js';

export interface GithubRelay {
  relay: TestRelay;
  feature: GithubFeature;
  /** Every line the relay logged, as `level message {fields}`. */
  logs: string[];
  /** A maintainer token. */
  maint: string;
}

/** Starts the relay with the feature (`auth`: a token and webhook secret, or app credentials) and puts `repo` in the pool. */
export async function startGithubRelay(gh: FakeGithub, repo: string, auth: GithubFeatureOptions, relayOpts: Partial<RelayConfig> = {}): Promise<GithubRelay> {
  const logs: string[] = [];
  const line = (level: string) => (m: string, f?: Record<string, unknown>) => void logs.push(`${level} ${m} ${JSON.stringify(f ?? {})}`);
  const log: Logger = { info: line('info'), warn: line('warn'), error: line('error') };
  let feature!: GithubFeature;
  const relay = await startTestRelay({
    log,
    ...relayOpts,
    features: (port) => [
      (feature = createGithubFeature(port, {
        apiUrl: gh.url, intervalMs: 0, syncOnStart: false, retryAfterBaseValue: 5, writeMinTimeMs: 0, debounceMs: 5, writeBackRetryMs: 5,
        ...auth,
      })),
    ],
  });
  const maint = await relay.token('maintainer');
  const put = await relay.api(maint, 'PUT', `/api/repos/${repo}`, { repo, reviewBudget: 20, github: { enabled: true, writeBack: true } });
  expect(put.status).toBe(200);
  return { relay, feature, logs, maint };
}

/** Every file below `dir` (a relay's data folder), to look for secrets in. */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}
