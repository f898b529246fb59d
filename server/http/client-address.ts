/**
 * The client's address: the socket's peer, or (behind a trusted reverse proxy) the address
 * it forwards in X-Forwarded-For. The brakes (refused tokens), the rate limits of requests
 * without a token, the event-stream caps and the logs all key on it.
 *
 * Invariants:
 * - Default (OWP_TRUST_PROXY unset): trust nothing; X-Forwarded-For is ignored, so a
 *   client cannot pick its own brake by forging the header.
 * - `OWP_TRUST_PROXY=N`: the last N hops are trusted proxies (1: one Caddy or nginx in
 *   front); the address N hops back in X-Forwarded-For is the client.
 * - `OWP_TRUST_PROXY=10.0.0.0/8,172.16.0.0/12,loopback`: peers in these ranges are
 *   trusted; the client is the nearest untrusted address (proxy-addr's rule, as Express).
 * - An address taken from the header that is not an IP address falls back to the socket's:
 *   a garbage header never becomes a key or a log field.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import proxyAddr from 'proxy-addr';

export type AddressOf = (req: IncomingMessage) => string | undefined;

/** Trust nothing: the address of the socket itself. */
export const socketAddress: AddressOf = (req) => req.socket.remoteAddress;

type Trust = (addr: string, i: number) => boolean;

/**
 * Parse OWP_TRUST_PROXY: undefined/empty/0 (trust nothing), a hop count, or a comma-separated
 * list of addresses, CIDR ranges and the names loopback, linklocal, uniquelocal. Throws
 * `must be ...` (the config loader puts the variable's name in front) for anything else.
 */
export function parseTrustProxy(text: string | undefined): Trust | undefined {
  const v = (text ?? '').trim();
  if (v === '' || v === '0') return undefined;
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    if (hops > 32) throw new Error('must be the number of proxies in front of the relay (usually 1, at most 32)');
    return (_addr, i) => i < hops;
  }
  const parts = v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (parts.some((p) => /^(true|yes|on|all|\*)$/i.test(p))) {
    throw new Error('must not trust every peer (any client could forge its address): give the number of proxies in front of the relay (such as 1) or their address ranges');
  }
  try {
    return proxyAddr.compile(parts);
  } catch {
    throw new Error('must be a hop count (such as 1) or addresses and ranges such as 10.0.0.0/8,loopback');
  }
}

/** The client address rule for a trust setting (undefined: the socket's address). */
export function clientAddress(trust: Trust | undefined): AddressOf {
  if (!trust) return socketAddress;
  const known = new WeakMap<IncomingMessage, string | undefined>();
  return (req) => {
    if (known.has(req)) return known.get(req);
    const socket = req.socket.remoteAddress;
    let addr = socket;
    if (socket && req.headers['x-forwarded-for'] !== undefined) {
      const forwarded = proxyAddr(req, trust);
      if (isIP(forwarded)) addr = forwarded;
    }
    known.set(req, addr);
    return addr;
  };
}
