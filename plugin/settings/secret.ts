/**
 * Where the tokens live (the vault's token, and the admin token of a relay it hosts): Obsidian's secret storage when the app has one (1.11.4 and later),
 * data.json otherwise.
 *
 * Invariants:
 * - With secret storage, data.json never holds the token: `persisted()` blanks it, and a
 *   token found in data.json (written by an older version or by hand) is moved into the
 *   secret storage on load (`loadToken`), after which data.json is saved without it.
 * - The secret's id is per vault (secret storage is shared by every vault of the app, and
 *   two vaults may use different tokens): `owp-pool-token-<fingerprint of the vault id>`.
 * - Without secret storage nothing changes: the token stays in data.json, as documented.
 * - No Obsidian import: the plugin passes the app's store in (feature-detected).
 */
import type { OwpSettings } from './settings.js';

/** The subset of Obsidian's SecretStorage the plugin uses. */
export interface SecretStore {
  getSecret(id: string): string | null;
  setSecret(id: string, secret: string): void;
}

/** The app's secret storage, if this version of Obsidian has one. */
export function findSecretStore(app: unknown): SecretStore | undefined {
  const s = (app as { secretStorage?: Partial<SecretStore> } | undefined)?.secretStorage;
  return s && typeof s.getSecret === 'function' && typeof s.setSecret === 'function' ? (s as SecretStore) : undefined;
}

/**
 * Lowercase letters, digits and dashes, as secret storage requires. `token` is the vault's
 * token; `host` the admin token of the relay this vault hosts (plugin/host/).
 */
export function secretId(vaultId: string, kind: 'token' | 'host' = 'token'): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < vaultId.length; i++) h = Math.imul(h ^ vaultId.charCodeAt(i), 0x01000193) >>> 0;
  return `owp-pool-${kind}-${h.toString(36)}`;
}

export interface TokenPlace {
  store: SecretStore | undefined;
  id: string;
  /** The secret id of the hosted relay's admin token (`hostToken`). */
  hostId: string;
}

const FIELDS = [
  ['token', 'id'],
  ['hostToken', 'hostId'],
] as const;

/**
 * Put the token into `settings.token` (in memory). Returns true when data.json must be
 * saved again because a token was moved out of it into the secret storage.
 */
export function loadToken(settings: OwpSettings, place: TokenPlace): boolean {
  const store = place.store;
  if (!store) return false;
  let moved = false;
  for (const [field, id] of FIELDS) {
    if (settings[field] !== '') {
      store.setSecret(place[id], settings[field]);
      moved = true;
    } else settings[field] = store.getSecret(place[id]) ?? '';
  }
  return moved;
}

/** Keep changed tokens where they belong (secret storage when available). */
export function storeToken(settings: OwpSettings, place: TokenPlace): void {
  for (const [field, id] of FIELDS) place.store?.setSecret(place[id], settings[field]);
}

/** What goes into data.json: everything but the tokens when the secret storage holds them. */
export function persisted(settings: OwpSettings, place: TokenPlace): OwpSettings {
  return place.store ? { ...settings, token: '', hostToken: '' } : settings;
}
