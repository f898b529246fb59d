/**
 * Output helpers for the `owp` CLI: JSON mode, tables, refusals, a TTY progress bar and a
 * live status line.
 *
 * Invariants:
 * - With --json, stdout carries exactly one JSON document per command (errors too, as
 *   `{ "error": { code, message } }`); human text never mixes into it.
 * - Refusals always go to stderr as `owp: <code>: <message>` so scripts can grep the code;
 *   an optional second line `hint: <what to do>` follows.
 * - Progress bars and status lines are drawn only when the stream is a TTY.
 * - A refusal's code and message (which may come from a relay) pass `safeText`: no control
 *   character but line feeds, no token.
 */
import { safeText } from '../../shared/errors.js';

export interface Streams {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

export class Output {
  constructor(
    readonly json: boolean,
    readonly streams: Streams = { stdout: process.stdout, stderr: process.stderr },
  ) {}

  /** The command's result: JSON as is, or the human rendering. */
  result(value: unknown, human: () => string | string[]): void {
    if (this.json) this.streams.stdout.write(JSON.stringify(value, null, 2) + '\n');
    else {
      const h = human();
      const text = Array.isArray(h) ? h.join('\n') : h;
      if (text) this.streams.stdout.write(text.endsWith('\n') ? text : text + '\n');
    }
  }

  /** Human-only progress or log text (stderr in JSON mode so stdout stays one document). */
  info(text: string): void {
    (this.json ? this.streams.stderr : this.streams.stdout).write(text + '\n');
  }

  /** `hint`: what to do next, printed on its own line after the refusal (and as `error.hint` in JSON). */
  refused(code: string, message: string, details?: unknown, hint?: string): void {
    if (this.json) this.streams.stdout.write(JSON.stringify({ error: { code, message, ...(hint ? { hint } : {}), ...(details ? { details } : {}) } }, null, 2) + '\n');
    // The code and message may come from a relay: nothing in them may move the cursor,
    // colour the terminal or fake a line of its own.
    const shown = safeText(message, 100_000, { keepLines: true });
    this.streams.stderr.write(`owp: ${safeText(code, 64)}: ${shown}\n${hint ? `hint: ${hint}\n` : ''}`);
  }

  usage(message: string, hint: string): void {
    if (this.json) this.streams.stdout.write(JSON.stringify({ error: { code: 'usage', message } }) + '\n');
    this.streams.stderr.write(`owp: usage: ${message}\n${hint}\n`);
  }

  get tty(): boolean {
    return !this.json && Boolean(this.streams.stderr.isTTY);
  }

  progress(total: number, label: string): { tick(done: number): void; end(): void } {
    if (!this.tty || total < 20) return { tick() {}, end() {} };
    const width = 30;
    const draw = (done: number): void => {
      const filled = Math.round((done / total) * width);
      this.streams.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
    };
    draw(0);
    return { tick: draw, end: () => this.streams.stderr.write('\n') };
  }
}

/** Lines of a table with left-aligned columns. */
export function table(headers: string[], rows: (string | number | undefined)[][]): string[] {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === undefined ? '' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

export function when(ms: number | undefined): string {
  return ms === undefined ? '' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
