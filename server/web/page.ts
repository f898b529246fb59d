/**
 * The dashboard page shell (static HTML) and its security headers.
 *
 * Invariants:
 * - The HTML is a constant except for one boolean; no request data is ever echoed into it.
 * - The page loads only same-origin assets and runs under a strict Content-Security-Policy
 *   (no inline script or style, nothing from elsewhere).
 */

export const CSP = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

export const PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cache-Control': 'no-store',
};

export function pageHtml(opts: { publicDashboard: boolean }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>OWP Pool dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app.css">
<script type="module" src="/app.js"></script>
</head>
<body data-public="${opts.publicDashboard ? '1' : '0'}">
<a class="owp-skip" href="#owp-root">Skip to the dashboard</a>
<header class="owp-page-header">
<h1>OWP Pool</h1>
<p id="owp-status" class="owp-status" role="status" aria-live="polite" data-status="connecting">Connecting to the relay…</p>
<button type="button" id="owp-forget" class="owp-button" hidden>Forget token</button>
</header>
<main id="owp-main">
<form id="owp-token-form" class="owp-token-form" hidden>
<h2>Open the dashboard</h2>
<p>Paste an OWP token (a viewer token is enough). It stays in this browser and is sent only to this relay.</p>
<label for="owp-token-input">Token</label>
<input id="owp-token-input" name="token" type="password" autocomplete="off" spellcheck="false" required placeholder="owp_…">
<label class="owp-check"><input id="owp-token-remember" type="checkbox"> Remember on this device</label>
<button type="submit" class="owp-button">Open</button>
<p id="owp-token-error" class="owp-token-error" role="alert"></p>
</form>
<div id="owp-root" class="owp-dashboard" tabindex="-1"></div>
</main>
<noscript><p>This dashboard needs JavaScript to show live data.</p></noscript>
</body>
</html>
`;
}
