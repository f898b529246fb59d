/**
 * How the relay authenticates to GitHub, from its configuration: a token (OWP_GITHUB_TOKEN)
 * or a GitHub App (OWP_GITHUB_APP_ID, OWP_GITHUB_APP_PRIVATE_KEY or its _FILE,
 * OWP_GITHUB_APP_INSTALLATION_ID). Light on purpose (node:crypto only): `owp serve` reads it
 * before loading the GitHub module.
 *
 * - The app needs all three settings; a partial app, or a token and an app together, is an
 *   error naming what to change, never a silent choice.
 * - The private key must parse as a PEM private key; a one-line value with literal `\n`
 *   (as .env files hold it) is turned back into lines.
 */
import { createPrivateKey } from 'node:crypto';

export interface GithubAppCredentials {
  appId: string;
  /** PEM (PKCS#1 or PKCS#8), with real newlines. */
  privateKey: string;
  installationId: string;
}

export type GithubAuth = { token: string; app?: undefined } | { token?: undefined; app: GithubAppCredentials };

/** The key as PEM with real newlines; throws a sentence if it is not a private key. */
export function normalisePrivateKey(key: string): string {
  const pem = !key.includes('\n') && key.includes('\\n') ? key.replace(/\\n/g, '\n') : key;
  try {
    createPrivateKey(pem);
  } catch {
    throw new Error('OWP_GITHUB_APP_PRIVATE_KEY is not a PEM private key: paste the whole .pem file GitHub gave you, or point OWP_GITHUB_APP_PRIVATE_KEY_FILE at it');
  }
  return pem;
}

export function githubAuthFrom(c: { token?: string; appId?: string; privateKey?: string; installationId?: string }): GithubAuth | undefined {
  const app = { OWP_GITHUB_APP_ID: c.appId, OWP_GITHUB_APP_PRIVATE_KEY: c.privateKey, OWP_GITHUB_APP_INSTALLATION_ID: c.installationId };
  const given = Object.entries(app).filter(([, v]) => v !== undefined && v !== '');
  if (given.length === 0) return c.token ? { token: c.token } : undefined;
  if (c.token) throw new Error('both OWP_GITHUB_TOKEN and a GitHub App (OWP_GITHUB_APP_*) are set: keep one of them (the app is preferred: its tokens expire within the hour)');
  const missing = Object.keys(app).filter((k) => !given.some(([g]) => g === k));
  if (missing.length > 0) throw new Error(`a GitHub App needs OWP_GITHUB_APP_ID, OWP_GITHUB_APP_PRIVATE_KEY (or _FILE) and OWP_GITHUB_APP_INSTALLATION_ID; missing: ${missing.join(', ')}`);
  if (!/^\d+$/.test(c.installationId!)) throw new Error(`OWP_GITHUB_APP_INSTALLATION_ID must be a number (it is in the URL of the app's installation settings page), got ${JSON.stringify(c.installationId!.slice(0, 40))}`);
  return { app: { appId: c.appId!, privateKey: normalisePrivateKey(c.privateKey!), installationId: c.installationId! } };
}
