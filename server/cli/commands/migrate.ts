/**
 * `owp migrate --from DIR --to postgres://...`: copy a stopped relay's LevelDB pool into an
 * empty PostgreSQL database, audit chain verified on the copy before it is committed
 * (server/store/postgres-migrate.ts, docs/MIGRATE.md). Refusals (exit 1): `not-found`,
 * `locked`, `not-empty`, `audit-broken`, `unavailable`, `copy-mismatch`; each writes nothing.
 */
import { resolve } from 'node:path';
import { RefusedError, UsageError, flag, str } from '../args.js';
import type { Command } from '../command.js';

export const migrate: Command = {
  name: 'migrate',
  summary: 'copy a stopped relay\'s LevelDB pool into PostgreSQL (audit chain verified)',
  options: {
    from: { type: 'string', arg: 'DIR', help: 'the data folder of the relay to move (env OWP_DATA); stop that relay first' },
    to: { type: 'string', arg: 'URL', help: 'postgres://user:password@host:5432/db (env OWP_DATABASE_URL); an empty database' },
    replace: { type: 'boolean', help: 'delete what the database holds and copy DIR in its place (default: refuse a non-empty database)' },
  },
  details: [
    'One transaction: every key and value is copied, read back and compared, and the audit chain',
    'verified on the copy, before it is committed; a copy that does not verify writes nothing.',
    'DIR is only read. Then start relays with OWP_DATABASE_URL set to the same URL.',
  ].join('\n'),
  async run(ctx) {
    ctx.noMorePositionals(0);
    const from = str(ctx.p, 'from') ?? (ctx.env.OWP_DATA || undefined);
    const to = str(ctx.p, 'to') ?? (ctx.env.OWP_DATABASE_URL || undefined);
    if (!from) throw new UsageError('give the data folder to copy with --from DIR (or OWP_DATA)');
    if (!to) throw new UsageError('give the database to copy into with --to postgres://user:password@host:5432/db (or OWP_DATABASE_URL)');
    if (!/^postgres(ql)?:\/\/[^\s]+$/i.test(to)) throw new UsageError('--to must be a PostgreSQL URL: postgres://user:password@host:5432/db');
    const { migrateToPostgres, MigrateRefused } = await import('../../store/postgres-migrate.js');
    try {
      const s = await migrateToPostgres({ from: resolve(from), to, replace: flag(ctx.p, 'replace') });
      ctx.out.result(s, () =>
        [
          `Copied ${s.keys} keys (${(s.bytes / 1024).toFixed(0)} KiB) from ${s.from} into ${s.to}${s.replaced ? `, replacing ${s.replaced} keys it held` : ''}:`,
          `  ${s.tasks} tasks (${s.leases} leased), ${s.archived} archived, ${s.workers} workers, ${s.tokens} live tokens, ${s.documents} documents,`,
          `  ${s.audit.entries} audit entries: the chain verifies on the copy (head ${s.audit.headSeq}, ${s.audit.headHash.slice(0, 16)}...).`,
          `Read back before committing: sha256 ${s.sha256.slice(0, 16)}... on both sides. ${s.from} was not changed.`,
          'Start the relays with OWP_DATABASE_URL set to this database (docs/SCALING.md).',
        ].join('\n'),
      );
      return 0;
    } catch (e) {
      if (e instanceof MigrateRefused) throw new RefusedError(e.code, e.message);
      throw e;
    }
  },
};
