import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardFeature } from '../../server/web/index.js';
import { startTestRelay, type TestRelay } from '../helpers/relay.js';

describe('dashboard feature on a real relay', () => {
  let r: TestRelay;
  beforeAll(async () => {
    r = await startTestRelay({ features: (port) => [createDashboardFeature(port, { publicDashboard: false })] });
  });
  afterAll(async () => {
    await r?.close();
  });

  it('serves the page without a token, under a strict Content-Security-Policy', async () => {
    const res = await fetch(`${r.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy')!;
    for (const d of ["default-src 'self'", "connect-src 'self'", "img-src 'self' data:", "style-src 'self'"]) expect(csp).toContain(d);
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await res.text();
    expect(html).toContain('<h1>OWP Pool</h1>');
    expect(html).toContain('role="status"');
    expect(html).toContain('aria-live="polite"');
    expect(html).toContain('data-public="0"');
    expect(html).not.toMatch(/<script>(?!<\/script>)|style="/); // no inline script or style
  });

  it('bundles the client from TypeScript once and answers 304 to a matching ETag', async () => {
    const res = await fetch(`${r.url}/app.js`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
    const js = await res.text();
    expect(js.length).toBeGreaterThan(1000);
    expect(js).toContain('/api/events');
    expect(js).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML/);
    expect(js).not.toMatch(/cdn\.|unpkg\.com|jsdelivr/); // nothing fetched from elsewhere
    const etag = res.headers.get('etag')!;
    const again = await fetch(`${r.url}/app.js`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
  });

  it('serves the shared dashboard CSS with the page CSS', async () => {
    const res = await fetch(`${r.url}/app.css`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/css/);
    const css = await res.text();
    expect(css).toContain('.owp-dashboard');
    expect(css).toContain('prefers-color-scheme: dark');
    expect(css).toContain('.owp-status');
  });

  it('keeps the data behind a token: the event stream refuses a request without one', async () => {
    const res = await fetch(`${r.url}/api/events`);
    expect(res.status).toBe(401);
    const body = await res.json();
    expect(body.error.code).toBe('unauthorized');
  });
});

describe('public dashboard', () => {
  it('marks the page public so it connects without a token', async () => {
    const r = await startTestRelay({ publicDashboard: true, features: (port) => [createDashboardFeature(port, { publicDashboard: true })] });
    try {
      const html = await (await fetch(`${r.url}/`)).text();
      expect(html).toContain('data-public="1"');
    } finally {
      await r.close();
    }
  });
});
