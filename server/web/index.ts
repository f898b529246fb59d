/**
 * The web dashboard as a relay feature: `GET /` (page), `GET /app.js` (the browser client,
 * bundled from TypeScript by esbuild on first need and cached), `GET /app.css`.
 *
 * Invariants:
 * - These routes need no token: they serve only static code. All data comes from the
 *   token-protected API and event stream (or, with publicDashboard, the public stream).
 * - The page carries a strict Content-Security-Policy; nothing is fetched from elsewhere.
 * - A failed client build answers 500 with a JSON error (code `internal`) and a sentence,
 *   logs the cause, and is retried on the next request; the relay keeps running.
 */
import type { ServerResponse } from 'node:http';
import type { RelayFeature, RelayPort, Route, RouteContext } from '../ports.js';
import { buildClient, buildCss, cached, type Asset } from './bundle.js';
import { PAGE_HEADERS, pageHtml } from './page.js';

export interface DashboardOptions {
  publicDashboard: boolean;
}

function sendAsset(ctx: RouteContext, asset: Asset, type: string): void {
  const res: ServerResponse = ctx.res;
  const common = { ETag: asset.etag, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' };
  if (ctx.req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, common);
    res.end();
    return;
  }
  res.writeHead(200, { ...common, 'Content-Type': type, 'Content-Length': String(asset.body.length) });
  res.end(asset.body);
}

export function createDashboardFeature(port: RelayPort, opts: DashboardOptions): RelayFeature {
  const html = Buffer.from(pageHtml({ publicDashboard: opts.publicDashboard }), 'utf8');
  const client = cached(buildClient);
  const css = cached(buildCss);

  const serve = (get: () => Promise<Asset>, type: string, what: string) => async (ctx: RouteContext) => {
    let asset: Asset;
    try {
      asset = await get();
    } catch (err) {
      port.log.error(`dashboard: could not build ${what}`, { error: err instanceof Error ? err.message : String(err) });
      ctx.send(500, {
        error: { code: 'internal', message: `The dashboard ${what} could not be built; see the relay log, fix the cause and reload.` },
      });
      return;
    }
    sendAsset(ctx, asset, type);
  };

  const routes: Route[] = [
    {
      method: 'GET',
      path: '/',
      auth: 'none',
      handler(ctx) {
        ctx.res.writeHead(200, { ...PAGE_HEADERS, 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': String(html.length) });
        ctx.res.end(html);
      },
    },
    { method: 'GET', path: '/app.js', auth: 'none', handler: serve(client, 'text/javascript; charset=utf-8', 'script') },
    { method: 'GET', path: '/app.css', auth: 'none', handler: serve(css, 'text/css; charset=utf-8', 'stylesheet') },
  ];

  return {
    name: 'dashboard',
    routes,
    start() {
      // Warm the cache in the background so the first visitor does not wait for esbuild.
      client().catch((err) => port.log.warn('dashboard: client build failed, will retry on request', { error: String(err) }));
      css().catch(() => undefined);
    },
  };
}
