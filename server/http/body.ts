/**
 * Request bodies parsed with the protocol's published schemas (shared/api-spec.ts `API`,
 * whose bodies live in shared/wire.ts): the same schema objects docs/schemas/openapi.json is
 * generated from, so what the relay accepts and what the spec says cannot drift apart.
 *
 * Invariants:
 * - An unknown field is refused `invalid-field` naming it, the closest known field and the
 *   route's fields; never ignored.
 * - A refusal is `invalid-field` with the schema's sentence and `field` set to the path.
 * - Paths listed in `later` are left to the model's parse that follows (the intent, the
 *   task, the profile, the policy), which words their refusal as it always has; they are
 *   checked by the very same validators, so nothing the schema refuses gets through.
 */
import type { z } from 'zod';
import type { BodyRoute } from '../../shared/api-spec.js';
import { didYouMean } from '../../shared/did-you-mean.js';
import { OwpError } from '../../shared/errors.js';

/** True when `path` is one of `later` (`field`: the field and all below; `field.*`: below only). */
function deferred(path: readonly PropertyKey[], later: readonly string[]): boolean {
  const head = String(path[0] ?? '');
  return later.some((l) => (l.endsWith('.*') ? path.length > 1 && head === l.slice(0, -2) : head === l));
}

/**
 * Check a parsed JSON body against its route's schema; answers the body (its fields in
 * `later` not yet checked) or throws the refusal.
 */
export function parseBody<R extends BodyRoute>(raw: unknown, route: R, later: readonly string[] = []): z.input<R['body']> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new OwpError('invalid-field', 'The request body must be a JSON object.');
  const fields = Object.keys(route.body.shape);
  const unknown = Object.keys(raw).filter((k) => !fields.includes(k));
  if (unknown.length > 0) {
    const first = unknown[0]!;
    const known = fields.length ? `its fields are ${fields.join(', ')}` : 'it takes no fields (send {})';
    throw new OwpError(
      'invalid-field',
      `${unknown.length === 1 ? `${first} is not a field` : `${unknown.join(', ')} are not fields`} of ${route.noun}${didYouMean(first, fields)}; ${known}.`,
      first,
    );
  }
  const r = route.body.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues.find((i) => !deferred(i.path, later));
    if (issue) throw new OwpError('invalid-field', issue.message, issue.path.map(String).join('.') || undefined);
  }
  return raw as z.input<R['body']>;
}
