/**
 * What every GitHub piece shares: the relay port, the GitHub client and the kv namespace.
 *
 * Invariant: the kv namespace 'github' holds only GitHub bookkeeping (ETag caches, PR
 * links, cursors, write-back receipts), never the token.
 */
import type { KvStore, Logger, RelayPort } from '../ports.js';
import type { GithubClient } from './client.js';

export interface GithubContext {
  port: RelayPort;
  client: GithubClient;
  kv: KvStore;
  log: Logger;
}

export function splitRepo(repo: string): { owner: string; name: string } {
  const i = repo.indexOf('/');
  return { owner: repo.slice(0, i), name: repo.slice(i + 1) };
}

export function repoPath(repo: string): string {
  const { owner, name } = splitRepo(repo);
  return `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}`;
}

/** Same repository, ignoring case (GitHub names are case-insensitive). */
export function sameRepo(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
