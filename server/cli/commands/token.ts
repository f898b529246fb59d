/** `owp token create|list|revoke` (admin). */
import { isRole, ROLES } from '../../../shared/protocol.js';
import { UsageError, str } from '../args.js';
import type { Command } from '../command.js';
import { table, when } from '../output.js';

interface TokenInfo {
  id: string;
  role: string;
  workerId?: string;
  name?: string;
  createdAt?: number;
  revokedAt?: number;
}

export const tokenCreate: Command = {
  name: 'token create',
  summary: 'create an API token (printed once; the relay keeps only its hash)',
  options: {
    role: { type: 'string', arg: 'ROLE', help: 'admin | maintainer | worker | viewer (required)' },
    worker: { type: 'string', arg: 'ID', help: 'worker id the token acts for (required for --role worker)' },
    name: { type: 'string', arg: 'TEXT', help: 'a label to recognise the token by' },
  },
  async run(ctx) {
    ctx.noMorePositionals(0);
    const role = str(ctx.p, 'role');
    if (!isRole(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
    const workerId = str(ctx.p, 'worker');
    if (role === 'worker' && !workerId) throw new UsageError('--role worker needs --worker ID (the worker this token acts for)');
    if (role !== 'worker' && workerId) throw new UsageError('--worker is only for --role worker');
    const name = str(ctx.p, 'name');
    const r = await ctx.client().post<TokenInfo & { token: string }>('/api/tokens', { role, ...(workerId ? { workerId } : {}), ...(name ? { name } : {}) });
    ctx.out.result(r, () => [
      r.token,
      '',
      `Token ${r.id} (${r.role}${r.workerId ? ` for worker ${r.workerId}` : ''}). It is shown once: store it now (e.g. OWP_TOKEN).`,
    ]);
    return 0;
  },
};

export const tokenList: Command = {
  name: 'token list',
  summary: 'list tokens (ids, roles, workers; never the secrets)',
  async run(ctx) {
    ctx.noMorePositionals(0);
    const r = await ctx.client().get<{ tokens: TokenInfo[] }>('/api/tokens');
    ctx.out.result(r, () =>
      table(
        ['ID', 'ROLE', 'WORKER', 'NAME', 'CREATED', 'REVOKED'],
        r.tokens.map((t) => [t.id, t.role, t.workerId, t.name, when(t.createdAt), when(t.revokedAt)]),
      ),
    );
    return 0;
  },
};

export const tokenRevoke: Command = {
  name: 'token revoke',
  args: 'ID',
  summary: 'revoke a token now (its open sockets and event streams close)',
  async run(ctx) {
    const id = ctx.positional(0, 'token ID (see `owp token list`)');
    ctx.noMorePositionals(1);
    const r = await ctx.client().del<{ id: string; revokedAt: number }>(`/api/tokens/${encodeURIComponent(id)}`);
    ctx.out.result(r, () => `Revoked token ${r.id}.`);
    return 0;
  },
};
