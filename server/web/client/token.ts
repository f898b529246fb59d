/**
 * Where the dashboard page keeps its token.
 *
 * Invariants:
 * - A token given in the URL fragment (`#token=...`, never sent to the server) is taken
 *   once and removed from the address bar, so it does not linger in history or screenshots.
 * - Stored in sessionStorage, or localStorage when the user asks to be remembered.
 *   Storage failures (private mode, disabled storage) are ignored: the token then lives
 *   in memory for this page only.
 */
const KEY = 'owp.dashboard.token';

function read(s: Storage | undefined): string | undefined {
  try {
    return s?.getItem(KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function tokenFromFragment(loc: Location, hist: History): string | undefined {
  const frag = loc.hash.replace(/^#/, '');
  if (!frag) return undefined;
  const params = new URLSearchParams(frag);
  const token = params.get('token')?.trim();
  if (!token) return undefined;
  params.delete('token');
  const rest = params.toString();
  try {
    hist.replaceState(null, '', loc.pathname + loc.search + (rest ? `#${rest}` : ''));
  } catch {
    /* keep going: the token still works */
  }
  return token;
}

export function loadToken(): string | undefined {
  return read(globalThis.sessionStorage) ?? read(globalThis.localStorage);
}

export function saveToken(token: string, remember: boolean): void {
  try {
    globalThis.sessionStorage?.setItem(KEY, token);
    if (remember) globalThis.localStorage?.setItem(KEY, token);
  } catch {
    /* memory only */
  }
}

export function forgetToken(): void {
  for (const s of [globalThis.sessionStorage, globalThis.localStorage]) {
    try {
      s?.removeItem(KEY);
    } catch {
      /* nothing to forget */
    }
  }
}
