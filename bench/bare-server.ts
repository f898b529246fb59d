/**
 * The limit of any HTTP API with the bench's client on this machine: a bare Node HTTP server
 * that answers the claim and the complete of a cycle with a constant, run as its own process
 * (as the relay is) by bench/side.ts.
 *
 * Invariants: reads each request body (as a real API must) and answers JSON of the relay's
 * shape; no work beyond that. Prints `listening on <url>` once ready; SIGTERM stops it.
 */
import { createServer } from 'node:http';

let n = 0;
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    n += 1;
    const body = req.url === '/api/claim' ? `{"outcome":{"intentId":"i${n}","status":"granted","taskId":"bare/pool#${n}","fencingToken":1}}` : `{"outcome":{"intentId":"i${n}","status":"applied"}}`;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => {
  const a = server.address();
  if (a && typeof a === 'object') console.log(`listening on http://127.0.0.1:${a.port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
