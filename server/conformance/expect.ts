/**
 * What the conformance checks share: the Requirement shape and small assertions that throw
 * an Error saying what the relay answered (the run reports it as the requirement's detail).
 *
 * Invariants: no check state here; every helper only reads what it is given.
 */
import type { z } from 'zod';
import * as Y from 'yjs';
import { ClaimAnswerSchema, ErrorBodySchema } from '../../shared/wire.js';
import { within, type Answer } from './client.js';
import type { RunContext } from './run.js';

export interface Requirement {
  id: string;
  level: 'MUST' | 'SHOULD';
  title: string;
  check(c: RunContext): Promise<void>;
}

export function fail(msg: string): never {
  throw new Error(msg);
}
export const said = (a: Answer) => `${a.status} ${JSON.stringify(a.json ?? {}).slice(0, 300)}`;

export function shape<T extends z.ZodType>(s: T, v: unknown, what: string): z.output<T> {
  const r = s.safeParse(v);
  if (!r.success) fail(`${what} does not match its schema: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return r.data;
}
export function expectStatus(a: Answer, status: number, what: string): void {
  if (a.status !== status) fail(`${what}: expected ${status}, got ${said(a)}`);
}
export function refusal(a: Answer, status: number, codes: readonly string[], what: string): z.output<typeof ErrorBodySchema> {
  const e = shape(ErrorBodySchema, a.json, `${what}: the error body`);
  if (a.status !== status || !codes.includes(e.error.code)) fail(`${what}: expected ${status} ${codes.join(' or ')}, got ${said(a)}`);
  return e;
}
export const leaseOf = (a: Answer) => shape(ClaimAnswerSchema, a.json, 'the claim answer');

export async function closeOf(c: RunContext, doc: string, token: string | undefined, send?: (d: Y.Doc) => Uint8Array): Promise<number> {
  const s = c.sockets.connect(doc, token);
  if (send) {
    await within(s.synced, `${doc} to sync`);
    s.sendUpdate(send(s.doc));
  }
  const closed = await within(s.closed, `the relay to close the socket on ${doc}`);
  return closed.code;
}

/** A Yjs update that adds `key` to the root map `map` of a copy of `doc`. */
export function addition(doc: Y.Doc, map: string, key: string, value: unknown): Uint8Array {
  const before = Y.encodeStateVector(doc);
  const copy = new Y.Doc();
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(doc));
  copy.getMap(map).set(key, value);
  return Y.encodeStateAsUpdate(copy, before);
}

