/**
 * Value parsers for configuration fields: zod schemas that take a value as it comes from a
 * flag or an environment variable (always a string) or from owp.config.yaml (a YAML scalar),
 * and give the typed value, or fail with a sentence that says what is expected.
 *
 * Invariants:
 * - Every parser accepts both forms: `"8787"` and `8787`, `"true"` and `true`.
 * - A failure message never repeats the value (the loader quotes it, bounded and masked
 *   for secrets); it names what would be accepted.
 * - Sizes take a unit (`64MiB`, `512KiB`, `1MB`, or plain bytes); durations take one
 *   (`30s`, `250ms`, `7d`, or plain milliseconds).
 */
import * as z from 'zod';
import { parseTrustProxy } from '../http/client-address.js';

const scalar = z.union([z.string(), z.number(), z.boolean()], { error: 'must be a single value (text, number or true/false), not a list or a section' });
const asText = scalar.transform((v) => String(v).trim());

/** Text of at least `min` characters. */
export const text = (min = 1) => asText.pipe(z.string().min(min, { error: min > 1 ? `must be at least ${min} characters` : 'must not be empty' }));

/** An integer from `min` to `max`. */
export const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  asText.pipe(
    z
      .string()
      .regex(/^-?\d+$/, { error: `must be a whole number from ${min} to ${max}` })
      .transform(Number)
      .pipe(z.number().min(min, { error: `must be a whole number from ${min} to ${max}` }).max(max, { error: `must be a whole number from ${min} to ${max}` })),
  );

/** A number greater than 0 (a rate: per second). */
export const positive = () =>
  asText.pipe(
    z
      .string()
      .regex(/^\d+(\.\d+)?$/, { error: 'must be a number greater than 0, such as 50 or 0.5' })
      .transform(Number)
      .pipe(z.number().positive({ error: 'must be a number greater than 0, such as 50 or 0.5' })),
  );

const TRUE = /^(1|true|yes|on)$/i;
const FALSE = /^(0|false|no|off)$/i;
/** true / false (also 1/0, yes/no, on/off). */
export const bool = () =>
  asText.pipe(
    z
      .string()
      .refine((s) => TRUE.test(s) || FALSE.test(s), { error: 'must be true or false (also 1/0, yes/no, on/off)' })
      .transform((s) => TRUE.test(s)),
  );

/** An http(s) URL (or another scheme list, e.g. postgres). */
export const url = (schemes: string[] = ['http', 'https'], example = 'https://example.com/hook') =>
  asText.pipe(
    z.string().refine(
      (s) => {
        try {
          return schemes.includes(new URL(s).protocol.replace(/:$/, ''));
        } catch {
          return false;
        }
      },
      { error: `must be a ${schemes.join(' or ')} URL, such as ${example}` },
    ),
  );

/** One of a fixed list of words. */
export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  asText.pipe(z.string().transform((s) => s.toLowerCase()).pipe(z.enum(values, { error: `must be one of ${values.join(', ')}` })));

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };
/** A number of bytes, `min` or more: `1048576`, `512KiB`, `64MiB`, `1MB`. */
export const bytes = (min = 1) =>
  asText.pipe(
    z.string().transform((s, ctx) => {
      const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(s);
      const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
      const n = m && unit ? Math.round(Number(m[1]) * unit) : NaN;
      if (!Number.isSafeInteger(n) || n < min) {
        ctx.addIssue({ code: 'custom', message: `must be a size of at least ${min} bytes, such as 1048576, 512KiB or 64MiB` });
        return z.NEVER;
      }
      return n;
    }),
  );

const TIME_UNITS: Record<string, number> = { '': 1, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** A duration in milliseconds, `min` or more: `30000`, `30s`, `250ms`, `5m`, `7d`. */
export const duration = (min = 1) =>
  asText.pipe(
    z.string().transform((s, ctx) => {
      const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(s);
      const unit = m ? TIME_UNITS[m[2]!.toLowerCase()] : undefined;
      const n = m && unit ? Math.round(Number(m[1]) * unit) : NaN;
      if (!Number.isSafeInteger(n) || n < min) {
        ctx.addIssue({ code: 'custom', message: `must be a duration of at least ${min} ms, such as 30s, 250ms, 5m or 7d` });
        return z.NEVER;
      }
      return n;
    }),
  );

/** OWP_TRUST_PROXY: a hop count or addresses and ranges (server/http/client-address.ts). */
export const trustProxy = () =>
  text().pipe(
    z.string().superRefine((s, ctx) => {
      try {
        parseTrustProxy(s);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
      }
    }),
  );
