/**
 * Bounded, token-free text for failure reasons: what the relay stores and shows to
 * maintainers must never carry a contributor's credentials.
 *
 * Invariants:
 * - redact() replaces anything that looks like a credential: GitHub tokens (ghp_, gho_,
 *   ghu_, ghs_, ghr_, github_pat_), OpenAI/Anthropic-style keys (sk-...), AWS access key
 *   ids, Bearer/token headers, `password=`/`token=`/`secret=`-style assignments, URL
 *   userinfo (https://user:pass@host), and long hex/base64 runs (40+ characters).
 * - tail() keeps the last `lines` non-empty lines and at most `chars` characters.
 */
const PATTERNS: [RegExp, string][] = [
  [/\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/g, '[redacted]'],
  [/\bsk-[A-Za-z0-9_-]{16,}/g, '[redacted]'],
  [/\bAKIA[0-9A-Z]{16}\b/g, '[redacted]'],
  [/\b(Bearer|token|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 [redacted]'],
  [/\b([A-Za-z_]*(?:token|secret|password|passwd|api[_-]?key|auth)[A-Za-z_]*)\s*([=:])\s*("[^"]*"|'[^']*'|\S+)/gi, '$1$2[redacted]'],
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s:@]+(?::[^/\s@]*)?@/gi, '$1[redacted]@'],
  [/\b[A-Za-z0-9+/_-]{40,}={0,2}/g, '[redacted]'],
];

export function redact(text: string): string {
  let out = text;
  for (const [re, by] of PATTERNS) out = out.replace(re, by);
  return out;
}

/** The last `lines` non-empty lines of `text`, at most `chars` characters (cut at the front). */
export function tail(text: string, lines = 10, chars = 1000): string {
  const kept = text
    .split(/\r?\n/)
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '')
    .slice(-lines)
    .join('\n');
  return kept.length > chars ? '…' + kept.slice(kept.length - chars + 1) : kept;
}

/** Keeps the last `max` characters written to it (a tool's stderr as it runs). */
export class TailBuffer {
  private text = '';
  constructor(private readonly max = 16 * 1024) {}
  push(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.max * 2) this.text = this.text.slice(-this.max);
  }
  value(): string {
    return this.text.slice(-this.max);
  }
}
