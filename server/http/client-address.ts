/**
 * The client's address: the socket's peer, or (behind a trusted reverse proxy) the address
 * it forwards in X-Forwarded-For. Used by the brakes, the rate limits and the logs.
 */
import type { IncomingMessage } from 'node:http';

export type AddressOf = (req: IncomingMessage) => string | undefined;

/** Trust nothing: the address of the socket itself. */
export const socketAddress: AddressOf = (req) => req.socket.remoteAddress;
