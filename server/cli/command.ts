/**
 * What a CLI command is, and the context it runs in.
 *
 * Invariants:
 * - A command returns its exit code (0 done, 1 refused, 2 bad usage) or throws UsageError /
 *   RefusedError, which main.ts renders; it never calls process.exit itself (except the
 *   worker loop's signal handler, after releasing its lease).
 * - The token is read from --token or OWP_TOKEN only, and sent only to the relay.
 */
import { RefusedError, UsageError, str, type Parsed } from './args.js';
import { RelayClient } from './client.js';
import { LeaseBook, owpHome } from './lease-book.js';
import type { Output } from './output.js';
import type { CommandSpec } from './help.js';
import type { Role } from '../../shared/protocol.js';

export interface Me {
  role: Role;
  workerId?: string;
  tokenId?: string;
  name?: string;
}

export interface Command extends CommandSpec {
  run(ctx: Context): Promise<number>;
}

export const DEFAULT_URL = 'http://127.0.0.1:8787';

export class Context {
  private clientCache?: RelayClient;
  /** Claims and lease actions over the intent channel when the relay offers it (`owp worker run`); set before the first client() call. */
  intents = false;
  private meCache?: Promise<Me>;

  constructor(
    readonly p: Parsed,
    readonly out: Output,
    readonly env: NodeJS.ProcessEnv,
    readonly argv: string[],
  ) {}

  get url(): string {
    return (str(this.p, 'url') ?? this.env.OWP_URL ?? DEFAULT_URL).replace(/\/+$/, '');
  }

  get token(): string | undefined {
    return str(this.p, 'token') ?? (this.env.OWP_TOKEN || undefined);
  }

  get home(): string {
    return owpHome(this.env);
  }

  now(): number {
    return Date.now();
  }

  client(): RelayClient {
    if (!/^https?:\/\/[^/\s]/i.test(this.url))
      throw new UsageError(`the relay URL must start with http:// or https://, e.g. ${DEFAULT_URL}; got "${this.url}" (from ${str(this.p, 'url') !== undefined ? '--url' : 'OWP_URL'})`);
    if (!this.token)
      throw new UsageError('no token: pass --token TOKEN or set OWP_TOKEN (an admin makes one with `owp token create`)');
    return (this.clientCache ??= new RelayClient({ url: this.url, token: this.token, intents: this.intents }));
  }

  /** Let go of what the command opened (the intent channel's socket keeps a process alive). */
  close(): void {
    this.clientCache?.close();
  }

  me(): Promise<Me> {
    return (this.meCache ??= this.client().get<Me>('/api/me'));
  }

  async workerId(): Promise<string> {
    const me = await this.me();
    if (me.role !== 'worker' || !me.workerId)
      throw new RefusedError('not-authorized', `this command needs a worker token; yours has role ${me.role} (create one with \`owp token create --role worker --worker ID\`)`, 403);
    return me.workerId;
  }

  async leaseBook(): Promise<LeaseBook> {
    return new LeaseBook(this.home, this.url, await this.workerId());
  }

  positional(i: number, name: string): string {
    const v = this.p.positionals[i];
    if (v === undefined || v === '') throw new UsageError(`missing ${name}`);
    return v;
  }

  noMorePositionals(n: number): void {
    if (this.p.positionals.length > n) throw new UsageError(`unexpected argument "${this.p.positionals[n]}"`);
  }
}
