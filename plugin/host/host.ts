/**
 * Runs the relay inside Obsidian while hosting is on: loads the relay chunk from the
 * plugin's folder (desktop only), starts it, restarts it when its address, port or data
 * folder change, and stops it on unload. No Obsidian import: the environment comes in.
 *
 * Invariants:
 * - Nothing is loaded or started unless hosting is on and the environment is a desktop
 *   with a file-system vault (`env()` answers); mobile never reaches require().
 * - At most one relay per plugin; `ensure` and `stop` run one after another, so a quick
 *   toggle never leaves two relays or a port taken.
 * - Every failure is a sentence a person can act on (`problem`), never a throw.
 */
import type { HostSettings } from '../settings/settings.js';
import { chunkProblem, hostDataDir, RELAY_CHUNK, type HostedRelay, type HostLog, type RelayChunk } from './hosted.js';

export interface HostEnv {
  /** Absolute path of the plugin's folder (where main.js and owp-relay.js are). */
  pluginDir: string;
  /** Node's require (Electron's, on desktop). */
  load(file: string): unknown;
}

export interface HostDeps {
  /** The desktop environment, or undefined (mobile, or a vault that is not a folder). */
  env(): HostEnv | undefined;
  pluginVersion: string;
  log: HostLog;
}

export interface HostResult {
  relay?: HostedRelay;
  /** The relay was (re)started by this call. */
  started?: boolean;
  /** The admin token, in clear, when this start created it (first start on empty data). */
  createdAdminToken?: string;
  problem?: string;
}

export class Host {
  private relay: HostedRelay | undefined;
  private key = '';
  private queue: Promise<unknown> = Promise.resolve();
  /** For the settings tab: where the relay listens, or why it does not. */
  state = 'Not running.';

  constructor(private deps: HostDeps) {}

  get running(): HostedRelay | undefined {
    return this.relay;
  }

  /** Make the running relay match the settings (start, restart or stop it). */
  ensure(s: HostSettings): Promise<HostResult> {
    return this.serial(() => this.apply(s));
  }

  stop(): Promise<void> {
    return this.serial(() => this.halt());
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async halt(): Promise<void> {
    const r = this.relay;
    this.relay = undefined;
    this.key = '';
    this.state = 'Not running.';
    await r?.close();
  }

  private async apply(s: HostSettings): Promise<HostResult> {
    if (!s.enabled) {
      await this.halt();
      return {};
    }
    const env = this.deps.env();
    if (!env) {
      await this.halt();
      this.state = 'Hosting needs Obsidian on a desktop computer.';
      return {};
    }
    const dataDir = hostDataDir(env.pluginDir, s.dataDir);
    const key = JSON.stringify([s.address, s.port, dataDir]);
    if (this.relay && key === this.key) return { relay: this.relay };
    await this.halt();
    const chunk = this.loadChunk(env);
    if (typeof chunk === 'string') return this.failed(chunk);
    try {
      const relay = await chunk.startHostedRelay({ dataDir, address: s.address, port: s.port, log: this.deps.log });
      this.relay = relay;
      this.key = key;
      this.state = `Listening at ${relay.url}, data in ${dataDir}.`;
      return { relay, started: true, ...(relay.createdAdminToken ? { createdAdminToken: relay.createdAdminToken } : {}) };
    } catch (e) {
      return this.failed(startProblem(e, s, dataDir));
    }
  }

  private failed(problem: string): HostResult {
    this.state = `Not running: ${problem}`;
    return { problem };
  }

  private loadChunk(env: HostEnv): RelayChunk | string {
    let mod: unknown;
    try {
      mod = env.load(`${env.pluginDir}/${RELAY_CHUNK}`);
    } catch (e) {
      const missing = (e as { code?: string }).code === 'MODULE_NOT_FOUND';
      return missing
        ? `${RELAY_CHUNK} is missing from the plugin's folder (${env.pluginDir}). It comes with the plugin's release, next to main.js: copy it there, then turn hosting on again.`
        : `${RELAY_CHUNK} could not be loaded (${message(e)}). Copy it again from the plugin's release ${this.deps.pluginVersion}.`;
    }
    const problem = chunkProblem(mod, this.deps.pluginVersion);
    return problem ? `${problem}: copy ${RELAY_CHUNK} from the plugin's release ${this.deps.pluginVersion} into ${env.pluginDir}.` : (mod as RelayChunk);
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function startProblem(e: unknown, s: HostSettings, dataDir: string): string {
  const code = (e as { code?: string }).code;
  if (code === 'EADDRINUSE') return `port ${s.port} on ${s.address} is taken by another program. Choose another port in the settings.`;
  if (code === 'EADDRNOTAVAIL') return `${s.address} is not an address of this computer. Use 127.0.0.1, 0.0.0.0 or one of this computer's addresses.`;
  if (code === 'EACCES') return `this computer does not allow listening on port ${s.port}. Choose a port above 1024.`;
  if (code === 'locked') return `another relay uses the data folder ${dataDir} (this vault open twice?). Close it first, or choose another data folder.`;
  return `the relay did not start (${message(e)}).`;
}
