/**
 * Child process of ha-rotation.test.ts: one real relay on a shared PostgreSQL database
 * (argv: data folder, database URL, relay id, admin token, election lease in ms) that rotates the board and the
 * ledger at every compaction. Prints `listening on <url>`; on a stdin line `compact <doc>`
 * compacts that document (the arbiter rotates it) and prints `compacted <doc> <generation>`.
 */
import { createInterface } from 'node:readline';
import { startRelay } from '../../server/relay.js';
import { BOARD_DOC, LEDGER_DOC } from '../../shared/protocol.js';
import { quietLogger } from '../helpers/relay.js';

const [dataDir, databaseUrl, relayId, adminToken, lease] = process.argv.slice(2) as [string, string, string, string, string];
const relay = await startRelay({
  host: '127.0.0.1',
  port: 0,
  dataDir,
  databaseUrl,
  relayId,
  adminToken,
  electionLeaseMs: Number(lease),
  log: quietLogger,
  rateLimit: { ratePerSec: 1000, burst: 2000 },
  rotation: { docs: [BOARD_DOC, LEDGER_DOC], minGarbageBytes: 0, garbageFactor: 0 },
});
process.stdout.write(`listening on ${relay.url}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, doc] = line.trim().split(' ');
  if (cmd !== 'compact' || !doc) continue;
  await relay.docs.compact(doc);
  process.stdout.write(`compacted ${doc} ${relay.docs.generation(doc)}\n`);
}
