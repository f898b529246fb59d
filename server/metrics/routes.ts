/**
 * `GET /metrics` (Prometheus text) and `GET /readyz` (readiness; `/healthz` is liveness).
 *
 * Invariants:
 * - /metrics needs the metrics token (OWP_METRICS_TOKEN) or an admin token, as
 *   `Authorization: Bearer`, unless OWP_METRICS_PUBLIC=1. No token: 401 `unauthorized`;
 *   a live token of another role: 403 `not-authorized`. A wrong token costs the caller's
 *   address like any refused token (the relay's AuthGuard brake).
 * - The metrics token is compared in constant time, by its SHA-256.
 * - /readyz answers 200 only while the relay serves: 503 while starting (`starting`; until
 *   the router serves, ../http/starting.ts answers it) or stopping (`shutting-down`), so a proxy or orchestrator stops sending traffic before the relay
 *   goes away. /healthz keeps answering 200 until the process stops.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { OwpError } from '../../shared/errors.js';
import type { AuthGuard } from '../auth/guard.js';
import { tokenFromRequest } from '../auth/index.js';
import type { AddressOf } from '../http/client-address.js';
import { refusal } from '../http/router.js';
import { STARTING_MESSAGE } from '../http/starting.js';
import type { Route } from '../ports.js';
import type { MetricsRegistry } from './registry.js';

export type Phase = 'starting' | 'serving' | 'stopping';

export interface ObservabilityOptions {
  metrics: MetricsRegistry;
  guard: AuthGuard;
  addressOf: AddressOf;
  phase(): Phase;
  /** OWP_METRICS_PUBLIC: /metrics without a token. */
  metricsPublic?: boolean;
  /** OWP_METRICS_TOKEN: a token that may read /metrics (and nothing else). */
  metricsToken?: string;
}

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function observabilityRoutes(o: ObservabilityOptions): Route[] {
  const metricsDigest = o.metricsToken ? sha256(o.metricsToken) : undefined;
  const isMetricsToken = (t: string | undefined) => t !== undefined && metricsDigest !== undefined && timingSafeEqual(sha256(t), metricsDigest);
  return [
    {
      method: 'GET',
      path: '/metrics',
      auth: 'none',
      async handler(ctx) {
        if (!o.metricsPublic) {
          const token = tokenFromRequest(ctx.req);
          if (!isMetricsToken(token)) {
            const check = o.guard.check(token, o.addressOf(ctx.req));
            if (!check.ok) {
              throw check.code === 'unauthorized' && token === undefined
                ? new OwpError('unauthorized', 'GET /metrics needs the metrics token (OWP_METRICS_TOKEN) or an admin token as Authorization: Bearer; or set OWP_METRICS_PUBLIC=1.')
                : refusal(check);
            }
            if (check.principal.role !== 'admin') {
              throw new OwpError('not-authorized', `A ${check.principal.role} token may not read /metrics; use the metrics token (OWP_METRICS_TOKEN) or an admin token.`);
            }
          }
        }
        const { contentType, text } = await o.metrics.scrape();
        ctx.res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
        ctx.res.end(ctx.req.method === 'HEAD' ? undefined : text);
      },
    },
    {
      method: 'GET',
      path: '/readyz',
      auth: 'none',
      handler(ctx) {
        const phase = o.phase();
        if (phase === 'serving') return ctx.send(200, { ready: true, phase });
        if (phase === 'starting') return ctx.send(503, { ready: false, phase, error: { code: 'starting', message: STARTING_MESSAGE } });
        ctx.send(503, { ready: false, phase, error: { code: 'shutting-down', message: 'The relay is shutting down; send traffic to another relay.' } });
      },
    },
  ];
}
