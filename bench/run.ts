/**
 * `npm run bench`: every benchmark of the project, one after the other, results written to
 * docs/BENCHMARKS.md. Each bench is also runnable alone (see its file).
 */
import { runRelayBench } from './relay.js';

await runRelayBench(!process.argv.includes('--no-write'));
process.exit(0);
