/** `owp conformance --url URL --token ADMIN_TOKEN [--only ID,...]`: the protocol's conformance suite. */
import { RefusedError, str } from '../args.js';
import type { Command } from '../command.js';
import { runConformance } from '../../conformance/run.js';

export const conformance: Command = {
  name: 'conformance',
  summary: 'check a relay against the numbered requirements of the protocol (docs/PROTOCOL.md)',
  options: {
    only: { type: 'string', arg: 'IDS', help: 'run only these requirements (comma separated, e.g. OWP-LEASE-3,OWP-DOC-2)' },
  },
  details: [
    'Needs an admin token: the run makes its own repo policy (owp-conformance/run-<id>), three',
    'tasks, workers and tokens, and cancels the tasks and revokes the tokens when it ends.',
    'Exit 0 when every requirement passes, 1 otherwise. --json prints the whole report.',
  ].join('\n'),
  async run(ctx) {
    ctx.noMorePositionals(0);
    ctx.client(); // the same URL and token checks as every command
    const only = str(ctx.p, 'only')?.split(',').map((s) => s.trim()).filter(Boolean);
    const report = await runConformance({ url: ctx.url, adminToken: ctx.token!, only });
    if (report.results.length === 0 && report.notes.length > 0) throw new RefusedError('upstream-error', report.notes.join('; '));
    ctx.out.result(report, () => [
      `OWP conformance of ${report.url} (protocol ${report.protocol ?? 'unknown'}, relay ${report.relayVersion ?? 'unknown'})`,
      ...report.results.map((r) => `${r.ok ? 'pass' : 'FAIL'}  ${r.id.padEnd(12)} ${r.level.padEnd(6)} ${r.title}${r.ok ? '' : `\n      ${r.detail}`}`),
      ...report.notes.map((n) => `note: ${n}`),
      `${report.passed} passed, ${report.failed} failed`,
    ]);
    return report.failed === 0 && report.notes.length === 0 ? 0 : 1;
  },
};
